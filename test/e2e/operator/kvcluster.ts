// KVCluster helpers: create from a manifest, read status, wait for a
// condition, and a one-line summary of the status for failure messages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { repoRoot } from '../env/config.js';
import { eventually } from './util.js';

export const kvcPath = (ns: string, name = ''): string => `/apis/kvorum.io/v1alpha1/namespaces/${ns}/kvclusters${name ? `/${name}` : ''}`;

/** The minimal example shipped in manifests/examples. */
export function minimalExample(): KubeObject {
  return loadYaml(readFileSync(join(repoRoot, 'manifests', 'examples', 'minimal.yaml'), 'utf8')) as KubeObject;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export const condition = (kvc: KubeObject, type: string): Condition | undefined => ((kvc.status?.conditions ?? []) as Condition[]).find((c) => c.type === type);

export function summary(kvc: KubeObject | undefined): string {
  if (!kvc) return '(no KVCluster)';
  const s = kvc.status ?? {};
  const conds = ((s.conditions ?? []) as Condition[]).map((c) => `${c.type}=${c.status}(${c.reason ?? ''}${c.message ? `: ${c.message.slice(0, 120)}` : ''})`).join(' ');
  const members = ((s.members ?? []) as { name: string; role?: string; healthy?: boolean }[]).map((m) => `${m.name}:${m.role ?? '?'}${m.healthy ? '' : ':unhealthy'}`).join(',');
  return `gen ${kvc.metadata.generation} observed ${s.observedGeneration} phase ${s.phase} ready ${s.readyReplicas} leader ${s.leader} members [${members}] ${conds}`;
}

/**
 * Available=True for the current generation, with `replicas` members in
 * status.members, all healthy, exactly one leader, no learner.
 */
export function availableProblem(kvc: KubeObject, replicas: number): string | undefined {
  const s = kvc.status ?? {};
  if (s.observedGeneration !== kvc.metadata.generation) return `observedGeneration ${s.observedGeneration} != generation ${kvc.metadata.generation}`;
  const available = condition(kvc, 'Available');
  if (available?.status !== 'True') return `Available is ${available?.status ?? 'missing'}`;
  const members = (s.members ?? []) as { name: string; role?: string; healthy?: boolean }[];
  if (members.length !== replicas) return `${members.length} members in status, want ${replicas}`;
  if (!members.every((m) => m.healthy === true)) return 'not every member healthy';
  if (members.filter((m) => m.role === 'leader').length !== 1) return 'not exactly one leader';
  if (members.some((m) => m.role === 'learner')) return 'a learner in status.members';
  if (s.readyReplicas !== replicas) return `readyReplicas ${s.readyReplicas}`;
  return undefined;
}

export async function waitAvailable(kube: KubeClient, ns: string, name: string, replicas: number, timeoutMs = 240_000, extra?: () => Promise<string>): Promise<KubeObject> {
  let last: KubeObject | undefined;
  return eventually(
    `KVCluster ${ns}/${name} Available with ${replicas} healthy members`,
    timeoutMs,
    async () => {
      const kvc = await kube.get(kvcPath(ns, name));
      last = kvc;
      return availableProblem(kvc, replicas) === undefined && kvc;
    },
    async () => `last status: ${summary(last)}${last ? ` (${availableProblem(last, replicas)})` : ''}${extra ? `\n${await extra()}` : ''}`,
    2000,
  );
}

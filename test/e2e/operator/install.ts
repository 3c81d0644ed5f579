// Installs the operator with `helm install` of charts/kvorum-operator. The
// process kubelet runs any `.../kvorum:*` image as the repository's
// bin/kvorum, so the chart's default image works unchanged.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClient, KubeList, KubeObject } from '../kube/client.js';
import { paths, repoRoot } from '../env/config.js';
import { eventually, helm, isPodReady } from './util.js';

export const chartDir = join(repoRoot, 'charts', 'kvorum-operator');
export const RELEASE = 'kvorum-operator';
export const LEASE = 'kvorum-operator';

export interface OperatorInstall {
  namespace: string;
  release: string;
}

export async function installOperator(namespace: string, extraSets: string[] = []): Promise<OperatorInstall> {
  const sets = ['--set', 'logLevel=debug', ...extraSets.flatMap((s) => ['--set', s])];
  const r = await helm(['install', RELEASE, chartDir, '-n', namespace, '--create-namespace', '--wait', '--timeout', '3m', ...sets]);
  if (r.code !== 0) throw new Error(`helm install failed (${r.code}):\n${r.out}\n${r.err}`);
  return { namespace, release: RELEASE };
}

export async function uninstallOperator(inst: OperatorInstall): Promise<void> {
  await helm(['uninstall', inst.release, '-n', inst.namespace, '--wait', '--timeout', '2m']);
}

export async function operatorPods(kube: KubeClient, inst: OperatorInstall): Promise<KubeObject[]> {
  const sel = encodeURIComponent(`app.kubernetes.io/instance=${inst.release}`);
  const pods = await kube.get<KubeList>(`/api/v1/namespaces/${inst.namespace}/pods?labelSelector=${sel}`);
  return pods.items.filter((p) => !p.metadata.deletionTimestamp);
}

export async function waitOperatorReady(kube: KubeClient, inst: OperatorInstall, replicas: number): Promise<KubeObject[]> {
  return eventually(`${replicas} ready operator pods`, 120_000, async () => {
    const pods = await operatorPods(kube, inst);
    return pods.length === replicas && pods.every(isPodReady) && pods;
  });
}

export interface LeaseView {
  holder: string | undefined;
  transitions: number;
  renewTime: string | undefined;
}

export async function readLease(kube: KubeClient, inst: OperatorInstall, name = LEASE): Promise<LeaseView | undefined> {
  const l = await kube.find(`/apis/coordination.k8s.io/v1/namespaces/${inst.namespace}/leases/${name}`);
  if (!l) return undefined;
  return { holder: l.spec?.holderIdentity, transitions: Number(l.spec?.leaseTransitions ?? 0), renewTime: l.spec?.renewTime };
}

/** The operator pod whose name the Lease holder identity carries (identities may add a suffix). */
export function podOfHolder(pods: KubeObject[], holder: string | undefined): KubeObject | undefined {
  if (!holder) return undefined;
  return pods.find((p) => holder === p.metadata.name || holder.startsWith(`${p.metadata.name}_`) || holder.startsWith(`${p.metadata.name}-`) || holder.includes(p.metadata.name));
}

/** The last lines of every operator pod's log (for failure messages and bug reports). */
export async function operatorLogs(kube: KubeClient, inst: OperatorInstall, lines = 40): Promise<string> {
  const pods = await operatorPods(kube, inst).catch(() => [] as KubeObject[]);
  return pods.map((p) => `--- ${p.metadata.name}\n${podLogTail(p.metadata.uid as string, lines)}`).join('\n');
}

export function podLogTail(uid: string, lines: number): string {
  try {
    const dir = join(paths.kubeletDir, 'pods', uid, 'logs');
    return readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), 'utf8').split('\n').slice(-lines).join('\n'))
      .join('\n');
  } catch (e) {
    return `(no log: ${(e as Error).message})`;
  }
}

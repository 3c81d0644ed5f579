// Operator fail-over for the e2e suite: which replica holds the Lease, how to
// crash it (SIGKILL, no graceful hand-over, no Lease release), and waiting for
// another replica to take the Lease.
import { spawnSync } from 'node:child_process';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { netnsName } from '../kubelet/netns.js';
import { podOfHolder, readLease, waitOperatorReady, type LeaseView, type OperatorInstall } from './install.js';
import { eventually } from './util.js';

/** SIGKILLs every process in the pod's network namespace (a crash: no lease release, no cleanup). */
export function killPodProcesses(pod: KubeObject): number[] {
  const netns = netnsName(pod.metadata.uid as string);
  const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
  const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}

export interface OperatorRoles {
  active: KubeObject;
  standby: KubeObject;
  lease: LeaseView;
}

/** Waits for `replicas` ready operator pods and a Lease held by one of them. */
export async function operatorRoles(kube: KubeClient, inst: OperatorInstall, replicas = 2): Promise<OperatorRoles> {
  const pods = await waitOperatorReady(kube, inst, replicas);
  const lease = await eventually('a Lease holder', 60_000, async () => {
    const l = await readLease(kube, inst);
    return l !== undefined && podOfHolder(pods, l.holder) !== undefined && l;
  });
  const active = podOfHolder(pods, lease.holder)!;
  return { active, standby: pods.find((p) => p !== active)!, lease };
}

/**
 * Crashes the operator pod: SIGKILL of its processes, then deletion with no
 * grace period so its container does not come back under the same identity
 * (the Deployment makes a new pod with a new name). Returns the killed pids.
 */
export async function crashOperatorPod(kube: KubeClient, inst: OperatorInstall, pod: KubeObject): Promise<number[]> {
  const killed = killPodProcesses(pod);
  await kube.delete(`/api/v1/namespaces/${inst.namespace}/pods/${pod.metadata.name}`, { gracePeriodSeconds: 0 });
  return killed;
}

/** Waits until the Lease is held by a pod other than `gone`. */
export async function waitLeaseTakenFrom(kube: KubeClient, inst: OperatorInstall, gone: KubeObject, timeoutMs: number, describe?: () => Promise<string>): Promise<LeaseView> {
  return eventually(
    'another operator pod to take the Lease',
    timeoutMs,
    async () => {
      const l = await readLease(kube, inst);
      return l?.holder !== undefined && l.holder !== '' && !l.holder.includes(gone.metadata.name as string) && l;
    },
    async () => `lease ${JSON.stringify(await readLease(kube, inst))}${describe ? `\n${await describe()}` : ''}`,
  );
}

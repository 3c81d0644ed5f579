// Installs the operator with `helm install` of charts/kvorum-operator. The
// process kubelet runs any `.../kvorum:*` image as the repository's
// bin/kvorum, so the chart's default image works unchanged.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClient, KubeList, KubeObject } from '../kube/client.js';
import { paths, repoRoot } from '../env/config.js';
import { netnsName } from '../kubelet/netns.js';
import { eventually, helm, isPodReady, kubectl } from './util.js';

export const chartDir = join(repoRoot, 'charts', 'kvorum-operator');
export const LEASE = 'kvorum-operator';

export interface OperatorInstall {
  namespace: string;
  release: string;
}

export interface InstallOptions {
  /** `--set` values. */
  sets?: string[];
  /** helm --wait for the operator pods (false when only the CRDs matter). */
  wait?: boolean;
}

/**
 * helm install into `namespace` under a release name of its own (the
 * ClusterRole is named after the release, so installs of different test files
 * never share cluster-scoped objects). Helm creates the CRDs only when they
 * are missing; in a long-lived environment they are refreshed first, as an
 * upgrade would, so a rerun tests the current schema.
 */
export async function installOperator(kube: KubeClient, namespace: string, opts: InstallOptions = {}): Promise<OperatorInstall> {
  // The pods run bin/kvorum, i.e. the compiled dist/ (npm run test:e2e compiles only the e2e tree).
  if (!existsSync(join(repoRoot, 'dist', 'bin', 'main.js'))) throw new Error('dist/bin/main.js is missing: run `npm run build` before the operator e2e tests');
  if (await kube.find('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/kvclusters.kvorum.io')) {
    const r = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(chartDir, 'crds')]);
    if (r.code !== 0) throw new Error(`refreshing the CRDs failed: ${r.err}`);
  }
  const release = `kvorum-operator-${randomBytes(2).toString('hex')}`;
  const sets = ['logLevel=debug', ...(opts.sets ?? [])].flatMap((s) => ['--set', s]);
  const wait = opts.wait === false ? [] : ['--wait', '--timeout', '3m'];
  const r = await helm(['install', release, chartDir, '-n', namespace, '--create-namespace', ...wait, ...sets]);
  if (r.code !== 0) throw new Error(`helm install failed (${r.code}):\n${r.out}\n${r.err}`);
  await eventually('the KVCluster CRD established', 30_000, async () => {
    const crd = await kube.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/kvclusters.kvorum.io');
    return (crd.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True');
  });
  return { namespace, release };
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
  return pods.find((p) => holder.includes(p.metadata.name));
}

export interface OperatorRoles {
  active: KubeObject;
  standby: KubeObject[];
  lease: LeaseView;
}

/** Waits for `replicas` ready operator pods and a Lease held by one of them: that one is active, the others stand by. */
export async function operatorRoles(kube: KubeClient, inst: OperatorInstall, replicas: number): Promise<OperatorRoles> {
  const pods = await waitOperatorReady(kube, inst, replicas);
  const lease = await eventually('a Lease holder', 60_000, async () => {
    const l = await readLease(kube, inst);
    return l !== undefined && podOfHolder(pods, l.holder) !== undefined && l;
  });
  const active = podOfHolder(pods, lease.holder)!;
  return { active, standby: pods.filter((p) => p !== active), lease };
}

/**
 * Crashes an operator pod: SIGKILLs every process in its network namespace
 * (no Lease release, no cleanup), then deletes the pod at once so its
 * container does not come back under the same identity. Returns the pids killed.
 */
export async function crashOperatorPod(kube: KubeClient, inst: OperatorInstall, pod: KubeObject): Promise<number[]> {
  const r = spawnSync('ip', ['netns', 'pids', netnsName(pod.metadata.uid as string)], { encoding: 'utf8' });
  const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await kube.delete(`/api/v1/namespaces/${inst.namespace}/pods/${pod.metadata.name}`, { gracePeriodSeconds: 0 });
  return pids;
}

/** Waits until a pod other than `crashed` holds the Lease (with more transitions than `before`). */
export async function waitTakeOver(kube: KubeClient, inst: OperatorInstall, crashed: KubeObject, timeoutMs: number, logs: () => Promise<string>): Promise<LeaseView> {
  return eventually(
    'another operator pod to take the Lease',
    timeoutMs,
    async () => {
      const l = await readLease(kube, inst);
      return l?.holder !== undefined && l.holder !== '' && !l.holder.includes(crashed.metadata.name) && l;
    },
    async () => `lease ${JSON.stringify(await readLease(kube, inst))}\n${await logs()}`,
  );
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

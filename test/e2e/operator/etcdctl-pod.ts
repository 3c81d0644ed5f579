// Runs etcdctl inside the cluster network: a one-shot `debian` pod (the
// process kubelet runs host programs for it, and etcdctl is installed on the
// host) with the client TLS Secret mounted, talking to the client Service by
// its DNS name exactly as an application in the cluster would.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClient } from '../kube/client.js';
import { paths } from '../env/config.js';
import { eventually } from './util.js';

export interface EtcdctlPodOptions {
  namespace: string;
  /** e.g. https://example-client.<ns>.svc:2379 */
  endpoint: string;
  /** Secret with tls.crt, tls.key and ca.crt; omitted for a plain-text cluster. */
  tlsSecret?: string;
  /** Shell script; `$ETCDCTL` expands to etcdctl with endpoint and certificates. */
  script: string;
  timeoutMs?: number;
}

export interface PodRun {
  name: string;
  phase: string;
  exitCode: number | undefined;
  log: string;
}

const TLS_DIR = '/var/run/kvorum-e2e/client-tls';

export async function runEtcdctlPod(kube: KubeClient, o: EtcdctlPodOptions): Promise<PodRun> {
  const name = `etcdctl-${randomBytes(3).toString('hex')}`;
  const tlsFlags = o.tlsSecret ? ` --cacert=${TLS_DIR}/ca.crt --cert=${TLS_DIR}/tls.crt --key=${TLS_DIR}/tls.key` : '';
  const etcdctl = `etcdctl --endpoints=${o.endpoint} --dial-timeout=5s --command-timeout=10s${tlsFlags}`;
  await kube.create(`/api/v1/namespaces/${o.namespace}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'kvorum-e2e/role': 'etcdctl' } },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'etcdctl',
          image: 'debian:bookworm',
          command: ['/bin/sh', '-c', `set -e\nexport ETCDCTL_API=3\nETCDCTL="${etcdctl}"\n${o.script}`],
          volumeMounts: o.tlsSecret ? [{ name: 'client-tls', mountPath: TLS_DIR, readOnly: true }] : [],
        },
      ],
      volumes: o.tlsSecret ? [{ name: 'client-tls', secret: { secretName: o.tlsSecret } }] : [],
    },
  });
  const pod = await eventually(`pod ${name} to finish`, o.timeoutMs ?? 90_000, async () => {
    const p = await kube.get(`/api/v1/namespaces/${o.namespace}/pods/${name}`);
    return (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') && p;
  });
  let log: string;
  try {
    log = readFileSync(join(paths.kubeletDir, 'pods', pod.metadata.uid as string, 'logs', 'etcdctl.log'), 'utf8');
  } catch (e) {
    log = `(no log: ${(e as Error).message})`;
  }
  const exitCode = pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode as number | undefined;
  await kube.delete(`/api/v1/namespaces/${o.namespace}/pods/${name}`);
  return { name, phase: pod.status.phase as string, exitCode, log };
}

// Shared layout of the e2e environment: where state lives, which addresses
// and ports the control plane uses. Everything here can be overridden by
// environment variables so two checkouts can coexist on one machine.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled files live in <repo>/.build/e2e/test/e2e/env/, sources in <repo>/test/e2e/env/.
function findRepoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const marker = `${join('.build', 'e2e')}`;
  const i = here.indexOf(marker);
  if (i >= 0) return here.slice(0, i - 1);
  return resolve(here, '..', '..', '..');
}

export const repoRoot = findRepoRoot();
export const compiledRoot = join(repoRoot, '.build', 'e2e', 'test', 'e2e');
export const stateDir = resolve(process.env.KVORUM_E2E_DIR ?? join(repoRoot, '.e2e'));
export const toolsScript = join(repoRoot, 'test', 'e2e', 'tools', 'build.sh');

export const net = {
  bridge: process.env.KVORUM_E2E_BRIDGE ?? 'kve2e0',
  /** Host side of the pod network: the API server and every Node's InternalIP. */
  hostIP: process.env.KVORUM_E2E_HOST_IP ?? '10.244.0.1',
  prefix: 16,
  /** Pod addresses are 10.244.<1..250>.<1..254>. */
  podBase: [10, 244],
  serviceCIDR: '10.96.0.0/16',
  netnsPrefix: 'kve2e-',
  vethPrefix: 'kve',
};

export const ports = {
  apiserver: Number(process.env.KVORUM_E2E_API_PORT ?? 6443),
  etcdClient: Number(process.env.KVORUM_E2E_ETCD_PORT ?? 32379),
  etcdPeer: Number(process.env.KVORUM_E2E_ETCD_PEER_PORT ?? 32380),
};

export const paths = {
  pki: join(stateDir, 'pki'),
  logs: join(stateDir, 'logs'),
  etcdData: join(stateDir, 'etcd'),
  kubeconfig: join(stateDir, 'admin.kubeconfig'),
  pids: join(stateDir, 'pids.json'),
  tools: join(stateDir, 'tools.json'),
  kubeletDir: join(stateDir, 'kubelet'),
  volumes: join(stateDir, 'volumes'),
};

export const clusterDomain = 'cluster.local';
export const storageClass = 'kvorum-e2e-local';
export const provisionerName = 'kvorum.local/hostpath';

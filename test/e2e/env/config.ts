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
/**
 * The instance's subnet octet: 10.<octet>.0.0/16 holds the host address
 * 10.<octet>.0.1 and the pod addresses. Different octets give independent
 * environments (bridge, namespaces, ports, state directory) on one machine.
 */
export const subnetOctet = Number(process.env.KVORUM_E2E_SUBNET ?? 244);
if (!Number.isInteger(subnetOctet) || subnetOctet < 1 || subnetOctet > 254) throw new Error(`KVORUM_E2E_SUBNET must be 1..254`);
const isDefault = subnetOctet === 244;

export const stateDir = resolve(process.env.KVORUM_E2E_DIR ?? join(repoRoot, isDefault ? '.e2e' : `.e2e-${subnetOctet}`));
export const toolsScript = join(repoRoot, 'test', 'e2e', 'tools', 'build.sh');

export const net = {
  bridge: process.env.KVORUM_E2E_BRIDGE ?? (isDefault ? 'kve2e0' : `kve2e${subnetOctet}`),
  /** Host side of the pod network: the API server, MinIO and every Node's InternalIP. */
  hostIP: `10.${subnetOctet}.0.1`,
  prefix: 16,
  /** Pod addresses are 10.<octet>.<1..250>.<2..254>. */
  podBase: [10, subnetOctet],
  serviceCIDR: '10.96.0.0/16',
  netnsPrefix: isDefault ? 'kve2e-' : `kve${subnetOctet}-`,
  vethPrefix: 'kve',
};

export const ports = {
  apiserver: Number(process.env.KVORUM_E2E_API_PORT ?? 6443),
  etcdClient: Number(process.env.KVORUM_E2E_ETCD_PORT ?? 30001 + subnetOctet * 10),
  etcdPeer: Number(process.env.KVORUM_E2E_ETCD_PEER_PORT ?? 30002 + subnetOctet * 10),
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

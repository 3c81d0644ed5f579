// The control plane's store: Debian's etcd (one member, the default) or a
// 3-member Kvorum cluster of real `kvorum node` processes, chosen with
// `npm run e2e:up -- --store kvorum` or KVORUM_E2E_STORE=kvorum (also for
// `npm run test:e2e`). Both take etcd's flags and serve plain HTTP on
// loopback; kube-apiserver gets every member in --etcd-servers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ports, repoRoot, stateDir } from './config.js';

export type StoreKind = 'etcd' | 'kvorum';

export const KVORUM_MEMBERS = 3;

/** The store this run uses (KVORUM_E2E_STORE, default etcd). */
export function storeKind(): StoreKind {
  const v = process.env.KVORUM_E2E_STORE ?? 'etcd';
  if (v !== 'etcd' && v !== 'kvorum') throw new Error(`KVORUM_E2E_STORE must be "etcd" or "kvorum", not "${v}"`);
  return v;
}

/** Names of the store's processes in pids.json. */
export function storeProcessNames(kind: StoreKind): string[] {
  return kind === 'etcd' ? ['etcd'] : Array.from({ length: KVORUM_MEMBERS }, (_, i) => `kvorum-m${i + 1}`);
}

export interface StoreProcess {
  name: string;
  cmd: string;
  args: string[];
  clientURL: string;
}

/**
 * The processes to start. Kvorum members use the etcd ports of this subnet
 * and the next even/odd pairs after them (client 30001+10n, +2, +4; peer
 * 30002+10n, +2, +4), all inside the subnet's block of ten.
 */
export function storeProcesses(kind: StoreKind): StoreProcess[] {
  if (kind === 'etcd') {
    const clientURL = `http://127.0.0.1:${ports.etcdClient}`;
    const peerURL = `http://127.0.0.1:${ports.etcdPeer}`;
    return [
      {
        name: 'etcd',
        cmd: 'etcd',
        clientURL,
        args: [
          '--name', 'e2e', '--data-dir', join(stateDir, 'etcd'),
          '--listen-client-urls', clientURL, '--advertise-client-urls', clientURL,
          '--listen-peer-urls', peerURL, '--initial-advertise-peer-urls', peerURL,
          '--initial-cluster', `e2e=${peerURL}`, '--initial-cluster-state', 'new',
          '--log-level', 'warn', '--logger', 'zap',
        ],
      },
    ];
  }
  const members = storeProcessNames(kind).map((name, i) => ({
    name,
    client: `http://127.0.0.1:${ports.etcdClient + 2 * i}`,
    peer: `http://127.0.0.1:${ports.etcdPeer + 2 * i}`,
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
  return members.map((m) => ({
    name: m.name,
    cmd: process.execPath,
    clientURL: m.client,
    args: [
      join(repoRoot, 'bin', 'kvorum'), 'node',
      `--name=${m.name}`, `--data-dir=${join(stateDir, m.name)}`,
      `--listen-client-urls=${m.client}`, `--advertise-client-urls=${m.client}`,
      `--listen-peer-urls=${m.peer}`, `--initial-advertise-peer-urls=${m.peer}`,
      `--initial-cluster=${initialCluster}`, '--initial-cluster-state=new',
      '--initial-cluster-token=kvorum-e2e',
      '--log-level=warn',
    ],
  }));
}

/** What the store needs before it can start: etcd on PATH, or Kvorum compiled into dist/. */
export function prepareStore(kind: StoreKind): void {
  if (kind === 'etcd') {
    if (spawnSync('sh', ['-c', 'command -v etcd']).status !== 0) throw new Error('etcd not found: apt-get install -y etcd-server etcd-client');
    return;
  }
  // The members run the checkout's own build (dist/, from `npm run build`);
  // compiled here only when missing, so a second `up` stays quick.
  if (existsSync(join(repoRoot, 'dist', 'bin', 'main.js'))) return;
  const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-p', join(repoRoot, 'tsconfig.json')], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(join(repoRoot, 'dist', 'bin', 'main.js'))) throw new Error('could not build Kvorum (npm run build) for the e2e store');
}

/** Whether a process seen in /proc (its argv) is one of the store's. */
export function isStoreCommand(argv: string[]): boolean {
  const prog = argv[0]?.split('/').pop() ?? '';
  return prog === 'etcd' || (prog === 'node' && (argv[1] ?? '').endsWith(join('bin', 'kvorum')) && argv[2] === 'node');
}

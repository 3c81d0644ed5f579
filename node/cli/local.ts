// `kvorum local`: a multi-member cluster on loopback for development. Each
// member is a real `kvorum node` process with its own data dir under
// --data-dir; ports follow etcd's Procfile convention (2379/2380, then
// 22379/22380, 32379/32380, ...). Ctrl-C stops them all; data is kept, so
// the next run restarts the same cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface LocalMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  metricsUrl: string;
  dataDir: string;
}

/** Port layout of member i (0-based): 2379, 22379, 32379, ... */
export function localMembers(count: number, dataRoot: string, host = '127.0.0.1'): LocalMember[] {
  return Array.from({ length: count }, (_, i) => {
    const prefix = i === 0 ? 0 : (i + 1) * 10000;
    return {
      name: `m${i + 1}`,
      clientUrl: `http://${host}:${prefix + 2379}`,
      peerUrl: `http://${host}:${prefix + 2380}`,
      metricsUrl: `http://${host}:${prefix + 2381}`,
      dataDir: join(dataRoot, `m${i + 1}`),
    };
  });
}

export function nodeArgs(member: LocalMember, all: LocalMember[], state: 'new' | 'existing'): string[] {
  return [
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--listen-metrics-urls=${member.metricsUrl}`,
    `--initial-cluster=${all.map((m) => `${m.name}=${m.peerUrl}`).join(',')}`,
    `--initial-cluster-state=${state}`,
    '--initial-cluster-token=kvorum-local',
  ];
}

const USAGE = 'usage: kvorum local [--members N (1, 3, 5 or 7; default 3)] [--data-dir DIR (default ./data)]\n';

export async function runLocal(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { members: { type: 'string', default: '3' }, 'data-dir': { type: 'string', default: './data' }, help: { type: 'boolean' } } }));
  } catch (err) {
    process.stderr.write(`kvorum local: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const count = Number(values.members);
  if (![1, 3, 5, 7].includes(count)) {
    process.stderr.write(`kvorum local: --members must be 1, 3, 5 or 7 (got "${values.members}")\n`);
    return 2;
  }
  const root = resolve(values['data-dir']);
  mkdirSync(root, { recursive: true });
  const members = localMembers(count, root);
  const bin = fileURLToPath(new URL('../../../bin/kvorum', import.meta.url));
  const children = new Map<string, ChildProcess>();
  let stopping = false;

  for (const m of members) {
    // A data dir from an earlier run is reused as is: the member restarts from it.
    const child = spawn(process.execPath, [bin, 'node', ...nodeArgs(m, members, 'new')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(m.name, child);
    const prefix = (line: string): string => `${m.name.padEnd(3)} | ${line}\n`;
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) process.stdout.write(prefix(line));
      });
    }
    child.on('exit', (code, signal) => {
      children.delete(m.name);
      if (!stopping) process.stdout.write(prefix(`exited (${signal ?? `code ${code}`})`));
      if (children.size === 0) process.exit(stopping ? 0 : 1);
    });
  }
  const endpoints = members.map((m) => m.clientUrl.replace('http://', '')).join(',');
  process.stdout.write(
    [
      '',
      `Kvorum: ${count}-member cluster on loopback, data in ${root}`,
      ...members.map((m) => `  ${m.name}: client ${m.clientUrl}  peer ${m.peerUrl}  metrics ${m.metricsUrl}/metrics`),
      '',
      `  etcdctl --endpoints=${endpoints} endpoint status -w table`,
      `  etcdctl --endpoints=${endpoints} put hello world`,
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await new Promise<never>(() => {});
  return 0;
}

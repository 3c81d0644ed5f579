// `kvorum local`: a multi-member cluster on loopback for development. Each
// member is a real `kvorum node` process with its own data dir under
// --data-dir; ports follow etcd's Procfile convention (2379/2380, then
// 22379/22380, 32379/32380, ...), shifted by --base-port. The terminal gets a
// banner with endpoints and commands to paste, warnings and errors one line
// each, and a cluster status line; each member's full JSON log goes to
// <data-dir>/logs/<member>.log. Ctrl-C stops them all; data is kept, so the
// next run restarts the same cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { probeMember } from './local-status.js';
import { LocalTerminal } from './local-terminal.js';
import { banner, readableLogLine, statusLine } from './local-view.js';

export interface LocalMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  metricsUrl: string;
  dataDir: string;
}

const DEFAULT_BASE_PORT = 2379;

/** Port layout of member i (0-based): base, 20000 + base, 30000 + base, ... (2379, 22379, 32379 by default). */
export function localMembers(count: number, dataRoot: string, basePort = DEFAULT_BASE_PORT, host = '127.0.0.1'): LocalMember[] {
  return Array.from({ length: count }, (_, i) => {
    const client = (i === 0 ? 0 : (i + 1) * 10000) + basePort;
    return {
      name: `m${i + 1}`,
      clientUrl: `http://${host}:${client}`,
      peerUrl: `http://${host}:${client + 1}`,
      metricsUrl: `http://${host}:${client + 2}`,
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

const USAGE = `usage: kvorum local [--members N] [--data-dir DIR] [--base-port PORT]
  --members N        1, 3, 5 or 7 members (default 3)
  --data-dir DIR     member data dirs and logs (default ./data; kept between runs)
  --base-port PORT   client port of m1 (default ${DEFAULT_BASE_PORT}); the rest follow etcd's layout: peer = client + 1,
                     metrics = client + 2, m2 and m3 (m4, ...) at 20000 and 30000 (40000, ...) above m1
`;

/** How often the status line is refreshed. */
const STATUS_EVERY_MS = 1000;
/**
 * Until the cluster first has a leader, members warn about peers that are
 * not up yet; those warnings are held back (errors are not) and shown only
 * if no leader comes within this time.
 */
const STARTUP_GRACE_MS = 15_000;

export async function runLocal(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { members: { type: 'string', default: '3' }, 'data-dir': { type: 'string', default: './data' }, 'base-port': { type: 'string', default: String(DEFAULT_BASE_PORT) }, help: { type: 'boolean' } },
    }));
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
  const basePort = Number(values['base-port']);
  // The last member's metrics port is the highest.
  const highest = (count === 1 ? 0 : count * 10000) + basePort + 2;
  if (!Number.isInteger(basePort) || basePort < 1 || highest > 65535) {
    process.stderr.write(`kvorum local: --base-port must leave every member's ports within 1-65535 (got "${values['base-port']}")\n`);
    return 2;
  }
  const root = resolve(values['data-dir']);
  const members = localMembers(count, root, basePort);
  const logDir = join(root, 'logs');
  mkdirSync(logDir, { recursive: true });
  const bin = fileURLToPath(new URL('../../../bin/kvorum', import.meta.url));
  const terminal = new LocalTerminal(process.stdout);
  const children = new Map<string, ChildProcess>();
  const logs: WriteStream[] = [];
  let stopping = false;
  let starting = true;
  const held: { text: string; level: string }[] = [];
  const show = (text: string, level: string): void => {
    if (starting && level === 'WARN') held.push({ text, level });
    else terminal.print(text, level);
  };
  const started = (withLeader: boolean): void => {
    if (!starting) return;
    starting = false;
    if (withLeader && held.length > 0) terminal.print(`(${held.length} warning${held.length === 1 ? '' : 's'} while the members started; they are in the logs)`);
    if (!withLeader) for (const h of held) terminal.print(h.text, h.level);
    held.length = 0;
  };
  const graceTimer = setTimeout(() => started(false), STARTUP_GRACE_MS);
  const refresh = async (): Promise<void> => {
    const probes = await Promise.all(members.map((m) => probeMember(m)));
    if (stopping) return;
    if (probes.some((p) => p.status && p.status.leader !== '0')) started(true);
    terminal.setStatus(statusLine(probes));
  };

  const poll = setInterval(() => void refresh(), STATUS_EVERY_MS);
  process.stdout.write(banner({ members, dataDir: root, logFiles: members.map((m) => join(logDir, `${m.name}.log`)) }) + '\n');
  for (const m of members) {
    // A data dir from an earlier run is reused as is: the member restarts from it.
    const child = spawn(process.execPath, [bin, 'node', ...nodeArgs(m, members, 'new')], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(m.name, child);
    const log = createWriteStream(join(logDir, `${m.name}.log`), { flags: 'a' });
    logs.push(log);
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        log.write(chunk);
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          // Members that are being stopped complain about each other; the files keep that.
          const readable = stopping ? undefined : readableLogLine(m.name, line);
          if (readable) show(readable.text, readable.level);
        }
      });
    }
    // 'close' comes after the member's output was read to the end.
    child.on('close', (code, signal) => {
      children.delete(m.name);
      if (!stopping) show(`${m.name}  ERROR  exited (${signal ?? `code ${code}`}); its log: ${join(logDir, `${m.name}.log`)}`, 'ERROR');
      if (children.size === 0) {
        clearInterval(poll);
        clearTimeout(graceTimer);
        terminal.end();
        const code = stopping ? 0 : 1;
        void Promise.all(logs.map((l) => new Promise<void>((done) => l.end(done)))).then(() => process.exit(code));
      }
    });
  }
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(poll);
    clearTimeout(graceTimer);
    terminal.end();
    process.stdout.write('stopping the members...\n');
    for (const child of children.values()) child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await new Promise<never>(() => {});
  return 0;
}

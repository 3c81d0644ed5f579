// The watch row's load (etcd's `benchmark watch`: 10 streams x W watchers,
// 200 puts; every watcher watches the same key, since the tool's key space
// is one key) run several times on one cluster, with the CPU time the
// members and the benchmark client used while the events flowed (from the
// `Watch creation summary` on), per event. Wall-clock rates on a shared
// machine swing; CPU per event is what a change to the fan-out moves.
// Also the events per Watch response, from the members' own
// grpc_server_msg_sent_total (etcd's go-grpc-prometheus counter; Kvorum
// serves the same): a client pays per response, so fewer, fuller ones
// cost it less.
//
//   node dist/bench/watch-cpu.js [--system kvorum|etcd] [--members 3] [--runs 4] [--per-stream 100]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, pickPorts, type SystemSpec } from './cluster.js';
import { cpuSeconds, treeCpuSeconds } from './proc.js';
import { nodeFlags, prepareTools, repoRoot } from './setup.js';

const STREAMS = 10;
const PUTS = 200;

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** Watch messages all members have sent so far (grpc_server_msg_sent_total, Watch method). */
async function watchMessagesSent(cluster: Cluster): Promise<number> {
  let sum = 0;
  for (const endpoint of cluster.endpoints()) {
    const text = await (await fetch(`http://${endpoint}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('grpc_server_msg_sent_total{') && line.includes('grpc_method="Watch"')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

interface Run {
  eventsPerSec: number;
  memberCpu: number;
  clientCpu: number;
  /** Watch responses that carried events (the members' sent messages less one created answer per watcher). */
  eventResponses?: number;
}

/** Runs the benchmark once; CPU is counted from the end of watch creation to the end. */
function runOnce(benchmark: string, cluster: Cluster, perStream: number): Promise<Run> {
  const membersCpu = (): number => Array.from({ length: cluster.size }, (_, i) => treeCpuSeconds(cluster.pid(i) ?? -1) ?? 0).reduce((a, b) => a + b, 0);
  const args = ['--endpoints', cluster.endpoints().join(','), '--dial-timeout', '5s', '--clients', String(STREAMS), '--conns', String(STREAMS),
    'watch', '--streams', String(STREAMS), '--watch-per-stream', String(perStream), '--put-total', String(PUTS), '--watched-key-total', String(STREAMS)];
  return new Promise((resolve, reject) => {
    const child = spawn(benchmark, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let from: { members: number; client: number } | undefined;
    let clientLast = 0;
    const sample = setInterval(() => (clientLast = cpuSeconds(child.pid ?? -1) ?? clientLast), 20);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (from === undefined && out.includes('Watch creation summary')) from = { members: membersCpu(), client: cpuSeconds(child.pid ?? -1) ?? 0 };
    });
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', () => {
      clearTimeout(timer);
      clearInterval(sample);
      const rate = /Watch events received summary:[\s\S]*?Requests\/sec:\s*([\d.]+)/.exec(out);
      if (!rate || from === undefined) return reject(new Error(`benchmark watch gave no summary:\n${out.slice(-500)}`));
      resolve({ eventsPerSec: Number(rate[1]), memberCpu: membersCpu() - from.members, clientCpu: clientLast - from.client });
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const repo = repoRoot();
  const system = flag('system', 'kvorum');
  const members = Number(flag('members', '3'));
  const runs = Number(flag('runs', '4'));
  const perStream = Number(flag('per-stream', '100'));
  const tools = await prepareTools(repo);
  const spec: SystemSpec =
    system === 'etcd'
      ? { kind: 'etcd', label: 'etcd', command: tools.etcd, argsPrefix: [], cwd: repo }
      : { kind: 'kvorum', label: 'kvorum', command: process.execPath, argsPrefix: [...nodeFlags(), 'bin/kvorum', 'node'], cwd: repo };
  const dir = mkdtempSync(join(tmpdir(), 'kvorum-watch-cpu-'));
  const cluster = new Cluster(spec, dir, await pickPorts(33379, members), tools.etcdctl, members);
  const results: Run[] = [];
  try {
    await cluster.start(60_000);
    const watchers = STREAMS * perStream;
    const events = watchers * PUTS;
    const perResponse = (run: Run): string => (run.eventResponses === undefined ? 'events per response unknown (no grpc_server_msg_sent_total)' : `${(events / run.eventResponses).toFixed(2)} events per response`);
    for (let r = 0; r < runs; r++) {
      const sentBefore = await watchMessagesSent(cluster);
      const run = await runOnce(tools.benchmark, cluster, perStream);
      const sent = (await watchMessagesSent(cluster)) - sentBefore;
      if (sent > watchers) run.eventResponses = sent - watchers;
      results.push(run);
      process.stdout.write(
        `${system} run ${r + 1}: ${Math.round(run.eventsPerSec)} events/s, members ${(run.memberCpu * 1e6 / events).toFixed(2)} µs CPU/event, client ${(run.clientCpu * 1e6 / events).toFixed(2)} µs CPU/event, ` +
          `${perResponse(run)}\n`,
      );
    }
    const m = (f: (r: Run) => number): number => median(results.map(f));
    process.stdout.write(
      `${system} (${members} members, ${STREAMS * perStream} watchers) median of ${runs}: ${Math.round(m((r) => r.eventsPerSec))} events/s, ` +
        `members ${(m((r) => r.memberCpu) * 1e6 / events).toFixed(2)} µs CPU/event, client ${(m((r) => r.clientCpu) * 1e6 / events).toFixed(2)} µs CPU/event, ` +
        (results.every((r) => r.eventResponses !== undefined) ? `${(events / m((r) => r.eventResponses!)).toFixed(2)} events per response\n` : 'events per response unknown\n'),
    );
  } finally {
    // SIGTERM, so members started with --cpu-prof (KVORUM_BENCH_NODE_FLAGS) write their profiles.
    for (let i = 0; i < cluster.size; i++) await cluster.stopMember(i, 'SIGTERM').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

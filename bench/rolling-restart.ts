// The rolling-restart row: what a user (or an operator) does to restart
// every member of a 3-member cluster in turn, without the operator, while
// etcd's `benchmark` tool writes at a steady rate. Each step: SIGTERM, wait
// for the exit, start again with the same flags and data dir, wait until the
// member is healthy and has reached the leader's revision. Followers go
// first, the leader last. The figure is the number of requests the load
// generator saw fail.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from './cluster.js';
import { lastProgress, parseErrors } from './parse.js';
import { runCommand, sleep } from './proc.js';

export interface RollingLoad {
  /** Writes per second (`benchmark put --rate`). */
  rate: number;
  /** How long the load runs: its total is rate × seconds. */
  seconds: number;
  /** Load before the first restart. */
  warmupMs: number;
  clients: number;
  conns: number;
}

export interface RestartStep {
  member: string;
  role: 'follower' | 'leader';
  /** SIGTERM to process exit. */
  stopMs: number;
  /** Process start to healthy and caught up. */
  readyMs: number;
}

export interface RollingResult {
  failed: number;
  total: number;
  errors: Map<string, number>;
  steps: RestartStep[];
  /** Raft term before the first restart and after the last. */
  termBefore: number;
  termAfter: number;
  /** The restarts were all done before the load ended (otherwise later failures could not be seen). */
  restartsInsideLoad: boolean;
  restartsMs: number;
}

/** The leader's index, retried for a while (an election may be under way). */
async function leaderOf(cluster: Cluster, timeoutMs = 15_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await cluster.leader();
    } catch (e) {
      if (performance.now() > deadline) throw e;
      await sleep(100);
    }
  }
}

/** A member that is not the leader and not yet restarted; the leader when it is the only one left. */
async function nextMember(cluster: Cluster, done: Set<number>): Promise<{ i: number; role: 'follower' | 'leader' }> {
  const leader = await leaderOf(cluster);
  for (let i = 0; i < cluster.size; i++) if (!done.has(i) && i !== leader) return { i, role: 'follower' };
  return { i: leader, role: 'leader' };
}

async function term(cluster: Cluster): Promise<number> {
  return (await cluster.status(await leaderOf(cluster))).raftTerm;
}

export async function rollingRestart(cluster: Cluster, benchmark: string, load: RollingLoad, log: (msg: string) => void): Promise<RollingResult> {
  const total = Math.round(load.rate * load.seconds);
  // The bound leaves room for a load slowed down by the restarts; past it the tool is killed and nothing can be counted.
  const running = runCommand(
    benchmark,
    [
      '--endpoints', cluster.endpoints().join(','), '--dial-timeout', '5s', '--clients', String(load.clients), '--conns', String(load.conns),
      'put', '--rate', String(load.rate), '--total', String(total), '--val-size', '256', '--key-space-size', '100000',
    ],
    { timeoutMs: load.seconds * 1000 + 120_000 },
  );
  let loadDone = false;
  void running.then(() => {
    loadDone = true;
  });
  await sleep(load.warmupMs);
  const termBefore = await term(cluster);
  const steps: RestartStep[] = [];
  const restarted = new Set<number>();
  const t0 = performance.now();
  let restartError: unknown;
  try {
    while (restarted.size < cluster.size) {
      const { i, role } = await nextMember(cluster, restarted);
      const s0 = performance.now();
      // Past this the harness kills it: a stop this slow is itself the finding.
      await cluster.stopMember(i, 'SIGTERM', 40_000);
      const stopMs = performance.now() - s0;
      const r0 = performance.now();
      cluster.startMember(i);
      await cluster.waitHealthy([cluster.endpoint(i)], 60_000);
      const target = (await cluster.status(await leaderOf(cluster))).revision;
      await cluster.waitRevision(i, target, performance.now() + 60_000);
      const readyMs = performance.now() - r0;
      restarted.add(i);
      steps.push({ member: `m${i + 1}`, role, stopMs, readyMs });
      log(`    restarted m${i + 1} (${role}): stopped in ${(stopMs / 1000).toFixed(2)}s, healthy and caught up ${(readyMs / 1000).toFixed(2)}s after start`);
    }
  } catch (e) {
    restartError = e;
  }
  const restartsMs = performance.now() - t0;
  const restartsInsideLoad = !loadDone;
  const termAfter = await term(cluster).catch(() => termBefore);
  const r = await running;
  if (restartError) throw restartError instanceof Error ? restartError : new Error(String(restartError));
  const out = r.stdout + '\n' + r.stderr;
  if (r.timedOut) {
    const p = lastProgress(out);
    throw new Error(`the load did not finish within its bound (${p ? `${p.done}/${p.total} done` : 'no progress seen'}); failures cannot be counted`);
  }
  if (!/Summary:/.test(r.stdout)) {
    throw new Error(`benchmark exited ${r.code ?? r.signal} without a summary: ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(-1)[0]?.slice(0, 160) ?? ''}`);
  }
  // Kept beside the member logs (--keep) for a look at what failed and when.
  writeFileSync(join(cluster.dir, 'load.txt'), out);
  const errors = parseErrors(r.stdout);
  const failed = [...errors.values()].reduce((a, b) => a + b, 0);
  return { failed, total, errors, steps, termBefore, termAfter, restartsInsideLoad, restartsMs };
}

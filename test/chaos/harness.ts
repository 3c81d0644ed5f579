// Chaos on real member processes: a 3- or 5-member cluster of `kvorum node`
// processes, concurrent clients doing puts, deletes, gets and
// compare-and-swap txns on a small key space over raw gRPC, while a seeded
// fault schedule (nemesis.ts: kill -9, SIGSTOP, partitions, loss and delay
// on the peer links through proxies, stalling and failing disks, torn WAL
// tails, membership changes, leadership transfers) runs, and compaction
// every few hundred milliseconds. Afterwards the recorded history is checked for
// linearizability with the simulator's checker (an operation that failed or
// timed out may or may not have taken effect), and every member must hold
// the same keys.
//
// Everything random comes from the seed (the fault schedule, each client's
// operations); the timing of real processes does not, so a seed replays the
// same schedule rather than the same interleaving. A run writes its history,
// fault timeline, summary and every member's log to its results folder.
import { credentials } from '@grpc/grpc-js';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { loadEtcdProtos } from '../../contract/etcd-proto.js';
import { ProcessCluster, hostPort, type ProcessMember } from '../integration/process-cluster.js';
import { checkLinearizable, type CheckResult } from '../sim/linearizability.js';
import { kvModel, type KvOperation } from '../sim/models.js';
import { Rng } from '../sim/rng.js';
import { checkWatches, type WatchSessionRecord } from './watch-checker.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { Nemesis } from './nemesis.js';
import { PeerProxy } from './proxy.js';
import { call, runClient, runCompactor, runWatcher, sleep, type KvClient, type Pb, type WatchClient, type WorkloadOptions } from './workload.js';

export interface ChaosOptions {
  durationMs: number;
  seed: number;
  /** Where the history, fault timeline and member logs go. */
  resultsDir: string;
  members?: number;
  clients?: number;
  keys?: number;
  /** Watch streams over the whole key space (2 by default). */
  watchers?: number;
  /**
   * The fault kinds to inject (faults.ts; every kind by default); false or
   * an empty list: none, a run checks the clients and the checker alone.
   */
  faults?: boolean | readonly FaultKind[];
  /**
   * Deliberately wrong clients: gets are serializable (answered from the
   * member's local state, possibly stale) but recorded as linearizable. The
   * checker must catch it; a test uses this to show the harness can fail.
   */
  staleReads?: boolean;
  /** Progress lines (the CLI prints them; the test keeps them quiet). */
  log?: (line: string) => void;
}

export interface FaultRecord {
  at: number;
  fault: string;
  /** Set on an injected fault; absent on restarts, repairs and observations. */
  kind?: FaultKind;
  member?: string;
}

export interface ChaosResult {
  seed: number;
  resultsDir: string;
  operations: number;
  acknowledged: number;
  unknown: number;
  faults: number;
  /** Injected faults by kind. */
  faultsByKind: Partial<Record<FaultKind, number>>;
  linearizability: CheckResult;
  /** Events and progress notifications the watchers received (all checked with checkWatches). */
  watchEvents: number;
  progressNotifications: number;
  /** How long the linearizability check took. */
  checkMs: number;
  /** Everything that went wrong; empty for a passing run. */
  violations: string[];
}

const NETWORK_FAULTS: readonly FaultKind[] = ['partition', 'loss', 'delay'];

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? ((): void => {});
  const members = opts.members ?? 3;
  const clientCount = opts.clients ?? 6;
  const keyCount = opts.keys ?? 8;
  const rng = new Rng(opts.seed);
  mkdirSync(opts.resultsDir, { recursive: true });
  const violations: string[] = [];
  const faults: FaultRecord[] = [];
  const t0 = performance.now();
  const now = (): number => Math.round((performance.now() - t0) * 1000) / 1000;
  const kinds: readonly FaultKind[] = opts.faults === false ? [] : opts.faults === true || opts.faults === undefined ? FAULT_KINDS : opts.faults;
  const record = (what: string, o: { kind?: FaultKind; member?: ProcessMember } = {}): void => {
    faults.push({ at: now(), fault: what, ...(o.kind && { kind: o.kind }), ...(o.member && { member: o.member.name }) });
    log(`${(now() / 1000).toFixed(1)}s ${what}${o.member ? ` ${o.member.name}` : ''}`);
  };
  const fault = (what: string, m?: ProcessMember): void => record(what, m && { member: m });

  const c = await ProcessCluster.create('kvorum', members, { extraArgs: ['--snapshot-count=500'] });
  // Network faults need every peer link to pass through a proxy: each member
  // listens on its own peer URL and advertises its proxy's.
  const proxies = new Map<string, PeerProxy>();
  if (kinds.some((k) => NETWORK_FAULTS.includes(k))) {
    for (const [i, m] of c.members.entries()) {
      const proxy = new PeerProxy({ host: '127.0.0.1', port: Number(new URL(m.peerUrl).port) }, opts.seed * 1000 + 700 + i);
      m.advertisePeerUrl = `http://127.0.0.1:${await proxy.listen()}`;
      proxies.set(m.name, proxy);
    }
  }
  const logs = new Map<string, WriteStream>();
  const ownExits = new Map<object, (r: { code: number | null; signal: NodeJS.Signals | null }) => void>();
  const start = (m: ProcessMember, state: 'new' | 'existing' = 'new'): void => {
    c.start(m, state);
    let out = logs.get(m.name);
    if (!out) {
      out = createWriteStream(join(opts.resultsDir, `${m.name}.log`));
      logs.set(m.name, out);
    }
    out.write(`--- started at ${now()} ms\n`);
    const sink = out;
    const child = m.process!;
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (chunk: string) => sink.write(chunk));
    // A member that exits by itself (a crash, a refusal of its data after kill -9) is a finding.
    child.once('exit', (code, signal) => {
      const own = ownExits.get(child);
      if (own) return own({ code, signal });
      if (expectedExits.has(child) || tearingDown) return;
      const what = `${m.name} exited on its own (code ${code}, signal ${signal}) at ${now()} ms; see ${m.name}.log`;
      violations.push(what);
      fault(what);
    });
  };
  const expectedExits = new WeakSet<object>();
  let tearingDown = false;
  const kill = async (m: ProcessMember): Promise<void> => {
    if (m.process) expectedExits.add(m.process);
    await c.kill(m, 'SIGKILL');
  };
  const expectOwnExit = (m: ProcessMember): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    const child = m.process;
    if (!child) return Promise.resolve({ code: null, signal: null });
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    return new Promise((resolve) => ownExits.set(child, resolve));
  };
  const KV = loadEtcdProtos().grpcObject.etcdserverpb as unknown as Record<string, new (addr: string, creds: ReturnType<typeof credentials.createInsecure>) => KvClient>;
  const clients = c.members.map((m) => new KV.KV!(hostPort(m.clientUrl), credentials.createInsecure()));
  const history: KvOperation[] = [];
  const watchClients = c.members.map((m) => new KV.Watch!(hostPort(m.clientUrl), credentials.createInsecure()) as unknown as WatchClient);
  const sessions: WatchSessionRecord[] = [];
  const watcherCount = opts.watchers ?? 2;
  let lastRevision: number | undefined;
  const stopped = new Set<ProcessMember>();
  const dead = new Set<ProcessMember>();
  let running = true;
  let nemesisInstance: Nemesis | undefined;

  try {
    for (const m of c.members) start(m);
    await c.waitHealthy(30_000);
    log(`seed ${opts.seed}: ${members} members up; results in ${opts.resultsDir}`);
    const deadline = performance.now() + opts.durationMs;

    const workload: WorkloadOptions = {
      seed: opts.seed,
      clients: clientCount,
      keys: keyCount,
      active: () => running && performance.now() < deadline,
      now,
      kv: (r) => r.pick(clients),
      watch: (r) => r.pick(watchClients),
      ...(opts.staleReads === true && { staleReads: true }),
    };

    const nemesisHost = {
      cluster: c,
      proxies,
      rng,
      kinds,
      record: (what: string, o?: { kind?: FaultKind; member?: ProcessMember }) => record(what, o),
      violation: (what: string) => {
        violations.push(what);
        fault(`VIOLATION: ${what}`);
      },
      kill,
      start,
      expectOwnExit,
      dead,
      stopped,
      active: () => running && performance.now() < deadline - 3000,
    };
    nemesisInstance = new Nemesis(nemesisHost);
    const nemesis = async (): Promise<void> => {
      while (kinds.length > 0 && nemesisHost.active()) {
        await sleep(rng.int(1000, 3000));
        if (!nemesisHost.active()) break;
        try {
          await nemesisInstance!.step();
        } catch (err) {
          fault(`the fault's injection failed: ${(err as Error).message.split('\n')[0]}`);
        }
        // Give the cluster a chance to elect before the next fault.
        await c.waitHealthy(15_000).catch((err: unknown) => fault(`not healthy after the fault: ${(err as Error).message.split('\n')[0]}`));
      }
    };

    await Promise.all([
      nemesis(),
      runCompactor(workload),
      ...Array.from({ length: clientCount }, (_, i) => runClient(workload, i, history)),
      ...Array.from({ length: watcherCount }, (_, i) => runWatcher(workload, i, sessions)),
    ]);
    running = false;
    for (const p of proxies.values()) p.clearFaults();
    for (const m of stopped) m.process?.kill('SIGCONT');
    for (const m of dead) {
      m.env = { ...m.env, KVORUM_TEST_FAILPOINTS: undefined, KVORUM_FAILPOINTS: undefined };
      start(m);
    }
    fault('faults stopped');

    // Every member, once caught up, holds the same keys and values.
    log(`checking that the members agree (${history.length} operations recorded)`);
    await c.waitHealthy(30_000).catch((err: unknown) => violations.push(`not every member has a leader 30 s after the faults stopped: ${(err as Error).message.slice(0, 2000)}`));
    // (A client channel to a member that was down may still be backing off: any member will do, retried.)
    let leaderView: Pb | undefined;
    for (let attempt = 0; attempt < 20 && leaderView === undefined; attempt++) {
      leaderView = await call(clients[attempt % clients.length]!, 'Range', { key: Buffer.from('k'), range_end: Buffer.from('l') }, 5000).catch(() => undefined);
      if (leaderView === undefined) await sleep(500);
    }
    if (leaderView === undefined) throw new Error('no member answered a linearizable read after the faults stopped');
    const expected = dump(leaderView);
    const wantRevision = Number((leaderView.header as { revision: string }).revision);
    lastRevision = wantRevision;
    for (let i = 0; i < c.members.length; i++) {
      let local = '';
      for (let attempt = 0; attempt < 50; attempt++) {
        const res = await call(clients[i]!, 'Range', { key: Buffer.from('k'), range_end: Buffer.from('l'), serializable: true }, 2000).catch(() => undefined);
        if (res && Number((res.header as { revision: string }).revision) >= wantRevision) {
          local = dump(res);
          break;
        }
        await sleep(200);
      }
      if (local !== expected) violations.push(`${c.members[i]!.name} holds ${local || '(nothing readable)'}, the cluster holds ${expected}`);
    }
  } finally {
    running = false;
    tearingDown = true;
    for (const m of stopped) m.process?.kill('SIGCONT');
    for (const cl of clients) cl.close();
    for (const cl of watchClients) cl.close();
    nemesisInstance?.close();
    await c.destroy().catch(() => undefined);
    for (const p of proxies.values()) await p.close();
    // The fault timeline is kept even when the run itself failed.
    writeFileSync(join(opts.resultsDir, 'faults.json'), JSON.stringify(faults, null, 1));
    await Promise.all([...logs.values()].map((s) => new Promise<void>((r) => s.end(() => r()))));
  }

  // The history is on disk before the check, which can take long on a bad one.
  writeFileSync(join(opts.resultsDir, 'history.json'), JSON.stringify(history.map((o) => ({ ...o, ret: Number.isFinite(o.ret) ? o.ret : null }))));
  log(`checking linearizability of ${history.length} operations`);
  const checkStarted = performance.now();
  const linearizability = checkLinearizable(kvModel, history, { maxSteps: 5_000_000 });
  const checkMs = Math.round(performance.now() - checkStarted);
  if (linearizability.result === 'illegal') violations.push(`linearizability: ${linearizability.explanation}`);
  if (linearizability.result === 'unknown') violations.push(`linearizability not decided: ${linearizability.explanation}`);
  const watches = checkWatches(sessions, { lastRevision: lastRevision ?? 0 });
  writeFileSync(join(opts.resultsDir, 'watches.json'), JSON.stringify(sessions));
  for (const v of watches.violations) violations.push(`watch: ${v}`);
  const acknowledged = history.filter((o) => o.output !== undefined).length;
  const faultsByKind: Partial<Record<FaultKind, number>> = {};
  for (const f of faults) if (f.kind !== undefined) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
  const result: ChaosResult = {
    seed: opts.seed,
    resultsDir: opts.resultsDir,
    operations: history.length,
    acknowledged,
    unknown: history.length - acknowledged,
    faults: faults.filter((f) => f.kind !== undefined).length,
    faultsByKind,
    linearizability,
    checkMs,
    watchEvents: watches.events,
    progressNotifications: watches.progressNotifications,
    violations,
  };
  writeFileSync(join(opts.resultsDir, 'summary.json'), JSON.stringify({ ...result, linearizability: linearizability.result }, null, 1));
  if (violations.length > 0) writeFileSync(join(opts.resultsDir, 'violations.txt'), violations.join('\n\n'));
  return result;
}

function dump(res: Pb): string {
  return (res.kvs as { key: Buffer; value: Buffer }[]).map((kv) => `${kv.key.toString()}=${kv.value.toString()}`).join(',');
}

// Chaos on real member processes: a 3- or 5-member cluster of `kvorum node`
// processes, concurrent clients over raw gRPC in traffic profiles (the kv
// clients here: puts, deletes, gets and compare-and-swap txns on a small key
// space; the lease and kubernetes profiles in profiles.ts), while a seeded
// fault schedule (nemesis.ts: kill -9, SIGSTOP, partitions, loss and delay
// on the peer links through proxies, stalling and failing disks, torn WAL
// tails, membership changes, leadership transfers) runs, and compaction
// every few hundred milliseconds. Afterwards each profile's recorded history
// is checked for linearizability with the simulator's checker against the
// profile's model (an operation that failed or timed out may or may not
// have taken effect), the watch streams against etcd's watch guarantees,
// and every member must hold the same keys.
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
import { checkLinearizable, type CheckResult, type Model, type Operation } from '../sim/linearizability.js';
import { kvModel, type KvOperation } from '../sim/models.js';
import { Rng } from '../sim/rng.js';
import { checkWatches, type WatchSessionRecord } from './watch-checker.js';
import { call, sleep, type KvClient, type LeaseClient, type Pb, type WatchClient } from './calls.js';
import { checkListThenWatch, k8sModel, type K8sOperation } from './k8s-model.js';
import { leaseModel, type LeaseOperation } from './lease-model.js';
import { informer, K8S_KINDS, k8sWorker, leaseWorker, PROFILES, type InformerList, type Profile } from './profiles.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { Nemesis } from './nemesis.js';
import { PeerProxy } from './proxy.js';
import { runClient, runCompactor, runWatcher, type WorkloadOptions } from './workload.js';

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
  /** Each member's --client-workers (0 by default: the core serves its clients). */
  clientWorkers?: number;
  /**
   * Traffic profiles (profiles.ts): 'kv' (the clients described below),
   * 'lease', 'kubernetes'; every one by default, the clients dealt out among
   * them in turn.
   */
  profiles?: readonly Profile[];
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

export interface ProfileResult {
  clients: number;
  operations: number;
  acknowledged: number;
  unknown: number;
  result: CheckResult['result'];
  checkMs: number;
}

export interface ChaosResult {
  seed: number;
  resultsDir: string;
  /** Every profile's operations together (each profile's own in `profiles`). */
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
  /** How long the linearizability checks took. */
  checkMs: number;
  profiles: Partial<Record<Profile, ProfileResult>>;
  /** Informer lists whose following watch was checked against them. */
  informerLists: number;
  /** Everything that went wrong; empty for a passing run. */
  violations: string[];
}

const NETWORK_FAULTS: readonly FaultKind[] = ['partition', 'loss', 'delay'];

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? ((): void => {});
  const members = opts.members ?? 3;
  const clientCount = opts.clients ?? 6;
  const profiles: readonly Profile[] = opts.profiles ?? PROFILES;
  /** Client i runs profile profileOf[i]. */
  const profileOf = Array.from({ length: clientCount }, (_, i) => profiles[i % profiles.length]!);
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

  const c = await ProcessCluster.create('kvorum', members, { extraArgs: ['--snapshot-count=500', ...(opts.clientWorkers ? [`--client-workers=${opts.clientWorkers}`] : [])] });
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
  const leaseHistory: LeaseOperation[] = [];
  const k8sHistory: K8sOperation[] = [];
  const informerLists: InformerList[] = [];
  const leaseClients = c.members.map((m) => new KV.Lease!(hostPort(m.clientUrl), credentials.createInsecure()) as LeaseClient);
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

    const profileHost = {
      seed: opts.seed,
      kv: clients,
      lease: leaseClients,
      watch: watchClients,
      now,
      active: () => running && performance.now() < deadline,
    };
    const client = (i: number): Promise<void> => {
      switch (profileOf[i]!) {
        case 'kv':
          return runClient(workload, i, history);
        case 'lease':
          return leaseWorker(profileHost, i, leaseHistory);
        case 'kubernetes':
          return k8sWorker(profileHost, i, k8sHistory);
      }
    };
    await Promise.all([
      nemesis(),
      runCompactor(workload),
      ...Array.from({ length: clientCount }, (_, i) => client(i)),
      ...Array.from({ length: watcherCount }, (_, i) => runWatcher(workload, i, sessions)),
      ...(profiles.includes('kubernetes') ? K8S_KINDS.map((kind, i) => informer(profileHost, i, kind, k8sHistory, sessions, informerLists)) : []),
    ]);
    running = false;
    for (const p of proxies.values()) p.clearFaults();
    for (const m of stopped) m.process?.kill('SIGCONT');
    for (const m of dead) {
      m.env = { ...m.env, KVORUM_TEST_FAILPOINTS: undefined, KVORUM_FAILPOINTS: undefined };
      start(m);
    }
    fault('faults stopped');

    // Every member, once caught up, holds the same keys and values: the
    // whole key space (every profile's keys), read at one revision (a lease
    // may still expire after the faults stop).
    log(`checking that the members agree (${history.length + leaseHistory.length + k8sHistory.length} operations recorded)`);
    await c.waitHealthy(30_000).catch((err: unknown) => violations.push(`not every member has a leader 30 s after the faults stopped: ${(err as Error).message.slice(0, 2000)}`));
    // (A client channel to a member that was down may still be backing off: any member will do, retried.)
    let leaderView: Pb | undefined;
    for (let attempt = 0; attempt < 20 && leaderView === undefined; attempt++) {
      leaderView = await call(clients[attempt % clients.length]!, 'Range', { key: ALL_KEYS, range_end: ALL_KEYS }, 5000).catch(() => undefined);
      if (leaderView === undefined) await sleep(500);
    }
    if (leaderView === undefined) throw new Error('no member answered a linearizable read after the faults stopped');
    const expected = dump(leaderView);
    const wantRevision = Number((leaderView.header as { revision: string }).revision);
    lastRevision = wantRevision;
    for (let i = 0; i < c.members.length; i++) {
      let local = '';
      for (let attempt = 0; attempt < 50; attempt++) {
        const res = await call(clients[i]!, 'Range', { key: ALL_KEYS, range_end: ALL_KEYS, revision: String(wantRevision), serializable: true }, 2000).catch(() => undefined);
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
    for (const cl of leaseClients) cl.close();
    for (const cl of watchClients) cl.close();
    nemesisInstance?.close();
    await c.destroy().catch(() => undefined);
    for (const p of proxies.values()) await p.close();
    // The fault timeline is kept even when the run itself failed.
    writeFileSync(join(opts.resultsDir, 'faults.json'), JSON.stringify(faults, null, 1));
    await Promise.all([...logs.values()].map((s) => new Promise<void>((r) => s.end(() => r()))));
  }

  // The history is on disk before the check, which can take long on a bad one.
  const forDisk = <T extends { ret: number }>(h: T[]): string => JSON.stringify(h.map((o) => ({ ...o, ret: Number.isFinite(o.ret) ? o.ret : null })));
  writeFileSync(join(opts.resultsDir, 'history.json'), forDisk(history));
  if (profiles.includes('lease')) writeFileSync(join(opts.resultsDir, 'history-lease.json'), forDisk(leaseHistory));
  if (profiles.includes('kubernetes')) writeFileSync(join(opts.resultsDir, 'history-kubernetes.json'), forDisk(k8sHistory));
  const profileResults: Partial<Record<Profile, ProfileResult>> = {};
  let linearizability: CheckResult = { result: 'ok' };
  let checkMs = 0;
  const check = <S, I, O>(profile: Profile, model: Model<S, I, O>, h: Operation<I, O>[]): void => {
    if (!profiles.includes(profile)) return;
    log(`checking linearizability of ${h.length} ${profile} operations`);
    const started = performance.now();
    const res = checkLinearizable(model, h, { maxSteps: 5_000_000 });
    const ms = Math.round(performance.now() - started);
    checkMs += ms;
    const acked = h.filter((o) => o.output !== undefined).length;
    profileResults[profile] = { clients: profileOf.filter((p) => p === profile).length, operations: h.length, acknowledged: acked, unknown: h.length - acked, result: res.result, checkMs: ms };
    const label = profile === 'kv' ? '' : ` (${profile} profile)`;
    if (res.result === 'illegal') violations.push(`linearizability${label}: ${res.explanation}`);
    if (res.result === 'unknown') violations.push(`linearizability${label} not decided: ${res.explanation}`);
    if (res.result !== 'ok' && linearizability.result !== 'illegal') linearizability = res;
  };
  check('kv', kvModel, history);
  check('lease', leaseModel, leaseHistory);
  check('kubernetes', k8sModel, k8sHistory);
  const sessionById = new Map(sessions.map((s) => [s.id, s]));
  for (const l of informerLists) {
    const s = sessionById.get(l.session);
    if (s !== undefined) for (const v of checkListThenWatch(l, s)) violations.push(`watch: ${v}`);
  }
  const watches = checkWatches(sessions, { lastRevision: lastRevision ?? 0 });
  writeFileSync(join(opts.resultsDir, 'watches.json'), JSON.stringify(sessions));
  for (const v of watches.violations) violations.push(`watch: ${v}`);
  const all = Object.values(profileResults);
  const operations = all.reduce((n, p) => n + p.operations, 0);
  const acknowledged = all.reduce((n, p) => n + p.acknowledged, 0);
  const faultsByKind: Partial<Record<FaultKind, number>> = {};
  for (const f of faults) if (f.kind !== undefined) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
  const result: ChaosResult = {
    seed: opts.seed,
    resultsDir: opts.resultsDir,
    operations,
    acknowledged,
    unknown: operations - acknowledged,
    faults: faults.filter((f) => f.kind !== undefined).length,
    faultsByKind,
    linearizability,
    checkMs,
    watchEvents: watches.events,
    progressNotifications: watches.progressNotifications,
    profiles: profileResults,
    informerLists: informerLists.length,
    violations,
  };
  writeFileSync(join(opts.resultsDir, 'summary.json'), JSON.stringify({ ...result, linearizability: linearizability.result }, null, 1));
  if (violations.length > 0) writeFileSync(join(opts.resultsDir, 'violations.txt'), violations.join('\n\n'));
  return result;
}

/** key and range_end of a range over every key. */
const ALL_KEYS = Buffer.from([0]);

function dump(res: Pb): string {
  return (res.kvs as { key: Buffer; value: Buffer }[]).map((kv) => `${kv.key.toString()}=${kv.value.toString()}`).join(',');
}

// The benchmark suite: which workloads run, with what sizes, and how each one
// turns into a table cell. Runs one system at a time on fresh clusters.
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, pickPorts, type SystemSpec } from './cluster.js';
import { lastProgress, parseBenchmark, parseCheckPerf, type Summary } from './parse.js';
import { runCommand, sleep } from './proc.js';
import { kubeApiserverRows, runKubeApiserverRows } from './kube-apiserver.js';
import { etcdBackup, kvorumBackup, type BackupTiming } from './backup-s3.js';
import { minioBinary, startMinio } from './minio.js';
import { rollingRestart, type RollingLoad } from './rolling-restart.js';
import { createWatchers } from './watch-scale.js';

export interface Tools {
  etcd: string;
  etcdctl: string;
  benchmark: string;
}

/** One measured figure for one system. */
export type Cell =
  | {
      ok: true;
      rps?: number;
      avgMs?: number;
      p99Ms?: number;
      value?: number;
      unit?: string;
      note?: string;
      approx?: boolean;
      detail?: string;
      /** A second etcd figure the row also compares Kvorum with (RowDef.refLabel). */
      ref?: number;
      /** Requests the benchmark tool saw succeed (it reports no latency for failed ones). */
      done?: number;
      /** Members' CPU (user + system, summed over members) per acknowledged write, in µs. */
      cpuUsPerWrite?: number;
      /** Members' CPU seconds per wall second over the same window. */
      cores?: number;
    }
  | { ok: false; error: string; skipped?: boolean };

export type RowKind = 'throughput' | 'rate' | 'latency' | 'lower-better' | 'higher-better';

export interface RowDef {
  key: string;
  label: string;
  kind: RowKind;
  /** The figure depends on how much was loaded: flag the ratio when the two sides differ. */
  loadSensitive?: boolean;
  /** What the etcd cell's `ref` figure is; the ratio column then shows kvorum value / ref too. */
  refLabel?: string;
  /** The target is Kvorum's value at most etcd's: the ratio column says whether it was met. */
  atMostEtcd?: boolean;
}

export interface SuiteConfig {
  quick: boolean;
  /** Per benchmark-tool invocation. */
  stepTimeoutMs: number;
  putTotals: { c1: number; c100: number; c1000: number };
  rangeTotal: number;
  txnTotal: number;
  watch: { streams: number; perStream: number; puts: number };
  watchLatency: { watchers: number; puts: number; rate: number };
  leaseTotal: number;
  checkPerfLoads: string[];
  checkPerfTimeoutMs: number;
  memKeys: number;
  /** Bound on loading memKeys; on timeout the keys actually stored are counted and used. */
  memLoadTimeoutMs: number;
  catchupWrites: number;
  basePort: number;
  /** Wall-clock budget for the load workloads of one system; those that would start after it are skipped. */
  budgetMs: number;
  /** The overwrite load of the memory-over-time row: rounds of puts over a fixed key space, with periodic compaction. */
  overwrite: OverwriteLoad;
  /** The write load during the rolling restart. */
  rolling: RollingLoad;
  /** First port tried for the backup row's MinIO. */
  s3Port: number;
  /** Watchers created at once on one stream, and the same number spread over `streams` streams (watch-scale rows). */
  watchScale: { watchers: number; streams: number; timeoutMs: number };
  /** Rows to run (with the rows they need, see expandRows); undefined runs all. */
  rows?: Set<string>;
}

export function suiteConfig(quick: boolean): SuiteConfig {
  return quick
    ? {
        quick,
        stepTimeoutMs: 20_000,
        putTotals: { c1: 500, c100: 5_000, c1000: 10_000 },
        rangeTotal: 5_000,
        txnTotal: 3_000,
        watch: { streams: 10, perStream: 10, puts: 300 },
        watchLatency: { watchers: 100, puts: 100, rate: 100 },
        leaseTotal: 5_000,
        checkPerfLoads: [],
        checkPerfTimeoutMs: 120_000,
        memKeys: 100_000,
        memLoadTimeoutMs: 40_000,
        catchupWrites: 10_000,
        basePort: 23379,
        budgetMs: 75_000,
        overwrite: { rounds: 4, putsPerRound: 20_000, rate: 2_000, keySpace: 10_000, retention: '10s' },
        rolling: { rate: 800, seconds: 40, warmupMs: 3_000, clients: 100, conns: 10 },
        s3Port: 29000,
        watchScale: { watchers: 2_000, streams: 20, timeoutMs: 60_000 },
      }
    : {
        quick,
        stepTimeoutMs: 45_000,
        putTotals: { c1: 5_000, c100: 40_000, c1000: 60_000 },
        rangeTotal: 30_000,
        txnTotal: 20_000,
        watch: { streams: 10, perStream: 100, puts: 200 },
        watchLatency: { watchers: 100, puts: 2_000, rate: 200 },
        leaseTotal: 30_000,
        checkPerfLoads: ['m', 'l', 'xl'],
        checkPerfTimeoutMs: 150_000,
        memKeys: 1_000_000,
        memLoadTimeoutMs: 180_000,
        catchupWrites: 100_000,
        basePort: 23379,
        budgetMs: 3 * 60_000,
        overwrite: { rounds: 8, putsPerRound: 40_000, rate: 2_000, keySpace: 10_000, retention: '10s' },
        rolling: { rate: 800, seconds: 90, warmupMs: 5_000, clients: 100, conns: 10 },
        s3Port: 29000,
        watchScale: { watchers: 100_000, streams: 1_000, timeoutMs: 180_000 },
      };
}

export interface OverwriteLoad {
  rounds: number;
  putsPerRound: number;
  /** Puts per second (the tool's --rate), so each round lasts putsPerRound / rate seconds. */
  rate: number;
  keySpace: number;
  /** --auto-compaction-retention in periodic mode (a Go duration both systems parse). */
  retention: string;
}

export function rowDefs(cfg: SuiteConfig): RowDef[] {
  const rows: RowDef[] = [
    { key: 'put-1', label: 'put, 1 client / 1 conn, 256 B', kind: 'throughput' },
    { key: 'put-100', label: 'put, 100 clients / 10 conns, 256 B', kind: 'throughput' },
    { key: 'put-1000', label: 'put, 1000 clients / 100 conns, 256 B', kind: 'throughput' },
    { key: 'put-1-single', label: 'put, single member, 1 client / 1 conn, 256 B', kind: 'throughput' },
    { key: 'put-100-single', label: 'put, single member, 100 clients / 10 conns, 256 B', kind: 'throughput' },
    { key: 'put-1000-single', label: 'put, single member, 1000 clients / 100 conns, 256 B', kind: 'throughput' },
    { key: 'range-l', label: 'range, linearizable, 100 clients', kind: 'throughput' },
    { key: 'range-s', label: 'range, serializable, 100 clients', kind: 'throughput' },
    { key: 'txn-put', label: 'txn-put, 100 clients / 10 conns, 256 B', kind: 'throughput' },
    { key: 'watch', label: `watch, ${cfg.watch.streams * cfg.watch.perStream} watchers: events received`, kind: 'rate' },
    { key: 'watch-latency', label: `watch event latency, ${cfg.watchLatency.watchers} watchers, ${cfg.watchLatency.rate} puts/s`, kind: 'latency' },
    { key: 'lease-keepalive', label: 'lease-keepalive, 100 clients / 10 conns', kind: 'throughput' },
  ];
  const ws = cfg.watchScale;
  for (const [key, where] of [['watch-scale-1', '1 stream'], ['watch-scale-n', `${fmtCount(ws.streams)} streams`]] as const) {
    rows.push(
      { key, label: `watch creation, ${fmtCount(ws.watchers)} watchers at once on ${where} to the leader: watchers created/s`, kind: 'higher-better' },
      { key: `${key}-health`, label: `watch creation, ${fmtCount(ws.watchers)} watchers on ${where}: the leader's worst /health latency meanwhile (polled every 50 ms)`, kind: 'lower-better' },
    );
  }
  for (const load of ['m', 'l', 'xl']) {
    rows.push({ key: `check-perf-${load}`, label: `etcdctl check perf --load=${load}`, kind: 'throughput' });
  }
  rows.push(...kubeApiserverRows(cfg));
  rows.push(
    { key: 'rss-per-m', label: `leader RSS growth per 1M keys (extrapolated from up to ${fmtCount(cfg.memKeys)} keys, 256 B)`, kind: 'lower-better' },
    { key: 'restart', label: 'restart-to-ready after kill -9, follower holding those keys', kind: 'lower-better', loadSensitive: true },
    { key: 'snapshot', label: 'etcdctl snapshot save throughput', kind: 'higher-better' },
    {
      key: 'backup-s3',
      label:
        'backup of the member holding those keys to local S3 (MinIO): kvorum = the operator\'s takeBackup; ' +
        'etcd = its Maintenance.Snapshot through the same client and uploader (the ratio\'s reference; the second ratio is against etcd\'s snapshot save to local disk)',
      kind: 'higher-better',
      refLabel: 'etcd snapshot save to disk',
    },
    {
      key: 'rss-overwrite',
      label:
        `leader RSS after ${cfg.overwrite.rounds} rounds of ${fmtCount(cfg.overwrite.putsPerRound)} overwrites of ${fmtCount(cfg.overwrite.keySpace)} keys ` +
        `(--auto-compaction-mode periodic, retention ${cfg.overwrite.retention}), as % of its RSS after round 2`,
      kind: 'lower-better',
    },
    { key: 'catchup', label: `catch-up after ${fmtCount(cfg.catchupWrites)} writes while down`, kind: 'lower-better', loadSensitive: true },
    {
      key: 'rolling-restart',
      label: `rolling restart without the operator (SIGTERM, restart, healthy and caught up; followers first, leader last), 3 members under ${cfg.rolling.rate} puts/s: failed requests`,
      kind: 'lower-better',
      atMostEtcd: true,
    },
  );
  return rows;
}

/** Rows whose steps another row needs: the loaded keys, and etcd's snapshot save as the backup row's second reference. */
const NEEDS: Record<string, string[]> = {
  restart: ['rss-per-m'],
  snapshot: ['rss-per-m'],
  'backup-s3': ['rss-per-m', 'snapshot'],
  catchup: ['rss-per-m'],
  'watch-scale-1-health': ['watch-scale-1'],
  'watch-scale-n-health': ['watch-scale-n'],
};

/**
 * The rows to run for a `--rows` list: each entry names a row key or a key
 * prefix (`kube`, `put`), and the rows they need come along. An entry that
 * matches no row is an error.
 */
export function expandRows(cfg: SuiteConfig, names: string[]): Set<string> {
  const known = rowDefs(cfg).map((r) => r.key);
  const out = new Set<string>();
  for (const n of names) {
    const hits = known.includes(n) ? [n] : known.filter((k) => k.startsWith(n));
    if (hits.length === 0) throw new Error(`--rows: no row key is or starts with "${n}" (keys: ${known.join(', ')})`);
    for (const k of hits) {
      out.add(k);
      for (const dep of NEEDS[k] ?? []) out.add(dep);
    }
  }
  return out;
}

export function fmtCount(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1_000 && n % 1_000 === 0) return `${n / 1_000}k`;
  if (n >= 10_000) return `${(n / 1_000).toFixed(1)}k`;
  return String(n);
}

export type Progress = (msg: string) => void;

/** Runs every workload against one system; never throws, failures become cells. */
export class SuiteRun {
  readonly cells = new Map<string, Cell>();
  private deadline = Number.POSITIVE_INFINITY;

  constructor(
    private readonly spec: SystemSpec,
    private readonly tools: Tools,
    private readonly cfg: SuiteConfig,
    private readonly workDir: string,
    private readonly log: Progress,
  ) {}

  private remainingMs(): number {
    return this.deadline - performance.now();
  }

  private fail(keys: string[], error: string): void {
    for (const k of keys) if (this.wanted(k) && !this.cells.has(k)) this.cells.set(k, { ok: false, error });
  }

  private async bench(cluster: Cluster, globals: string[], args: string[], endpoints = cluster.endpoints(), timeoutMs = this.cfg.stepTimeoutMs): Promise<Summary[]> {
    for (let i = 0; i < cluster.size; i++) {
      if (endpoints.includes(cluster.endpoint(i)) && !cluster.running(i)) throw new Error(`member m${i + 1} is not running`);
    }
    const r = await runCommand(this.tools.benchmark, ['--endpoints', endpoints.join(','), '--dial-timeout', '5s', ...globals, ...args], {
      timeoutMs,
    });
    if (r.timedOut) {
      const p = lastProgress(r.stdout + r.stderr);
      if (p && p.done > 0) throw new CutShort(p.done, p.total, r.elapsedMs);
      throw new Error(`timed out after ${Math.round(r.elapsedMs / 1000)}s with no request done`);
    }
    const summaries = parseBenchmark(r.stdout);
    if (r.code !== 0 || summaries.length === 0) {
      const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').filter((l) => !/INFO: \[/.test(l)).slice(-1)[0] ?? '';
      throw new Error(`benchmark exited ${r.code ?? r.signal}: ${tail.slice(0, 160)}`);
    }
    return summaries;
  }

  /** Runs a benchmark whose first summary is the cell; a run cut short by its time bound gives an approximate rate. */
  private async measured(cluster: Cluster, globals: string[], args: string[]): Promise<Cell> {
    try {
      return fromSummary((await this.bench(cluster, globals, args))[0]);
    } catch (e) {
      if (!(e instanceof CutShort)) throw e;
      return { ok: true, approx: true, rps: e.done / (e.elapsedMs / 1000), done: e.done, note: `cut short by its ${Math.round(e.elapsedMs / 1000)} s bound after ${e.done}/${e.total} requests; rate = done/elapsed, no latency figures` };
    }
  }

  /** Whether any of the rows is to run (all are, without --rows). */
  private wanted(...keys: string[]): boolean {
    const rows = this.cfg.rows;
    return !rows || keys.some((k) => rows.has(k));
  }

  private async step(key: string, fn: () => Promise<Cell>, budgeted = false): Promise<void> {
    if (!this.wanted(key)) return;
    const t0 = performance.now();
    if (budgeted && this.remainingMs() <= 0) {
      this.cells.set(key, { ok: false, skipped: true, error: `skipped: the ${Math.round(this.cfg.budgetMs / 1000)} s budget for load workloads was used up` });
      this.log(`  ${key}: skipped (time budget used up)`);
      return;
    }
    try {
      this.cells.set(key, await fn());
    } catch (e) {
      this.cells.set(key, { ok: false, error: e instanceof Error ? e.message : String(e) });
    }
    const c = this.cells.get(key) as Cell;
    this.log(`  ${key}: ${c.ok ? describe(c) : `failed: ${c.error}`} (${((performance.now() - t0) / 1000).toFixed(1)}s)`);
    if (c.ok && c.note && VERBOSE_NOTES.has(key)) this.log(`    ${c.note}`);
  }

  private async freshCluster(name: string, members?: number, extraFlags?: string[]): Promise<Cluster> {
    const dir = join(this.workDir, `${this.spec.kind}-${name}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const base = await pickPorts(this.cfg.basePort);
    const cluster = new Cluster(this.spec, dir, base, this.tools.etcdctl, members, extraFlags);
    try {
      const ms = await cluster.start(60_000);
      this.log(`  cluster ${name} ready in ${(ms / 1000).toFixed(1)}s on ports ${cluster.endpoints().join(',')}`);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  private async finish(cluster: Cluster): Promise<void> {
    await cluster.stop();
    for (let i = 0; i < cluster.size; i++) rmSync(cluster.dataDir(i), { recursive: true, force: true });
  }

  async run(): Promise<void> {
    if (this.wanted(...WORKLOAD_KEYS, ...PERF_KEYS)) await this.workloads();
    if (this.wanted(...kubeApiserverRows(this.cfg).map((r) => r.key))) {
      await runKubeApiserverRows(this.spec, this.tools.etcdctl, this.cfg, this.workDir, this.log, this.cells);
    }
    if (this.wanted(...SINGLE_PUT_KEYS)) await this.singleMember();
    if (this.wanted(...DURABILITY_KEYS)) await this.durability();
    if (this.wanted('rss-overwrite')) await this.overwrite();
    if (this.wanted('rolling-restart')) await this.rolling();
    if (this.wanted(...WATCH_SCALE_KEYS)) await this.watchScale();
  }

  /**
   * A put row: etcd's benchmark tool against the cluster, with the members' CPU
   * time (from /proc) over the run divided by the writes it saw acknowledged.
   */
  private async put(cluster: Cluster, clients: number, conns: number, total: number): Promise<Cell> {
    const cpu0 = cluster.cpuSeconds();
    const t0 = performance.now();
    const cell = await this.measured(cluster, ['--clients', String(clients), '--conns', String(conns)], ['put', '--total', String(total), '--val-size', '256', '--key-space-size', '100000']);
    const cpu = cluster.cpuSeconds() - cpu0;
    const wallSecs = (performance.now() - t0) / 1000;
    if (cell.ok && cell.done) {
      cell.cpuUsPerWrite = (cpu / cell.done) * 1e6;
      cell.cores = cpu / wallSecs;
    }
    return cell;
  }

  /**
   * An unmeasured put load before the first measured put row of a fresh cluster,
   * so the rows measure warm members (a just-started Node member is still
   * compiling its hot paths; production members run warm).
   */
  private async warmUp(cluster: Cluster): Promise<void> {
    const total = Math.max(2_000, Math.round(this.cfg.putTotals.c100 / 4));
    try {
      await this.bench(cluster, ['--clients', '100', '--conns', '10'], ['put', '--total', String(total), '--val-size', '256', '--key-space-size', '100000']);
    } catch (e) {
      this.log(`  warm-up put: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The put rows again on a fresh single-member cluster (no replication: the client path, WAL and apply alone). */
  private async singleMember(): Promise<void> {
    const keys = SINGLE_PUT_KEYS;
    let cluster: Cluster;
    try {
      cluster = await this.freshCluster('single', 1);
    } catch (e) {
      this.fail(keys.filter((k) => this.wanted(k)), `cluster did not start: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.deadline = performance.now() + this.cfg.budgetMs;
    try {
      await this.warmUp(cluster);
      const c = this.cfg.putTotals;
      await this.step('put-1-single', () => this.put(cluster, 1, 1, c.c1), true);
      await this.step('put-100-single', () => this.put(cluster, 100, 10, c.c100), true);
      await this.step('put-1000-single', () => this.put(cluster, 1000, 100, c.c1000), true);
    } finally {
      await this.finish(cluster);
    }
  }

  private async workloads(): Promise<void> {
    const keys = WORKLOAD_KEYS;
    const perfKeys = PERF_KEYS;
    let cluster: Cluster;
    try {
      cluster = await this.freshCluster('workloads');
    } catch (e) {
      this.fail([...keys, ...perfKeys].filter((k) => this.wanted(k)), `cluster did not start: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.deadline = performance.now() + this.cfg.budgetMs;
    try {
      const c = this.cfg;
      if (['put-1', 'put-100', 'put-1000'].some((k) => this.wanted(k))) await this.warmUp(cluster);
      await this.step('put-1', () => this.put(cluster, 1, 1, c.putTotals.c1), true);
      await this.step('put-100', () => this.put(cluster, 100, 10, c.putTotals.c100), true);
      await this.step('put-1000', () => this.put(cluster, 1000, 100, c.putTotals.c1000), true);
      if (!['range-l', 'range-s', 'txn-put', 'watch', 'watch-latency', 'lease-keepalive', ...perfKeys].some((k) => this.wanted(k))) return;

      const seed = await runCommand(this.tools.etcdctl, ['--endpoints', cluster.endpoints().join(','), 'put', 'bench-range-key', 'x'.repeat(256)], { timeoutMs: 10_000 });
      const seedErr = seed.code === 0 ? '' : `seeding the range key failed: ${(seed.stderr || seed.stdout).trim()}`;
      for (const mode of ['l', 's']) {
        await this.step(`range-${mode}`, async () => {
          if (seedErr) throw new Error(seedErr);
          return this.measured(cluster, ['--clients', '100', '--conns', '10'], ['range', 'bench-range-key', '--consistency', mode, '--total', String(c.rangeTotal)]);
        }, true);
      }
      await this.step('txn-put', async () => {
        return this.measured(cluster, ['--clients', '100', '--conns', '10'], ['txn-put', '--total', String(c.txnTotal), '--val-size', '256', '--key-space-size', '100000']);
      }, true);
      await this.step('watch', async () => {
        const round = async (): Promise<Cell> => {
          const s = await this.bench(cluster, ['--clients', String(c.watch.streams), '--conns', String(c.watch.streams)], [
            'watch', '--streams', String(c.watch.streams), '--watch-per-stream', String(c.watch.perStream),
            '--put-total', String(c.watch.puts), '--watched-key-total', String(c.watch.streams),
          ]);
          const events = s.find((x) => /events received/i.test(x.title)) ?? s[s.length - 1];
          const creation = s.find((x) => /creation/i.test(x.title));
          const cell = fromSummary(events);
          if (cell.ok && creation?.requestsPerSec !== undefined) cell.note = `watch creation ${Math.round(creation.requestsPerSec)}/s`;
          return cell;
        };
        // A first round unmeasured, as the put rows' warm-up: the load lasts
        // well under a second, and a fresh member's first round ran at about
        // two thirds of the next ones' rate (bench/RESULTS.md, tenth pass).
        let first = 'failed';
        try {
          const warm = await round();
          if (warm.ok && warm.rps !== undefined) first = `${Math.round(warm.rps)}/s`;
        } catch (e) {
          this.log(`  warm-up watch: ${e instanceof Error ? e.message : String(e)}`);
        }
        const cell = await round();
        if (cell.ok) cell.note = `${cell.note ? `${cell.note}; ` : ''}first round (not counted) ${first}`;
        return cell;
      }, true);
      await this.step('watch-latency', async () => {
        const w = c.watchLatency;
        const s = await this.bench(cluster, ['--clients', String(w.watchers), '--conns', '10'], ['watch-latency', '--total', String(w.puts), '--put-rate', String(w.rate), '--val-size', '256']);
        const cell = fromSummary(s[0]);
        if (cell.ok) delete cell.rps;
        return cell;
      }, true);
      await this.step('lease-keepalive', async () => {
        return this.measured(cluster, ['--clients', '100', '--conns', '10'], ['lease-keepalive', '--total', String(c.leaseTotal)]);
      }, true);
      for (const load of ['m', 'l', 'xl']) {
        if (!this.wanted(`check-perf-${load}`)) continue;
        if (!c.checkPerfLoads.includes(load)) {
          this.cells.set(`check-perf-${load}`, { ok: false, skipped: true, error: c.quick ? 'skipped in --quick (check perf always runs 60 s)' : 'skipped' });
          continue;
        }
        await this.step(`check-perf-${load}`, () => this.checkPerf(cluster, load));
      }
    } finally {
      await this.finish(cluster);
    }
  }

  private async checkPerf(cluster: Cluster, load: string): Promise<Cell> {
    for (let i = 0; i < cluster.size; i++) if (!cluster.running(i)) throw new Error(`member m${i + 1} is not running`);
    const r = await runCommand(this.tools.etcdctl, ['--endpoints', cluster.endpoints().join(','), 'check', 'perf', `--load=${load}`], {
      timeoutMs: this.cfg.checkPerfTimeoutMs,
    });
    const p = parseCheckPerf(r.stdout + '\n' + r.stderr);
    if (r.timedOut && p.writesPerSec === undefined) throw new Error(`killed after ${Math.round(r.elapsedMs / 1000)}s without a result`);
    if (p.writesPerSec === undefined) {
      const prog = lastProgress(r.stdout + r.stderr);
      const when = prog && prog.done === prog.total ? `after its ${prog.total} s load ran to the end` : prog ? `at ${prog.done}/${prog.total} s of load` : 'before any load';
      const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-1)[0]?.slice(0, 160) ?? '';
      throw new Error(`etcdctl exited ${r.code ?? r.signal} without a verdict, ${when}: ${why}`);
    }
    const fails = p.lines.filter((l) => !l.startsWith('PASS') && l !== 'FAIL').map((l) => l.replace(/^FAIL:\s*/, ''));
    return {
      ok: true,
      rps: p.writesPerSec,
      note: `${p.verdict ?? '?'}${fails.length ? ` (${fails.join('; ')})` : ''}, slowest ${fmtMs(p.slowestMs)}, stddev ${fmtMs(p.stddevMs)}`,
    };
  }

  /** Memory, restart-to-ready, snapshot save, backup to S3 and catch-up, on one fresh cluster. */
  private async durability(): Promise<void> {
    const keys = DURABILITY_KEYS.filter((k) => this.wanted(k));
    let cluster: Cluster;
    try {
      cluster = await this.freshCluster('durability');
    } catch (e) {
      this.fail(keys.filter((k) => this.wanted(k)), `cluster did not start: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    try {
      const n = this.cfg.memKeys;
      let loaded = 0;
      await this.step('rss-per-m', async () => {
        await sleep(1000);
        const before = [0, 1, 2].map((i) => cluster.rss(i) ?? 0);
        const t0 = performance.now();
        let cut = '';
        try {
          await this.bench(cluster, ['--clients', '1000', '--conns', '100'], [
            'put', '--total', String(n), '--key-space-size', String(n), '--sequential-keys', '--val-size', '256',
          ], cluster.endpoints(), this.cfg.memLoadTimeoutMs);
        } catch (e) {
          if (!(e instanceof CutShort)) throw e;
          cut = `load cut short by its ${Math.round(e.elapsedMs / 1000)} s bound (${e.done}/${e.total} acknowledged); `;
        }
        const loadSecs = (performance.now() - t0) / 1000;
        await sleep(2000);
        loaded = cut ? await this.countKeys(cluster) : n;
        if (loaded < 1000) throw new Error(`${cut}only ${loaded} keys stored`);
        const leader = await cluster.leader();
        const after = [0, 1, 2].map((i) => cluster.rss(i) ?? 0);
        const per = (i: number): number => ((after[i] - before[i]) / loaded) * 1_000_000;
        return {
          ok: true,
          value: per(leader) / 2 ** 20,
          unit: 'MiB',
          detail: `from ${fmtCount(loaded)} keys`,
          note: `${cut}${fmtCount(loaded)} keys loaded in ${loadSecs.toFixed(1)}s; leader RSS ${mib(before[leader])}→${mib(after[leader])}; members now ${after.map(mib).join(' / ')}`,
        };
      });
      await this.step('restart', async () => {
        if (!loaded) throw new Error('needs the keys of the memory step');
        const leader = await cluster.leader();
        const target = (await cluster.status(leader)).revision;
        const f = (leader + 1) % cluster.size;
        await cluster.stopMember(f, 'SIGKILL');
        const t0 = performance.now();
        cluster.startMember(f);
        await cluster.waitHealthy([cluster.endpoint(f)], 120_000);
        const healthy = (performance.now() - t0) / 1000;
        await cluster.waitRevision(f, target, t0 + 120_000);
        const ready = (performance.now() - t0) / 1000;
        return { ok: true, value: ready, unit: 's', detail: `${fmtCount(loaded)} keys`, note: `${fmtCount(loaded)} keys; healthy after ${healthy.toFixed(2)}s, leader's revision ${target} reached after ${ready.toFixed(2)}s` };
      });
      await this.step('snapshot', async () => {
        const leader = await cluster.leader();
        const file = join(cluster.dir, 'snapshot.db');
        rmSync(file, { force: true });
        const cpu0 = cluster.cpuSeconds();
        const r = await runCommand(this.tools.etcdctl, ['--endpoints', cluster.endpoint(leader), '--command-timeout', '120s', 'snapshot', 'save', file], { timeoutMs: 150_000 });
        const cpu = cluster.cpuSeconds() - cpu0;
        if (r.code !== 0) throw new Error(`snapshot save exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]?.slice(0, 160) ?? ''}`);
        const bytes = statSync(file).size;
        rmSync(file, { force: true });
        const secs = r.elapsedMs / 1000;
        // The two formats differ in size for the same keys: the time per key compares the saves of the same state.
        const perKey = loaded ? `; ${fmtCount(loaded)} keys, ${fmtCount(Math.round(loaded / secs))} keys/s` : '';
        return { ok: true, value: bytes / 2 ** 20 / secs, unit: 'MiB/s', note: `${mib(bytes)} in ${secs.toFixed(2)}s${perKey}; members' CPU ${cpu.toFixed(2)} s` };
      });
      await this.step('backup-s3', () => this.backupS3(cluster, loaded));
      await this.step('catchup', async () => {
        const leader = await cluster.leader();
        const f = (leader + 2) % cluster.size;
        await cluster.stopMember(f, 'SIGTERM');
        const others = cluster.endpoints().filter((_, i) => i !== f);
        let written = `${fmtCount(this.cfg.catchupWrites)} writes`;
        try {
          await this.bench(cluster, ['--clients', '1000', '--conns', '100'], [
            'put', '--total', String(this.cfg.catchupWrites), '--key-space-size', '100000', '--val-size', '256',
          ], others);
        } catch (e) {
          if (!(e instanceof CutShort)) throw e;
          written = `only ${e.done} of ${fmtCount(this.cfg.catchupWrites)} writes done within ${Math.round(e.elapsedMs / 1000)} s`;
        }
        const target = (await cluster.status(await cluster.leader())).revision;
        const t0 = performance.now();
        cluster.startMember(f);
        await cluster.waitRevision(f, target, t0 + 180_000);
        const secs = (performance.now() - t0) / 1000;
        return { ok: true, value: secs, unit: 's', detail: written.startsWith('only') ? `${written.split(' ')[1]} writes only` : undefined, note: `${written} while down; from process start to revision ${target}` };
      });
    } finally {
      await this.finish(cluster);
    }
  }

  /** One backup into a MinIO started for it (and stopped after). */
  private async backupS3(cluster: Cluster, loaded: number): Promise<Cell> {
    if (!loaded) throw new Error('needs the keys of the memory step');
    const dir = join(this.workDir, `${this.spec.kind}-s3`);
    rmSync(dir, { recursive: true, force: true });
    const s3 = await startMinio(await minioBinary(this.spec.cwd), dir, this.cfg.s3Port);
    let b: BackupTiming;
    try {
      b = this.spec.kind === 'kvorum' && this.spec.argsPrefix.length > 0
        ? await kvorumBackup(cluster.endpoints(), s3, 'bench-backup')
        : await etcdBackup(cluster.endpoints(), s3, 'bench-backup');
    } finally {
      await s3.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    const secs = b.totalMs / 1000;
    const save = this.cells.get('snapshot');
    const saveRate = this.spec.kind === 'etcd' && save?.ok ? save.value : undefined;
    return {
      ok: true,
      value: b.bytes / 2 ** 20 / secs,
      unit: 'MiB/s',
      detail: `${mib(b.bytes)} in ${secs.toFixed(2)} s${saveRate !== undefined ? `; snapshot save to disk ${saveRate.toFixed(0)} MiB/s` : ''}`,
      ...(saveRate !== undefined && { ref: saveRate }),
      note:
        `${fmtCount(loaded)} keys, from ${b.member}: ${mib(b.bytes)} in ${secs.toFixed(2)} s end to end; ` +
        `snapshot streamed and uploaded in ${(b.streamMs / 1000).toFixed(2)} s, HashKV ${(b.hashMs / 1000).toFixed(2)} s${b.hashed ? '' : ' (failed: no hash recorded)'}`,
    };
  }

  /**
   * Memory over time: the same keys overwritten round after round on a fresh
   * cluster that compacts its history every few seconds. With compaction the
   * leader's RSS should level off after the first rounds (a flat figure near
   * 100%); a store that keeps old revisions or leaks grows with every round.
   */
  private async overwrite(): Promise<void> {
    const o = this.cfg.overwrite;
    let cluster: Cluster;
    try {
      cluster = await this.freshCluster('overwrite', 3, ['--auto-compaction-mode', 'periodic', '--auto-compaction-retention', o.retention]);
    } catch (e) {
      this.fail(['rss-overwrite'], `cluster did not start: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    try {
      await this.step('rss-overwrite', async () => {
        const rss: number[] = [];
        for (let round = 1; round <= o.rounds; round++) {
          await this.bench(cluster, ['--clients', '100', '--conns', '10'], [
            'put', '--total', String(o.putsPerRound), '--rate', String(o.rate), '--key-space-size', String(o.keySpace), '--val-size', '256',
          ], cluster.endpoints(), Math.max(this.cfg.stepTimeoutMs, (o.putsPerRound / o.rate) * 3_000));
          rss.push(cluster.rss(await cluster.leader()) ?? 0);
        }
        const warm = rss[Math.min(1, rss.length - 1)]!;
        const last = rss[rss.length - 1]!;
        const revision = (await cluster.status(await cluster.leader())).revision;
        return {
          ok: true,
          value: (last / warm) * 100,
          unit: '%',
          detail: `${mib(warm)} → ${mib(last)}`,
          note: `leader RSS after each round: ${rss.map(mib).join(', ')}; ${fmtCount(o.rounds * o.putsPerRound)} puts, revision ${revision}`,
        };
      });
    } finally {
      await this.finish(cluster);
    }
  }

  /** Rolling restart of every member under a steady write load, on a fresh cluster. */
  private async rolling(): Promise<void> {
    let cluster: Cluster;
    try {
      cluster = await this.freshCluster('rolling');
    } catch (e) {
      this.fail(['rolling-restart'], `cluster did not start: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    try {
      await this.step('rolling-restart', async () => {
        const r = await rollingRestart(cluster, this.tools.benchmark, this.cfg.rolling, this.log);
        const errs = [...r.errors].sort((a, b) => b[1] - a[1]).map(([msg, n]) => `${n}× ${msg}`);
        const steps = r.steps.map((s) => `${s.member} (${s.role}) stop ${(s.stopMs / 1000).toFixed(2)} s, ready ${(s.readyMs / 1000).toFixed(2)} s`);
        return {
          ok: true,
          value: r.failed,
          unit: 'failed',
          detail: `of ${fmtCount(r.total)}`,
          ...(!r.restartsInsideLoad && { approx: true }),
          note:
            `${r.failed} of ${r.total} puts failed${errs.length ? ` (${errs.join('; ')})` : ''}; ` +
            `restarts took ${(r.restartsMs / 1000).toFixed(1)} s: ${steps.join(', ')}; raft term ${r.termBefore}→${r.termAfter}` +
            (r.restartsInsideLoad ? '' : '; the load ENDED BEFORE THE LAST RESTART, so failures after it were not seen'),
        };
      });
    } finally {
      await this.finish(cluster);
    }
  }

  /**
   * Watch scale on a fresh cluster: the configured number of watchers created
   * at once against the leader, first on one stream, then spread over many
   * (the first mode's streams closed in between), /health polled meanwhile.
   */
  private async watchScale(): Promise<void> {
    let cluster: Cluster;
    try {
      cluster = await this.freshCluster('watch-scale');
    } catch (e) {
      this.fail(WATCH_SCALE_KEYS, `cluster did not start: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const ws = this.cfg.watchScale;
    try {
      // Unmeasured: a just-started Node member still compiles its hot paths (as for the put rows).
      try {
        await createWatchers(cluster.endpoint(await cluster.leader()), 1_000, 1, ws.timeoutMs);
        await sleep(1000);
      } catch (e) {
        this.log(`  watch-scale warm-up: ${e instanceof Error ? e.message : String(e)}`);
      }
      for (const [key, streams] of [['watch-scale-1', 1], ['watch-scale-n', ws.streams]] as const) {
        if (!this.wanted(key, `${key}-health`)) continue;
        let health: Cell | undefined;
        await this.step(key, async () => {
          const leader = await cluster.leader();
          const term0 = (await cluster.status(leader)).raftTerm;
          const r = await createWatchers(cluster.endpoint(leader), ws.watchers, streams, ws.timeoutMs);
          // Let the member drop the closed streams' watchers before anything else runs.
          await sleep(2000);
          const after = await cluster.status(await cluster.leader());
          const changes = after.raftTerm !== term0 ? `; LEADER CHANGED (term ${term0}→${after.raftTerm})` : '; no leader change';
          const note =
            `${fmtCount(r.created)} of ${fmtCount(ws.watchers)} created in ${(r.elapsedMs / 1000).toFixed(2)} s on ${streams} stream(s)` +
            `${r.canceled ? `, ${r.canceled} canceled` : ''}; /health worst ${fmtMs(r.worstHealthMs)} over ${r.polls} polls` +
            `${r.healthFailures ? `, ${r.healthFailures} failed` : ''}${changes}`;
          health = { ok: true, value: r.worstHealthMs, unit: 'ms', detail: `${r.polls} polls${r.healthFailures ? `, ${r.healthFailures} failed` : ''}`, note };
          return {
            ok: true,
            value: r.created / (r.elapsedMs / 1000),
            unit: 'watchers/s',
            ...(!r.complete && { approx: true, detail: `only ${fmtCount(r.created)} created within ${Math.round(ws.timeoutMs / 1000)} s` }),
            note,
          };
        });
        await this.step(`${key}-health`, async () => {
          if (!health) throw new Error('the creation step failed');
          return health;
        });
      }
    } finally {
      await this.finish(cluster);
    }
  }

  /** Number of keys in the cluster (the count of `etcdctl get --prefix "" --limit 1`). */
  private async countKeys(cluster: Cluster): Promise<number> {
    // A range with limit 1 still reports how many keys the whole range holds.
    const r = await runCommand(this.tools.etcdctl, ['--endpoints', cluster.endpoints().join(','), '--command-timeout', '60s', 'get', '', '--prefix', '--limit', '1', '-w', 'json'], {
      timeoutMs: 70_000,
    });
    const m = /"count":\s*(\d+)/.exec(r.stdout);
    if (r.code !== 0) throw new Error(`counting keys failed: ${(r.stderr || r.stdout).trim().slice(0, 160)}`);
    // JSON output leaves out zero-valued fields.
    return m ? Number(m[1]) : 0;
  }
}

const WORKLOAD_KEYS = ['put-1', 'put-100', 'put-1000', 'range-l', 'range-s', 'txn-put', 'watch', 'watch-latency', 'lease-keepalive'];
const PERF_KEYS = ['m', 'l', 'xl'].map((l) => `check-perf-${l}`);
/** Rows whose notes also go to the progress log (they explain a count or a breakdown). */
const VERBOSE_NOTES = new Set(['backup-s3', 'rolling-restart', 'rss-overwrite', 'watch-scale-1', 'watch-scale-n']);
const SINGLE_PUT_KEYS = ['put-1-single', 'put-100-single', 'put-1000-single'];
const DURABILITY_KEYS = ['rss-per-m', 'restart', 'snapshot', 'backup-s3', 'catchup'];
const WATCH_SCALE_KEYS = ['watch-scale-1', 'watch-scale-1-health', 'watch-scale-n', 'watch-scale-n-health'];

/** A benchmark run stopped by its time bound, with the progress it had made. */
class CutShort extends Error {
  constructor(
    readonly done: number,
    readonly total: number,
    readonly elapsedMs: number,
  ) {
    super(`timed out after ${Math.round(elapsedMs / 1000)}s at ${done}/${total} (~${Math.round(done / (elapsedMs / 1000))} req/s)`);
  }
}

function fromSummary(s: Summary): Cell & { ok: true } {
  // The tool's rate counts successful requests only (failures go to its error list).
  const done = s.requestsPerSec !== undefined && s.totalSecs !== undefined ? Math.round(s.requestsPerSec * s.totalSecs) : undefined;
  return { ok: true, rps: s.requestsPerSec, avgMs: s.avgMs, p99Ms: s.p99Ms, done };
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return '?';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function describe(c: Cell & { ok: true }): string {
  const parts: string[] = [];
  if (c.rps !== undefined) parts.push(`${c.approx ? '~' : ''}${Math.round(c.rps)}/s${c.approx ? ' (cut short, see notes)' : ''}`);
  if (c.avgMs !== undefined && c.rps === undefined) parts.push(`avg ${fmtMs(c.avgMs)}`);
  if (c.p99Ms !== undefined && c.p99Ms >= 0.05) parts.push(`p99 ${fmtMs(c.p99Ms)}`);
  if (c.cpuUsPerWrite !== undefined) parts.push(`cpu ${c.cpuUsPerWrite.toFixed(0)} µs/write (${(c.cores ?? 0).toFixed(2)} cores)`);
  if (c.value !== undefined) parts.push(`${c.approx && c.rps === undefined ? '~' : ''}${Number.isInteger(c.value) || c.value >= 100 ? c.value.toFixed(0) : c.value.toFixed(2)} ${c.unit ?? ''}`.trim());
  if (c.detail) parts.push(c.detail);
  return parts.join(', ');
}

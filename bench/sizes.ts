// `npm run bench:sizes`: the price of each extra member. For 1, 3, 5 and 7
// members of etcd and of Kvorum (the same run, the same flags), put at 100
// clients over 10 connections, 256-byte values: throughput, p50, p99, the
// members' CPU per acknowledged write and the cores they used; the median of
// several runs per cell. Writes bench/SIZES.md and the chart bench/sizes.svg.
// Not a test: nothing here asserts a time.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineChart } from './chart.js';
import { Cluster, pickPorts, type SystemSpec } from './cluster.js';
import { parseBenchmark } from './parse.js';
import { runCommand } from './proc.js';
import { kvorumUsable, nodeFlags, prepareTools, repoRoot } from './setup.js';

interface Options {
  sizes: number[];
  runs: number;
  total: number;
  out: string;
  svg: string;
}

const USAGE = `usage: npm run bench:sizes -- [--sizes 1,3,5,7] [--runs 3] [--total 20000] [--out FILE|-] [--svg FILE|-] [--quick]
  --quick   sizes 1,3, one run of 2000 puts each (a smoke run; writes nothing unless --out/--svg are given)`;

interface Measure {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Members' CPU milliseconds per acknowledged write. */
  cpuMsPerWrite: number;
  cores: number;
}

type Kind = SystemSpec['kind'];

function parseArgs(argv: string[], repo: string): Options {
  const o: Options = { sizes: [1, 3, 5, 7], runs: 3, total: 20_000, out: join(repo, 'bench', 'SIZES.md'), svg: join(repo, 'bench', 'sizes.svg') };
  let quick = false;
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      given.add(a);
      return v;
    };
    const positive = (v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} takes a whole number above 0, not "${v}"`);
      return n;
    };
    if (a === '--sizes') o.sizes = value().split(',').map(positive);
    else if (a === '--runs') o.runs = positive(value());
    else if (a === '--total') o.total = positive(value());
    else if (a === '--out') o.out = value();
    else if (a === '--svg') o.svg = value();
    else if (a === '--quick') quick = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (quick) {
    if (!given.has('--sizes')) o.sizes = [1, 3];
    if (!given.has('--runs')) o.runs = 1;
    if (!given.has('--total')) o.total = 2000;
    if (!given.has('--out')) o.out = '-';
    if (!given.has('--svg')) o.svg = '-';
  }
  return o;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function progress(msg: string): void {
  process.stderr.write(`[bench:sizes] ${msg}\n`);
}

/** One fresh cluster of `size` members, one put workload, the figures. */
async function measureOnce(spec: SystemSpec, size: number, total: number, tools: { etcdctl: string; benchmark: string }, workDir: string): Promise<Measure> {
  const dir = join(workDir, `${spec.kind}-${size}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const cluster = new Cluster(spec, dir, await pickPorts(24379, size), tools.etcdctl, size);
  try {
    await cluster.start(90_000);
    const cpuBefore = cluster.cpuSeconds();
    const t0 = performance.now();
    const r = await runCommand(
      tools.benchmark,
      ['--endpoints', cluster.endpoints().join(','), '--dial-timeout', '5s', '--conns', '10', '--clients', '100', 'put', '--total', String(total), '--val-size', '256', '--key-space-size', '100000'],
      { timeoutMs: 120_000 },
    );
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = cluster.cpuSeconds() - cpuBefore;
    const summary = parseBenchmark(r.stdout)[0];
    if (r.code !== 0 || !summary?.requestsPerSec) throw new Error(`benchmark exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0]?.slice(0, 160) ?? ''}`);
    return {
      rps: summary.requestsPerSec,
      p50Ms: summary.p50Ms ?? Number.NaN,
      p99Ms: summary.p99Ms ?? Number.NaN,
      cpuMsPerWrite: (cpu * 1000) / total,
      cores: cpu / elapsed,
    };
  } finally {
    await cluster.stop();
  }
}

function cellText(m: Measure | undefined): string {
  if (!m) return 'failed';
  return `${Math.round(m.rps)}/s, p50 ${m.p50Ms.toFixed(1)} ms, p99 ${m.p99Ms.toFixed(1)} ms, ${(m.cpuMsPerWrite * 1000).toFixed(0)} µs CPU/write, ${m.cores.toFixed(2)} cores`;
}

async function main(): Promise<number> {
  const repo = repoRoot();
  const opts = parseArgs(process.argv.slice(2), repo);
  const tools = await prepareTools(repo);
  const unusable = await kvorumUsable(repo);
  if (unusable) throw new Error(`the Kvorum node cannot run: ${unusable}`);
  const specs: SystemSpec[] = [
    { kind: 'etcd', label: 'etcd', command: tools.etcd, argsPrefix: [], cwd: repo },
    { kind: 'kvorum', label: 'kvorum', command: process.execPath, argsPrefix: [...nodeFlags(), 'bin/kvorum', 'node'], cwd: repo },
  ];
  const workDir = mkdtempSync(join(tmpdir(), 'kvorum-bench-sizes-'));
  const results = new Map<string, Measure | undefined>();
  const failures: string[] = [];
  const started = performance.now();
  try {
    for (const size of opts.sizes) {
      const runs: Record<Kind, Measure[]> = { etcd: [], kvorum: [] };
      // Alternate the systems run by run, so a burst of load elsewhere on the
      // machine lands on both rather than on one.
      for (let run = 0; run < opts.runs; run++) {
        for (const spec of specs) {
          try {
            const m = await measureOnce(spec, size, opts.total, tools, workDir);
            runs[spec.kind].push(m);
            progress(`${size} members, ${spec.kind}, run ${run + 1}: ${cellText(m)}`);
          } catch (e) {
            const msg = `${size} members, ${spec.kind}, run ${run + 1}: ${e instanceof Error ? e.message : String(e)}`;
            failures.push(msg);
            progress(msg);
          }
        }
      }
      for (const kind of ['etcd', 'kvorum'] as const) {
        const ms = runs[kind];
        results.set(
          `${kind}/${size}`,
          ms.length === 0
            ? undefined
            : {
                rps: median(ms.map((m) => m.rps)),
                p50Ms: median(ms.map((m) => m.p50Ms)),
                p99Ms: median(ms.map((m) => m.p99Ms)),
                cpuMsPerWrite: median(ms.map((m) => m.cpuMsPerWrite)),
                cores: median(ms.map((m) => m.cores)),
              },
        );
      }
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }

  const rows = opts.sizes.map((size) => {
    const e = results.get(`etcd/${size}`);
    const k = results.get(`kvorum/${size}`);
    const ratio = e && k ? `thr ${(k.rps / e.rps).toFixed(2)}×, p99 ${(k.p99Ms / e.p99Ms).toFixed(2)}×, CPU/write ${(k.cpuMsPerWrite / e.cpuMsPerWrite).toFixed(2)}×` : '';
    return `| ${size} | ${cellText(e)} | ${cellText(k)} | ${ratio} |`;
  });
  const tbl = ['| members | etcd | kvorum | ratio (kvorum/etcd) |', '|---|---|---|---|', ...rows].join('\n');
  process.stdout.write(tbl + '\n');
  const secs = (performance.now() - started) / 1000;
  const caption = `put, 100 clients / 10 conns, 256 B; median of ${opts.runs} run(s) of ${opts.total} puts`;
  if (opts.svg !== '-') {
    const series = (kind: Kind, color: string, pick: (m: Measure) => number) => ({
      name: kind,
      color,
      points: new Map(opts.sizes.map((s) => [s, results.get(`${kind}/${s}`) && pick(results.get(`${kind}/${s}`)!)] as const)),
    });
    const svg = lineChart(
      opts.sizes,
      [
        { title: 'Throughput', unit: 'writes/s', series: [series('etcd', '#4e79a7', (m) => m.rps), series('kvorum', '#e15759', (m) => m.rps)] },
        { title: 'p99 latency', unit: 'ms', series: [series('etcd', '#4e79a7', (m) => m.p99Ms), series('kvorum', '#e15759', (m) => m.p99Ms)] },
        { title: 'CPU per write (all members)', unit: 'µs', series: [series('etcd', '#4e79a7', (m) => m.cpuMsPerWrite * 1000), series('kvorum', '#e15759', (m) => m.cpuMsPerWrite * 1000)] },
      ],
      caption,
    );
    writeFileSync(opts.svg, svg);
    progress(`wrote ${opts.svg}`);
  }
  if (opts.out !== '-') {
    const md = [
      '# The price of each extra member',
      '',
      `Generated by \`npm run bench:sizes\` (bench/sizes.ts) in ${secs.toFixed(0)} s on ${new Date().toISOString().slice(0, 10)}: ${caption}, each system as a fresh cluster on 127.0.0.1, the two systems alternating run by run. ` +
        'CPU per write is the user + system time every member used during the workload (from /proc) divided by the writes; cores = that CPU time / wall time. The load generator shares the machine.',
      '',
      '![throughput, p99 and CPU per write by cluster size](sizes.svg)',
      '',
      tbl,
      '',
      ...(failures.length ? ['Failed runs:', '', ...failures.map((f) => `- ${f}`), ''] : []),
    ].join('\n');
    writeFileSync(opts.out, md);
    progress(`wrote ${opts.out}`);
  }
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench:sizes: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

// `npm run bench [-- --quick]`: Kvorum side by side with etcd 3.4 on this machine.
// Prints one table to stdout and writes it, with a machine description, to
// bench/RESULTS.md. Not a test: nothing here asserts a time.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SystemSpec } from './cluster.js';
import { runCommand } from './proc.js';
import { machine, notes, table } from './report.js';
import { expandRows, rowDefs, suiteConfig, SuiteRun } from './suite.js';
import { kvorumUsable, nodeFlags, prepareTools, repoRoot } from './setup.js';

interface Options {
  quick: boolean;
  out?: string;
  only?: 'etcd' | 'kvorum';
  keep: boolean;
  dataRoot: string;
  checkPerf?: string[];
  rows?: string[];
  strict: boolean;
  /** Pack for a many-core machine into this folder instead of running. */
  manyCore?: string;
}

const USAGE = `usage: npm run bench -- [--quick] [--only etcd|kvorum] [--rows KEY,...] [--check-perf m,l,xl] [--out FILE|-] [--data-root DIR] [--keep] [--strict]
  --quick        small totals, a few seconds per workload (check perf skipped unless --check-perf)
  --only         run one system only
  --rows         run only these rows (and the rows they need): keys or key prefixes, e.g. backup-s3,rolling-restart or kube; keys in bench/README.md
  --check-perf   which etcdctl check perf loads to run (each takes 60 s per system)
  --out          where to write the results (default bench/RESULTS.md; '-' writes nothing)
  --data-root    parent of the temporary data dirs (default: the OS temp dir)
  --keep         keep data dirs and member logs afterwards
  --strict       exit 1 if a Kvorum step failed or Kvorum could not run (for CI smoke runs)
  --many-core [DIR]  run nothing: pack node, etcd, the tools and this build into DIR (default .devbench)
                 for a many-core machine without Node, etcd or a registry; there, bash DIR/run.sh [flags]`;

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, keep: false, strict: false, dataRoot: tmpdir() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--strict') o.strict = true;
    else if (a === '--many-core') o.manyCore = argv[i + 1] && !argv[i + 1]!.startsWith('--') ? argv[++i]! : '.devbench';
    else if (a === '--out') o.out = value();
    else if (a === '--data-root') o.dataRoot = value();
    else if (a === '--check-perf') o.checkPerf = value().split(',').filter(Boolean);
    else if (a === '--rows') o.rows = value().split(',').filter(Boolean);
    else if (a === '--only') {
      const v = value();
      if (v !== 'etcd' && v !== 'kvorum') throw new Error('--only takes etcd or kvorum');
      o.only = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return o;
}

/** The flags that shaped the figures, as the command line that reproduces them. */
function benchArgs(o: Options): string {
  const args = [...(o.quick ? ['--quick'] : []), ...(o.rows ? ['--rows', o.rows.join(',')] : []), ...(o.only ? ['--only', o.only] : [])];
  return args.length > 0 ? ` -- ${args.join(' ')}` : '';
}

function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const repo = repoRoot();
  if (opts.manyCore !== undefined) {
    const r = await runCommand('bash', [join(repo, 'scripts', 'many-core-pack.sh'), opts.manyCore], { cwd: repo, timeoutMs: 30 * 60_000 });
    process.stderr.write(r.stderr);
    return r.code ?? 1;
  }
  const started = performance.now();
  progress('preparing tools (bench/tools.sh)');
  const tools = await prepareTools(repo);
  const etcdVersion = /etcd Version:\s*(\S+)/.exec((await runCommand(tools.etcd, ['--version'], { timeoutMs: 10_000 })).stdout)?.[1] ?? '?';

  const cfg = suiteConfig(opts.quick);
  if (opts.checkPerf) cfg.checkPerfLoads = opts.checkPerf;
  if (opts.rows) cfg.rows = expandRows(cfg, opts.rows);
  const rows = rowDefs(cfg).filter((r) => !cfg.rows || cfg.rows.has(r.key));

  const etcdSpec: SystemSpec = { kind: 'etcd', label: `etcd ${etcdVersion}`, command: tools.etcd, argsPrefix: [], cwd: repo };
  const unusable = await kvorumUsable(repo);
  const kvorumSpec: SystemSpec = unusable
    ? { kind: 'kvorum', label: `etcd ${etcdVersion} standing in for kvorum`, command: tools.etcd, argsPrefix: [], cwd: repo }
    : { kind: 'kvorum', label: 'kvorum', command: process.execPath, argsPrefix: [...nodeFlags(), 'bin/kvorum', 'node'], cwd: repo };
  if (unusable) progress(`Kvorum node not runnable (${unusable}); the kvorum column runs etcd instead, labelled as such`);

  const workDir = mkdtempSync(join(opts.dataRoot, 'kvorum-bench-'));
  const results = { etcd: new Map(), kvorum: new Map() } as Record<'etcd' | 'kvorum', SuiteRun['cells']>;
  const columnNotes: string[] = [];
  try {
    for (const spec of [etcdSpec, kvorumSpec]) {
      if (opts.only && opts.only !== spec.kind) continue;
      progress(`${spec.kind} column: ${spec.label}`);
      const t0 = performance.now();
      const loadBefore = loadavg();
      const run = new SuiteRun(spec, tools, cfg, workDir, progress);
      await run.run();
      results[spec.kind] = run.cells;
      const secs = (performance.now() - t0) / 1000;
      progress(`${spec.kind} column done in ${secs.toFixed(0)}s`);
      columnNotes.push(`- ${spec.kind} column (${spec.label}): ran ${secs.toFixed(0)} s; load average (1/5/15 min) ${loadBefore} before, ${loadavg()} after`);
    }
  } finally {
    if (!opts.keep) rmSync(workDir, { recursive: true, force: true });
    else progress(`kept data dirs and logs in ${workDir}`);
  }

  const kvorumHeader = unusable ? `kvorum column = ${kvorumSpec.label}` : 'kvorum';
  const tbl = table(rows, results.etcd, results.kvorum, kvorumHeader);
  process.stdout.write(tbl + '\n');
  const totalSecs = (performance.now() - started) / 1000;
  progress(`total ${totalSecs.toFixed(0)}s`);

  const out = opts.out ?? join(repo, 'bench', 'RESULTS.md');
  if (out !== '-') {
    const md = [
      '# Kvorum vs etcd benchmark results',
      '',
      `Generated by \`npm run bench${benchArgs(opts)}\` (bench/run.ts) in ${totalSecs.toFixed(0)} s. ` +
        'Load comes from etcd\'s own `benchmark` tool and `etcdctl check perf`; each system ran alone as a fresh 3-member cluster on 127.0.0.1, ' +
        'started with the same etcd-style flags. Throughput ratio = kvorum/etcd; latency ratio = kvorum p99 / etcd p99; other ratios = kvorum value / etcd value.',
      '',
      ...(unusable
        ? [`**The kvorum column is NOT Kvorum**: the Kvorum node was not runnable (${unusable}), so etcd ran in its place to exercise the harness.`, '']
        : []),
      '## Machine',
      '',
      ...(await machine(opts.dataRoot, tools, repo)),
      '',
      '## Results',
      '',
      tbl,
      '',
      '## Notes',
      '',
      ...columnNotes,
      '- The machine is shared: other work (builds, tests) may have run at the same time, so single figures can move by a factor of ~2 between runs; the load averages above hint at how busy it was.',
      '- RSS growth counts everything a member keeps after those writes, not only the keys (etcd, for one, keeps up to --snapshot-count=100000 Raft entries in memory), so the per-1M figure is a linear extrapolation, not a promise. Restart and catch-up are timed from process start to the leader\'s revision on the restarted member.',
      '- A cell marked "cut short" hit its time bound; its rate is requests done / elapsed time.',
      ...notes(rows, results.etcd, results.kvorum),
      '',
    ].join('\n');
    writeFileSync(out, md);
    progress(`wrote ${out}`);
  }
  if (opts.strict) {
    const failed = [...results.kvorum].filter(([, c]) => !c.ok && !c.skipped).map(([key]) => key);
    if (unusable || failed.length > 0) {
      progress(`--strict: ${unusable ? `Kvorum did not run (${unusable})` : `Kvorum steps failed: ${failed.join(', ')}`}`);
      return 1;
    }
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

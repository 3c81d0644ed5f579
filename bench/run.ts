// `npm run bench [-- --quick]`: Kvorum side by side with etcd 3.4 on this machine.
// Prints one table to stdout and writes it, with a machine description, to
// bench/RESULTS.md. Not a test: nothing here asserts a time.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SystemSpec } from './cluster.js';
import { medianCell } from './median.js';
import { runCommand } from './proc.js';
import { machine, notes, table } from './report.js';
import { expandRows, rowDefs, suiteConfig, SuiteRun, type Cell } from './suite.js';
import { kvorumUsable, nodeFlags, prepareTools, repoRoot } from './setup.js';

interface Options {
  quick: boolean;
  out?: string;
  only?: 'etcd' | 'kvorum';
  /** Row keys or key prefixes (`put` selects every put row); empty = all rows. */
  rows: string[];
  repeat: number;
  keep: boolean;
  dataRoot: string;
  checkPerf?: string[];
  strict: boolean;
  /** Pack for a many-core machine into this folder instead of running. */
  manyCore?: string;
  /** Kvorum's --client-workers for its members (0: the core serves clients). */
  clientWorkers: number;
}

const USAGE = `usage: npm run bench -- [--quick] [--only etcd|kvorum] [--rows KEY,...] [--repeat N] [--check-perf m,l,xl] [--out FILE|-] [--data-root DIR] [--keep] [--strict] [--client-workers N]
  --quick        small totals, a few seconds per workload (check perf skipped unless --check-perf)
  --only         run one system only (a row key given here is taken as --rows, as before)
  --rows         run only these rows (and the rows they need): keys or key prefixes, e.g. backup-s3,rolling-restart,
                 kube or put (put-100, put-1000-single, ...); keys in bench/README.md
  --repeat       run the selected rows N times, alternating etcd and kvorum runs, and report the
                 median of each figure (the runs' figures are in the notes)
  --check-perf   which etcdctl check perf loads to run (each takes 60 s per system)
  --out          where to write the results (default bench/RESULTS.md, replaced by a full run and
                 appended to, as a dated section, by a run of selected rows; '-' writes nothing)
  --data-root    parent of the temporary data dirs (default: the OS temp dir)
  --keep         keep data dirs and member logs afterwards
  --strict       exit 1 if a Kvorum step failed or Kvorum could not run (for CI smoke runs)
  --client-workers N  start Kvorum's members with --client-workers N (client connections on N
                 processes beside each member's core; for machines with cores to spare)
  --many-core [DIR]  run nothing: pack node, etcd, the tools and this build into DIR (default .devbench)
                 for a many-core machine without Node, etcd or a registry; there, bash DIR/run.sh [flags]`;

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, keep: false, strict: false, dataRoot: tmpdir(), rows: [], repeat: 1, clientWorkers: 0 };
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
    else if (a === '--rows') o.rows.push(...value().split(',').filter(Boolean));
    else if (a === '--only') {
      for (const v of value().split(',').filter(Boolean)) {
        if (v === 'etcd' || v === 'kvorum') o.only = v;
        else o.rows.push(v);
      }
    } else if (a === '--client-workers') {
      o.clientWorkers = Number(value());
      if (!Number.isInteger(o.clientWorkers) || o.clientWorkers < 0 || o.clientWorkers > 64) throw new Error('--client-workers takes 0 to 64');
    } else if (a === '--repeat') {
      o.repeat = Number(value());
      if (!Number.isInteger(o.repeat) || o.repeat < 1 || o.repeat > 9) throw new Error('--repeat takes 1 to 9');
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return o;
}

const CPU_NOTE =
  'cpu µs/write = user + system CPU of all members (from /proc/<pid>/stat) over the benchmark run, divided by the writes it saw acknowledged; cores = that CPU per wall second.';

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
  if (opts.rows.length > 0) cfg.rows = expandRows(cfg, opts.rows);
  const rows = rowDefs(cfg).filter((r) => !cfg.rows || cfg.rows.has(r.key));

  const etcdSpec: SystemSpec = { kind: 'etcd', label: `etcd ${etcdVersion}`, command: tools.etcd, argsPrefix: [], cwd: repo };
  const unusable = await kvorumUsable(repo);
  const kvorumSpec: SystemSpec = unusable
    ? { kind: 'kvorum', label: `etcd ${etcdVersion} standing in for kvorum`, command: tools.etcd, argsPrefix: [], cwd: repo }
    : {
        kind: 'kvorum',
        label: opts.clientWorkers > 0 ? `kvorum (${opts.clientWorkers} client workers)` : 'kvorum',
        command: process.execPath,
        argsPrefix: [...nodeFlags(), 'bin/kvorum', 'node', ...(opts.clientWorkers > 0 ? ['--client-workers', String(opts.clientWorkers)] : [])],
        cwd: repo,
      };
  if (unusable) progress(`Kvorum node not runnable (${unusable}); the kvorum column runs etcd instead, labelled as such`);

  const workDir = mkdtempSync(join(opts.dataRoot, 'kvorum-bench-'));
  const runs = { etcd: [], kvorum: [] } as Record<'etcd' | 'kvorum', Array<Map<string, Cell>>>;
  const columnNotes: string[] = [];
  try {
    // Repeats alternate the systems (etcd, kvorum, etcd, ...) so slow phases of a shared machine hit both.
    for (let rep = 1; rep <= opts.repeat; rep++) {
      for (const spec of [etcdSpec, kvorumSpec]) {
        if (opts.only && opts.only !== spec.kind) continue;
        const which = opts.repeat > 1 ? ` run ${rep}/${opts.repeat}` : '';
        progress(`${spec.kind} column${which}: ${spec.label}`);
        const t0 = performance.now();
        const loadBefore = loadavg();
        const run = new SuiteRun(spec, tools, cfg, workDir, progress);
        await run.run();
        runs[spec.kind].push(run.cells);
        const secs = (performance.now() - t0) / 1000;
        progress(`${spec.kind} column${which} done in ${secs.toFixed(0)}s`);
        columnNotes.push(`- ${spec.kind} column${which} (${spec.label}): ran ${secs.toFixed(0)} s; load average (1/5/15 min) ${loadBefore} before, ${loadavg()} after`);
      }
    }
  } finally {
    if (!opts.keep) rmSync(workDir, { recursive: true, force: true });
    else progress(`kept data dirs and logs in ${workDir}`);
  }

  const results = { etcd: new Map<string, Cell>(), kvorum: new Map<string, Cell>() };
  for (const kind of ['etcd', 'kvorum'] as const) {
    for (const r of rows) {
      const c = medianCell(runs[kind].map((m) => m.get(r.key)).filter((x): x is Cell => x !== undefined));
      if (c) results[kind].set(r.key, c);
    }
  }

  const kvorumHeader = unusable ? `kvorum column = ${kvorumSpec.label}` : kvorumSpec.label;
  const tbl = table(rows, results.etcd, results.kvorum, kvorumHeader);
  process.stdout.write(tbl + '\n');
  const totalSecs = (performance.now() - started) / 1000;
  progress(`total ${totalSecs.toFixed(0)}s`);

  const out = opts.out ?? join(repo, 'bench', 'RESULTS.md');
  const flags = [opts.quick ? '--quick' : '', opts.clientWorkers > 0 ? `--client-workers ${opts.clientWorkers}` : '', opts.rows.length ? `--rows ${opts.rows.join(',')}` : '', opts.only ? `--only ${opts.only}` : '', opts.repeat > 1 ? `--repeat ${opts.repeat}` : ''].filter(Boolean);
  const command = `npm run bench${flags.length ? ` -- ${flags.join(' ')}` : ''}`;
  if (out !== '-' && opts.rows.length > 0) {
    // A run of selected rows adds a dated section instead of replacing the full run.
    const md = [
      '',
      `## ${new Date().toISOString().slice(0, 10)}: \`${command}\``,
      '',
      `Selected rows only, ${totalSecs.toFixed(0)} s.${opts.repeat > 1 ? ` Each figure is the median of ${opts.repeat} runs; the systems ran alternately.` : ''}` +
        ` ${CPU_NOTE}`,
      '',
      ...(await machine(opts.dataRoot, tools, repo)),
      '',
      tbl,
      '',
      ...columnNotes,
      ...notes(rows, results.etcd, results.kvorum),
      '',
    ].join('\n');
    appendFileSync(out, md);
    progress(`appended to ${out}`);
  } else if (out !== '-') {
    const md = [
      '# Kvorum vs etcd benchmark results',
      '',
      `Generated by \`${command}\` (bench/run.ts) in ${totalSecs.toFixed(0)} s. ` +
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
      `- ${CPU_NOTE}`,
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

// Turns the cells of both systems into the comparison table, and describes the
// machine the numbers came from.
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { describe, type Cell, type RowDef } from './suite.js';
import { runCommand } from './proc.js';

function cellText(c: Cell | undefined): string {
  if (!c) return 'not run';
  if (!c.ok) return c.skipped ? c.error : `failed: ${c.error}`;
  return describe(c);
}

function ratio(a: number | undefined, b: number | undefined): string | undefined {
  if (a === undefined || b === undefined || b === 0) return undefined;
  return `${(a / b).toFixed(2)}×`;
}

/** kvorum relative to etcd: throughput kvorum/etcd, latency kvorum p99 / etcd p99. */
export function ratioText(row: RowDef, etcd: Cell | undefined, kvorum: Cell | undefined): string {
  if (!etcd?.ok || !kvorum?.ok) return '—';
  const parts: string[] = [];
  if (row.kind === 'throughput' || row.kind === 'rate') {
    const t = ratio(kvorum.rps, etcd.rps);
    if (t) parts.push(`thr ${etcd.approx || kvorum.approx ? '~' : ''}${t}`);
  }
  if (row.kind === 'throughput' || row.kind === 'latency') {
    const l = ratio(kvorum.p99Ms, etcd.p99Ms);
    if (l) parts.push(`p99 ${l}`);
  }
  const cpu = ratio(kvorum.cpuUsPerWrite, etcd.cpuUsPerWrite);
  if (cpu) parts.push(`cpu/write ${cpu}`);
  if (row.kind === 'lower-better' || row.kind === 'higher-better') {
    const v = ratio(kvorum.value, etcd.value);
    if (v) parts.push(row.loadSensitive && etcd.detail !== kvorum.detail ? `${v} (unequal loads)` : v);
    const r = row.refLabel ? ratio(kvorum.value, etcd.ref) : undefined;
    if (r) parts.push(`${r} vs ${row.refLabel}`);
  }
  if (row.atMostEtcd && kvorum.value !== undefined && etcd.value !== undefined) {
    parts.push(kvorum.value <= etcd.value ? 'target met (kvorum ≤ etcd)' : 'target missed (kvorum > etcd)');
  }
  return parts.length ? parts.join(', ') : '—';
}

function escape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function table(rows: RowDef[], etcd: Map<string, Cell>, kvorum: Map<string, Cell>, kvorumHeader: string): string {
  const lines = [`| workload | etcd | ${escape(kvorumHeader)} | ratio (kvorum/etcd) |`, '|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${escape(r.label)} | ${escape(cellText(etcd.get(r.key)))} | ${escape(cellText(kvorum.get(r.key)))} | ${ratioText(r, etcd.get(r.key), kvorum.get(r.key))} |`);
  }
  return lines.join('\n');
}

/** Notes attached to cells (check perf verdicts, RSS detail, ...), one line each. */
export function notes(rows: RowDef[], etcd: Map<string, Cell>, kvorum: Map<string, Cell>): string[] {
  const out: string[] = [];
  for (const r of rows) {
    for (const [side, cells] of [['etcd', etcd], ['kvorum', kvorum]] as const) {
      const c = cells.get(r.key);
      if (c?.ok && c.note) out.push(`- ${r.label} — ${side}: ${c.note}`);
    }
  }
  return out;
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  const r = await runCommand(cmd, args, { timeoutMs: 15_000 });
  const text = (r.stdout.trim() || r.stderr.trim()).split('\n')[0] ?? '';
  return r.code === 0 ? text : `unavailable (${text || `exit ${r.code}`})`;
}

export async function machine(dataRoot: string, tools: { etcd: string; etcdctl: string; benchmark: string; benchmarkVersion: string }, repo: string): Promise<string[]> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const df = await runCommand('df', ['-hT', dataRoot], { timeoutMs: 10_000 });
  const dfLine = df.stdout.trim().split('\n')[1]?.split(/\s+/) ?? [];
  const dev = dfLine[0] ?? '?';
  let rotational = '';
  const base = /^\/dev\/([a-z]+)/.exec(dev)?.[1];
  if (base) {
    try {
      rotational = readFileSync(`/sys/block/${base}/queue/rotational`, 'utf8').trim() === '1' ? ', reported rotational' : ', reported non-rotational';
    } catch {
      rotational = '';
    }
  }
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${model}, ${cpus().length} cores`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- disk (data dirs under ${dataRoot}): ${dev} ${dfLine[1] ?? ''}, ${dfLine[2] ?? ''}${rotational}`,
    `- node: ${process.version}; go: ${await firstLine('go', ['version'])}`,
    `- etcd: ${await firstLine(tools.etcd, ['--version'])}; etcdctl: ${await firstLine(tools.etcdctl, ['version'])}`,
    `- load generator: etcd's tools/benchmark ${tools.benchmarkVersion} (${tools.benchmark})`,
    `- kvorum commit: ${await firstLine('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'])}`,
  ];
}

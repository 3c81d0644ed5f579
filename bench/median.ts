// Folds repeated runs of one row into one cell: the median of each figure, so a
// single noisy run cannot decide a row.
import type { Cell } from './suite.js';

type OkCell = Cell & { ok: true };

const FIGURES = ['rps', 'avgMs', 'p99Ms', 'value', 'cpuUsPerWrite', 'cores', 'done'] as const;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One cell from the same row's cells of several runs (failed runs are left out and counted in the note). */
export function medianCell(runs: Cell[]): Cell | undefined {
  if (runs.length <= 1) return runs[0];
  const ok = runs.filter((c): c is OkCell => c.ok);
  if (ok.length === 0) return runs[0];
  const out: OkCell = { ...ok[0], approx: ok.some((c) => c.approx) };
  for (const f of FIGURES) {
    const xs = ok.map((c) => c[f]).filter((x): x is number => x !== undefined);
    if (xs.length === ok.length) out[f] = median(xs);
    else delete out[f];
  }
  const each = (f: (c: OkCell) => number | undefined, fmt: (x: number) => string): string =>
    ok.map((c) => { const x = f(c); return x === undefined ? '?' : fmt(x); }).join(' / ');
  const parts = [`median of ${ok.length} runs${ok.length < runs.length ? ` (${runs.length - ok.length} failed)` : ''}`];
  if (out.rps !== undefined) parts.push(`rate ${each((c) => c.rps, (x) => x.toFixed(0))}`);
  if (out.p99Ms !== undefined) parts.push(`p99 ms ${each((c) => c.p99Ms, (x) => x.toFixed(1))}`);
  if (out.cpuUsPerWrite !== undefined) parts.push(`cpu µs/write ${each((c) => c.cpuUsPerWrite, (x) => x.toFixed(0))}`);
  if (out.value !== undefined) parts.push(`value ${each((c) => c.value, (x) => x.toFixed(2))}`);
  out.note = [parts.join('; '), ...new Set(ok.map((c) => c.note).filter(Boolean))].join('; ');
  return out;
}

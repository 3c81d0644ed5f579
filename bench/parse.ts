// Parsers for the text that etcd's `benchmark` tool and `etcdctl check perf`
// print. Both tools are external; only their output format is relied on.

export interface Summary {
  /** Heading printed before "Summary:", if any (e.g. "Watch events received summary:"). */
  title: string;
  totalSecs?: number;
  requestsPerSec?: number;
  avgMs?: number;
  p50Ms?: number;
  p99Ms?: number;
}

function num(re: RegExp, text: string): number | undefined {
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Splits a benchmark report into its "Summary:" sections and reads each one. */
export function parseBenchmark(text: string): Summary[] {
  const out: Summary[] = [];
  const marker = /^\s*Summary:\s*$/gm;
  const starts: number[] = [];
  for (let m = marker.exec(text); m !== null; m = marker.exec(text)) starts.push(m.index);
  for (let k = 0; k < starts.length; k++) {
    const section = text.slice(starts[k], k + 1 < starts.length ? starts[k + 1] : text.length);
    const before = text.slice(k === 0 ? 0 : starts[k - 1], starts[k]).trimEnd().split('\n');
    const heading = before[before.length - 1]?.trim() ?? '';
    const secs = (re: RegExp): number | undefined => {
      const v = num(re, section);
      return v === undefined ? undefined : v * 1000;
    };
    out.push({
      title: /([A-Za-z][A-Za-z ]*summary):\s*$/i.exec(heading)?.[1] ?? '',
      totalSecs: num(/Total:\s+([\d.]+)\s+secs/, section),
      requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/, section),
      avgMs: secs(/Average:\s+([\d.]+)\s+secs/),
      p50Ms: secs(/^\s*50% in ([\d.]+) secs/m),
      p99Ms: secs(/^\s*99% in ([\d.]+) secs/m),
    });
  }
  return out;
}

/** Last "done / total" pair of the progress bar, for runs that were cut short. */
export function lastProgress(text: string): { done: number; total: number } | undefined {
  const re = /(\d+) \/ (\d+)\s+[\d.]+%/g;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  return last ? { done: Number(last[1]), total: Number(last[2]) } : undefined;
}

export interface CheckPerf {
  writesPerSec?: number;
  slowestMs?: number;
  stddevMs?: number;
  verdict?: 'PASS' | 'FAIL';
  /** The PASS/FAIL lines, joined, for the notes. */
  lines: string[];
}

export function parseCheckPerf(text: string): CheckPerf {
  const lines = text
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter((l) => /^(PASS|FAIL)\b|took too long|too high/.test(l));
  const sec = (re: RegExp): number | undefined => {
    const v = num(re, text);
    return v === undefined ? undefined : v * 1000;
  };
  const final = lines.length > 0 ? lines[lines.length - 1] : '';
  return {
    writesPerSec: num(/Throughput (?:is|too low:) (\d+) writes\/s/, text),
    slowestMs: sec(/Slowest request took (?:too long: )?([\d.]+)s/),
    stddevMs: sec(/Stddev (?:is|too high:) ([\d.]+)s/),
    verdict: final === 'PASS' ? 'PASS' : final.startsWith('FAIL') ? 'FAIL' : undefined,
    lines,
  };
}

/**
 * The "Error distribution:" block of a benchmark report: each distinct error
 * message with how many requests failed with it. Empty when none failed.
 */
export function parseErrors(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const head = /^[ \t]*Error distribution:[ \t]*$/m.exec(text);
  if (!head) return out;
  for (const line of text.slice(head.index + head[0].length).split('\n').slice(1)) {
    const m = /^\s*\[(\d+)\]\t?\s*(.*)$/.exec(line);
    if (!m) {
      if (line.trim() === '') continue;
      break;
    }
    out.set(m[2].trim(), (out.get(m[2].trim()) ?? 0) + Number(m[1]));
  }
  return out;
}

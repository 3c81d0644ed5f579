// Turns two scrapes of each member (before and after it was driven into a
// bad state) into `promtool test rules` input series: every scrape interval
// is replayed as one minute for as long as the test evaluates, so counters
// and histograms keep the rates and ratios observed between the scrapes,
// gauges keep their last value (the database size keeps its observed growth),
// and `up` says which members answered the scrape.

/** One scraped sample: `name{labels}` and its value. */
export interface Sample {
  name: string;
  /** The label pairs as the exposition wrote them, without braces ('' for none). */
  labels: string;
  value: number;
}

/** Samples of the Prometheus text format, the etcd_* and grpc_* families only. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const [, name, labels, value] = m;
    if (!/^(etcd|grpc)_/.test(name!)) continue;
    const v = Number(value);
    if (Number.isFinite(v)) out.push({ name: name!, labels: labels ?? '', value: v });
  }
  return out;
}

export interface MemberScrapes {
  instance: string;
  before: Sample[];
  /** undefined: the member did not answer the second scrape (it is down). */
  after: Sample[] | undefined;
}

const GROWING_GAUGES = new Set(['etcd_mvcc_db_total_size_in_bytes', 'etcd_mvcc_db_total_size_in_use_in_bytes']);

function isCumulative(name: string): boolean {
  return /(_total|_bucket|_count|_sum)$/.test(name) && name !== 'etcd_debugging_mvcc_keys_total';
}

/** A number as promtool's series notation reads it (no exponent). */
function num(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(9);
}

/** promtool's `a+bxN`: N+1 samples from a, stepping by b. */
function ramp(start: number, step: number, minutes: number): string {
  return step < 0 ? `${num(start)}-${num(-step)}x${minutes}` : `${num(start)}+${num(step)}x${minutes}`;
}

export function inputSeries(members: MemberScrapes[], job: string, minutes: number): { series: string; values: string }[] {
  const out: { series: string; values: string }[] = [];
  for (const m of members) {
    const own = `job="${job}",instance="${m.instance}"`;
    out.push({ series: `up{${own}}`, values: `${m.after ? 1 : 0}x${minutes}` });
    if (!m.after) continue;
    const before = new Map(m.before.map((s) => [`${s.name}{${s.labels}}`, s.value]));
    for (const s of m.after) {
      const series = `${s.name}{${own}${s.labels ? `,${s.labels}` : ''}}`;
      const was = before.get(`${s.name}{${s.labels}}`) ?? 0;
      const values = isCumulative(s.name) || GROWING_GAUGES.has(s.name) ? ramp(was, s.value - was, minutes) : `${num(s.value)}x${minutes}`;
      out.push({ series, values });
    }
  }
  return out;
}

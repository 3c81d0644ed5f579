// A Prometheus histogram for per-request hot paths. prom-client's Histogram
// hashes and validates the label set on every observation; here each label
// set is resolved once into a child holding plain bucket counts, so an
// observation is a short scan of the bounds and three additions. It sits in
// a prom-client Registry and is exposed in the same text format.
import type { Metric, Registry } from 'prom-client';

export interface HistogramChild {
  observe(value: number): void;
}

interface Child {
  labels: Record<string, string>;
  /** counts[k] observations fell in (bounds[k-1], bounds[k]]; the last slot is above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

interface ExportedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly children: Child[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    for (let k = 1; k < bounds.length; k++) {
      if (!(bounds[k]! > bounds[k - 1]!)) throw new RangeError(`${name}: bucket bounds must increase`);
    }
    // The registry reads a metric through get() and reset() only.
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series for one label set; keep it and observe through it. */
  child(labels: Record<string, string>): HistogramChild {
    const c: Child = { labels: { ...labels }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
    this.children.push(c);
    const bounds = this.bounds;
    return {
      observe(value: number): void {
        if (!Number.isFinite(value)) return;
        let k = 0;
        while (k < bounds.length && value > bounds[k]!) k++;
        c.counts[k]! += 1;
        c.sum += value;
        c.count += 1;
      },
    };
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const c of this.children) {
      if (c.count === 0) continue;
      let cumulative = 0;
      for (let k = 0; k < this.bounds.length; k++) {
        cumulative += c.counts[k]!;
        values.push({ value: cumulative, labels: { le: this.bounds[k]!, ...c.labels }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: c.count, labels: { le: '+Inf', ...c.labels }, metricName: `${this.name}_bucket` });
      values.push({ value: c.sum, labels: c.labels, metricName: `${this.name}_sum` });
      values.push({ value: c.count, labels: c.labels, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const c of this.children) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }
}

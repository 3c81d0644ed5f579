// Disk metrics under etcd's names, so existing dashboards and alerts apply.
import { exponentialBuckets, Histogram, type Registry } from 'prom-client';

export const WAL_FSYNC_METRIC = 'etcd_disk_wal_fsync_duration_seconds';

/** The WAL fsync latency histogram in `registry`, created on first use. */
export function walFsyncHistogram(registry: Registry): Histogram {
  const existing = registry.getSingleMetric(WAL_FSYNC_METRIC);
  if (existing instanceof Histogram) return existing;
  return new Histogram({
    name: WAL_FSYNC_METRIC,
    help: 'The latency distributions of fsync called by WAL.',
    // etcd's buckets: 1ms doubling up to about 8s.
    buckets: exponentialBuckets(0.001, 2, 14),
    registers: [registry],
  });
}

// The backend metrics the etcd mixin's space and commit alerts read
// (etcdDatabaseQuotaLowSpace, etcdExcessiveDatabaseGrowth,
// etcdHighCommitDurations), with etcd's names and meaning.
import { exponentialBuckets, Gauge, Histogram, type Registry } from 'prom-client';

export interface BackendMetrics {
  /** One commit of applied entries into the store took `seconds`. */
  observeCommit(seconds: number): void;
}

export function createBackendMetrics(registry: Registry, quotaBytes: () => number | undefined): BackendMetrics {
  new Gauge({
    name: 'etcd_server_quota_backend_bytes',
    help: 'Current backend storage quota size in bytes.',
    registers: [registry],
    collect() {
      const q = quotaBytes();
      if (q !== undefined) this.set(q);
    },
  });
  // etcd times bbolt's commit of the applied state; Kvorum's applied state
  // is its MVCC store, so this is the time to apply one batch of committed
  // entries to it (the WAL's fsync has its own histogram).
  const commit = new Histogram({
    name: 'etcd_disk_backend_commit_duration_seconds',
    help: 'The latency distributions of commit called by backend.',
    // etcd's buckets: 1ms doubling up to about 8s.
    buckets: exponentialBuckets(0.001, 2, 14),
    registers: [registry],
  });
  return { observeCommit: (seconds) => commit.observe(seconds) };
}

// The operator's Prometheus metrics, in their own registry (so tests can
// create several operators in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { OPERATOR_METRICS } from '../api/index.js';

const CLUSTER_LABELS = ['kvcluster_namespace', 'kvcluster'] as const;

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'kvorum_operator_reconcile_total',
    help: 'Reconciles of KVClusters by result: success (including those that ask for a later look) or error.',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'kvorum_operator_reconcile_errors_total',
    help: 'Reconciles that failed with an error, per cluster.',
    labelNames: CLUSTER_LABELS,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'kvorum_operator_reconcile_duration_seconds',
    help: 'Time one reconcile of a KVCluster took.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly membersHealthy = new Gauge({
    name: OPERATOR_METRICS.membersHealthy,
    help: 'Members of the cluster that answer and are healthy.',
    labelNames: CLUSTER_LABELS,
    registers: [this.registry],
  });
  readonly membersDesired = new Gauge({
    name: OPERATOR_METRICS.membersDesired,
    help: 'spec.replicas of the cluster.',
    labelNames: CLUSTER_LABELS,
    registers: [this.registry],
  });
  readonly members = new Gauge({
    name: 'kvorum_cluster_members',
    help: 'Members in the cluster member list.',
    labelNames: CLUSTER_LABELS,
    registers: [this.registry],
  });
  readonly quorum = new Gauge({
    name: 'kvorum_cluster_quorum',
    help: '1 when a quorum of members is healthy and there is a leader, 0 otherwise.',
    labelNames: CLUSTER_LABELS,
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'kvorum_operator_is_leader',
    help: '1 when this operator replica holds the leader Lease (runs the reconcilers).',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'kvorum_operator_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    registers: [this.registry],
  });

  readonly backupLastSuccess = new Gauge({
    name: OPERATOR_METRICS.backupLastSuccess,
    help: 'Completion time (Unix seconds) of the newest successful backup of the cluster.',
    labelNames: CLUSTER_LABELS,
    registers: [this.registry],
  });
  readonly backupDuration = new Histogram({
    name: 'kvorum_backup_duration_seconds',
    help: 'Time a successful backup took, from the start of its attempt to the manifest written.',
    labelNames: CLUSTER_LABELS,
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly backupSize = new Gauge({
    name: 'kvorum_backup_size_bytes',
    help: 'Size of the newest successful backup of the cluster.',
    labelNames: CLUSTER_LABELS,
    registers: [this.registry],
  });
  readonly backupFailures = new Counter({
    name: OPERATOR_METRICS.backupFailures,
    help: 'Backups that ended Failed, by reason (InvalidCredentials, BucketNotFound, Unreachable, DeadlineExceeded, ...).',
    labelNames: [...CLUSTER_LABELS, 'reason'],
    registers: [this.registry],
  });
  readonly backupScheduleInterval = new Gauge({
    name: OPERATOR_METRICS.backupScheduleInterval,
    help: 'Shortest interval between runs of the backup schedules of the cluster (the stale-backup alert fires at twice this).',
    labelNames: CLUSTER_LABELS,
    registers: [this.registry],
  });

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Forgets a deleted cluster's series. */
  dropCluster(namespace: string, name: string): void {
    const labels = { kvcluster_namespace: namespace, kvcluster: name };
    for (const g of [this.membersHealthy, this.membersDesired, this.members, this.quorum, this.reconcileErrors]) g.remove(labels);
  }
}

// Names shared by the CRDs, the operator and the Helm chart. The CRD YAML in
// crds/ is the source of truth; unit tests check these constants against it.

export const GROUP = 'kvorum.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const KINDS = {
  cluster: 'KVCluster',
  backup: 'KVBackup',
  backupSchedule: 'KVBackupSchedule',
  restore: 'KVRestore',
} as const;

export const PLURALS = {
  cluster: 'kvclusters',
  backup: 'kvbackups',
  backupSchedule: 'kvbackupschedules',
  restore: 'kvrestores',
} as const;

export const SHORT_NAMES = {
  cluster: 'kvc',
  backup: 'kvb',
  backupSchedule: 'kvbs',
} as const;

/** Category shared by the three kinds: `kubectl get kvorum` lists them all. */
export const CATEGORY = 'kvorum';

/** Allowed cluster sizes: odd, so that a strict majority always exists. */
export const ALLOWED_REPLICAS = [1, 3, 5, 7] as const;

export const DEFAULT_REPLICAS = 3;
export const DEFAULT_VERSION = '0.1.0';
export const DEFAULT_IMAGE_REPOSITORY = 'ghcr.io/kvorum/kvorum';
export const DEFAULT_STORAGE_SIZE = '1Gi';
export const DEFAULT_ACCESS_KEY_ID_KEY = 'AWS_ACCESS_KEY_ID';
export const DEFAULT_SECRET_ACCESS_KEY_KEY = 'AWS_SECRET_ACCESS_KEY';
/** etcd's defaults, which the node also uses when the flags are absent. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 100;
export const DEFAULT_ELECTION_TIMEOUT_MS = 1000;
/** The most client workers a member takes (--client-workers, node/config.ts). */
export const MAX_CLIENT_WORKERS = 64;

export const TLS_MODES = ['OperatorManaged', 'Secrets', 'Disabled'] as const;
export const RETENTION_ACTIONS = ['Retain', 'Delete'] as const;
export const CLUSTER_PHASES = ['Pending', 'Bootstrapping', 'Available', 'Degraded', 'Scaling', 'Upgrading', 'Restoring', 'Failed'] as const;
export const BACKUP_PHASES = ['Pending', 'Running', 'Completed', 'Failed'] as const;
export const MEMBER_ROLES = ['leader', 'follower', 'learner'] as const;

/** Condition types the operator sets on a KVCluster. */
export const CONDITION_TYPES = {
  available: 'Available',
  progressing: 'Progressing',
  degraded: 'Degraded',
  membersHealthy: 'MembersHealthy',
  backupHealthy: 'BackupHealthy',
  /** The members' volumes match spec.storage.size (or why they cannot). */
  storageResized: 'StorageResized',
} as const;

/** spec.updateStrategy values: RollingUpdate replaces members unattended, Supervised waits for approval before the leader. */
export const UPDATE_STRATEGIES = ['RollingUpdate', 'Supervised'] as const;

/**
 * Labels on every object the operator creates for a cluster. `selectorLabels`
 * is the subset used in StatefulSet/Service selectors (it must never change
 * for an existing cluster, so it holds no version).
 */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
  version: 'app.kubernetes.io/version',
  cluster: `${GROUP}/cluster`,
  /** On KVBackups created by a schedule: the schedule's name. */
  schedule: `${GROUP}/backup-schedule`,
  /** "true" on a KVBackup: retention never prunes it. */
  pinned: `${GROUP}/pinned`,
} as const;

export const APP_NAME = 'kvorum';
export const MANAGED_BY = 'kvorum-operator';

export const ANNOTATIONS = {
  /** On the ConfigMap: the in-place restore it was reset for. */
  restoreId: `${GROUP}/restore-id`,
  /** Member name -> Raft member ID (hex), so a restarted operator finds members it added. */
  memberId: `${GROUP}/member-id`,
  /** Version the pod template was rendered for, used while rolling upgrades. */
  targetVersion: `${GROUP}/target-version`,
  /** Hash of the spec fields that require a rolling restart when they change. */
  configHash: `${GROUP}/config-hash`,
  /** Hash of the TLS material members mount: members read it at start, so renewed certificates roll the pods. */
  tlsHash: `${GROUP}/tls-hash`,
  /** Set by a user to pause reconciling of a cluster ("true"). */
  paused: `${GROUP}/paused`,
  /** A rolling restart request (a timestamp, as `kubectl rollout restart` writes); copied to the pod template. */
  restartedAt: `${GROUP}/restartedAt`,
  /** Supervised updates: the target version (or revision) whose leader replacement the user approves. */
  approveLeaderUpgrade: `${GROUP}/approve-leader-upgrade`,
  /** Seconds a replaced member may take to become healthy before the rollout stalls (default 300). */
  upgradeStallTimeout: `${GROUP}/upgrade-stall-timeout-seconds`,
  /** "true" lets a downgrade or a skipped minor version through the version policy. */
  allowVersionChange: `${GROUP}/allow-version-change`,
} as const;

export const FINALIZERS = {
  cluster: `${GROUP}/cluster-cleanup`,
  backup: `${GROUP}/backup-cleanup`,
} as const;

/**
 * Environment the Helm chart gives the operator's container. The operator
 * reads these names; the chart test checks that the Deployment sets them.
 */
export const OPERATOR_ENV = {
  podName: 'POD_NAME',
  podNamespace: 'POD_NAMESPACE',
  logLevel: 'KVORUM_LOG_LEVEL',
  /** Comma-separated namespaces; empty means all namespaces. */
  watchNamespaces: 'KVORUM_WATCH_NAMESPACES',
  /** host:port of the metrics and health server (/metrics, /healthz, /readyz). */
  metricsAddress: 'KVORUM_METRICS_ADDRESS',
  /** "true" to take part in leader election through a coordination.k8s.io Lease. */
  leaderElect: 'KVORUM_LEADER_ELECT',
  leaseName: 'KVORUM_LEASE_NAME',
  /** Repository of the member image when a KVCluster has no spec.image (the chart passes its own). */
  nodeImageRepository: 'KVORUM_NODE_IMAGE_REPOSITORY',
} as const;

/** Container ports of a member pod (names are used by Services and the chart's PodMonitor): the contract's. */
export { MEMBER_PORTS } from '../../contract/cluster.js';

/**
 * Metrics the operator exports (labels: kvcluster_namespace, kvcluster). The
 * chart's alert rules and dashboard use these names; the members export etcd's
 * names (etcd_server_has_leader, ...).
 */
export const OPERATOR_METRICS = {
  membersHealthy: 'kvorum_cluster_members_healthy',
  membersDesired: 'kvorum_cluster_members_desired',
  backupLastSuccess: 'kvorum_backup_last_success_timestamp_seconds',
  backupScheduleInterval: 'kvorum_backup_schedule_interval_seconds',
  backupFailures: 'kvorum_backup_failures_total',
} as const;

export const DEFAULT_LEASE_NAME = 'kvorum-operator';
export const OPERATOR_HEALTH_PORT = 8080;

/** Labels for the objects belonging to one cluster. */
export function clusterLabels(clusterName: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...extra,
    [LABELS.name]: APP_NAME,
    [LABELS.instance]: clusterName,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.cluster]: clusterName,
  };
}

/** The stable label set that selects a cluster's member pods. */
export function selectorLabels(clusterName: string): Record<string, string> {
  return { [LABELS.name]: APP_NAME, [LABELS.instance]: clusterName };
}

/** Renders labels as a selector string (`a=b,c=d`), the form status.selector needs. */
export function selectorString(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

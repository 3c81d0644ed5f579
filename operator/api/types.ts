// TypeScript shapes of the kvorum.io/v1alpha1 custom resources. They follow
// the OpenAPI schemas in crds/; optional here means optional in the schema
// (the API server may have filled defaults in, see defaults.ts).
import type {
  BACKUP_PHASES,
  CLUSTER_PHASES,
  MEMBER_ROLES,
  RETENTION_ACTIONS,
  TLS_MODES,
  UPDATE_STRATEGIES,
} from './constants.js';
import type { UpgradeState } from '../upgrade/state.js';
import type { StorageStatus } from '../upgrade/storage.js';
import type { TLSRotationStatus } from '../tls/rotation.js';

/** A Kubernetes quantity as it appears in JSON: "1Gi", "500M" or a plain number. */
export type Quantity = string | number;

export type TLSMode = (typeof TLS_MODES)[number];
export type RetentionAction = (typeof RETENTION_ACTIONS)[number];
export type ClusterPhase = (typeof CLUSTER_PHASES)[number];
export type BackupPhase = (typeof BACKUP_PHASES)[number];
export type MemberRole = (typeof MEMBER_ROLES)[number];
export type UpdateStrategyType = (typeof UPDATE_STRATEGIES)[number];
export type { UpgradeState, StorageStatus, TLSRotationStatus };

/** The parts of metav1.ObjectMeta the operator reads and writes. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface StorageSpec {
  size?: Quantity;
  storageClassName?: string;
  retentionPolicy?: {
    /** Claims of members removed by a scale-down. */
    whenScaled?: RetentionAction;
    /** Claims of all members when the KVCluster is deleted. */
    whenDeleted?: RetentionAction;
  };
}

/** core/v1 ResourceRequirements (limits and requests). */
export interface ResourceRequirements {
  limits?: Record<string, Quantity>;
  requests?: Record<string, Quantity>;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  minDomains?: number;
  nodeAffinityPolicy?: 'Honor' | 'Ignore';
  nodeTaintsPolicy?: 'Honor' | 'Ignore';
  matchLabelKeys?: string[];
  labelSelector?: Record<string, unknown>;
}

export interface PodTemplateSpec {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** core/v1 Affinity, passed through unchanged. */
  affinity?: Record<string, unknown>;
  tolerations?: Toleration[];
  topologySpreadConstraints?: TopologySpreadConstraint[];
  nodeSelector?: Record<string, string>;
  priorityClassName?: string;
}

export interface TLSSpec {
  mode?: TLSMode;
  serverSecretName?: string;
  peerSecretName?: string;
  clientSecretName?: string;
  caSecretName?: string;
}

export interface CredentialsSecretRef {
  name: string;
  accessKeyIdKey?: string;
  secretAccessKeyKey?: string;
}

export interface ObjectStoreDestination {
  bucket: string;
  prefix?: string;
  /** S3-compatible endpoint URL; absent means AWS S3. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

export interface BackupSpec {
  destination: ObjectStoreDestination;
  credentialsSecret?: CredentialsSecretRef;
}

export interface ObjectStoreLocation {
  bucket: string;
  key: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentialsSecret?: CredentialsSecretRef;
}

export interface BootstrapSpec {
  /** Exactly one of backupName and location. */
  fromBackup?: {
    backupName?: string;
    location?: ObjectStoreLocation;
  };
}

export interface NodeConfig {
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  snapshotCount?: number;
  quotaBackendBytes?: Quantity;
  /** etcd's --auto-compaction-mode. */
  autoCompactionMode?: 'periodic' | 'revision';
  /** etcd's --auto-compaction-retention: a duration or hours (periodic), a count (revision). */
  autoCompactionRetention?: string;
  /**
   * Kvorum's --client-workers (0..64): processes beside each member's core
   * that serve client connections (TLS, HTTP/2, gRPC framing), so a member
   * uses more than one core. About half the member pod's CPU cores; 0 (the
   * node's default) on 2 cores or fewer. Unset: no flag is passed.
   */
  clientWorkers?: number;
}

export interface KVClusterSpec {
  replicas?: number;
  version?: string;
  image?: string;
  storage?: StorageSpec;
  resources?: ResourceRequirements;
  podTemplate?: PodTemplateSpec;
  tls?: TLSSpec;
  backup?: BackupSpec;
  bootstrap?: BootstrapSpec;
  nodeConfig?: NodeConfig;
  /** How member pods are replaced on a template change (default RollingUpdate). */
  updateStrategy?: UpdateStrategyType;
}

export interface MemberStatus {
  name: string;
  /** Raft member ID in hexadecimal. */
  id?: string;
  peerURL?: string;
  clientURL?: string;
  role?: MemberRole;
  healthy?: boolean;
  appliedIndex?: number;
  /** The version label of the member's pod. */
  version?: string;
}

export interface KVClusterStatus {
  phase?: ClusterPhase;
  conditions?: Condition[];
  members?: MemberStatus[];
  leader?: string;
  readyReplicas?: number;
  currentVersion?: string;
  /** The version the members are moving to (spec.version once the version policy accepts it). */
  targetVersion?: string;
  /** The operator-driven rollout (operator/upgrade). */
  upgrade?: UpgradeState;
  /** Growth of the members' volumes to spec.storage.size. */
  storage?: StorageStatus;
  /** The last (or current) move of the members to a new CA (operator/tls/rotation.ts). */
  tlsRotation?: TLSRotationStatus;
  clusterID?: string;
  /** RFC 3339 completion time of the newest completed backup. */
  lastSuccessfulBackup?: string;
  /** The backup the cluster was founded from, and the check of its members against it. */
  restore?: RestoreStatus;
  observedGeneration?: number;
  /** Label selector of the member pods (scale subresource). */
  selector?: string;
}

export interface RestoreStatus {
  /** s3://bucket/key of the snapshot object. */
  source: string;
  /** The KVBackup, when the restore named one. */
  backup?: string;
  /** Marks the members' data dirs as built by this restore. */
  restoreID: string;
  revision: number;
  sha256: string;
  hashKv?: number;
  phase: 'Restoring' | 'Verified' | 'HashMismatch' | 'Failed';
  message?: string;
  /** Where the snapshot object is and how to read it (what the restore init containers are given). */
  target: { destination: ObjectStoreDestination; credentialsSecret?: CredentialsSecretRef };
  snapshotKey: string;
}

export interface KVCluster {
  apiVersion: string;
  kind: 'KVCluster';
  metadata: ObjectMeta;
  spec: KVClusterSpec;
  status?: KVClusterStatus;
}

export interface KVBackupSpec {
  cluster: string;
  /** Overrides the cluster's spec.backup.destination. */
  destination?: ObjectStoreDestination;
  /** Overrides the cluster's spec.backup.credentialsSecret. */
  credentialsSecret?: CredentialsSecretRef;
  /** Delete (default): the objects go with the KVBackup. Retain: they stay in the bucket. */
  deletionPolicy?: 'Delete' | 'Retain';
  /** Give up (Failed, DeadlineExceeded) when not Completed this long after the first attempt started; default 1800. */
  deadlineSeconds?: number;
}

export interface KVBackupStatus {
  phase?: BackupPhase;
  /** s3://bucket/key of the snapshot object. */
  location?: string;
  /** s3://bucket/key of the manifest. */
  manifest?: string;
  size?: number;
  revision?: number;
  compactRevision?: number;
  raftIndex?: number;
  raftTerm?: number;
  /** HashKV of the serving member at `revision`. */
  hashKv?: number;
  sha256?: string;
  /** The member that served the snapshot. */
  member?: string;
  /** Where the objects are, resolved at the first attempt (so they can be deleted after the cluster is gone). */
  target?: { destination: ObjectStoreDestination; credentialsSecret?: CredentialsSecretRef };
  /** Raft cluster ID (hex) of the cluster backed up. */
  clusterID?: string;
  /** Version the serving member reported. */
  version?: string;
  startedAt?: string;
  completedAt?: string;
  /** Attempts started so far (a transient failure or an operator restart starts another). */
  attempts?: number;
  /** After a transient failure: when the next attempt may start (back-off). */
  nextAttemptAt?: string;
  /** Why the backup failed or the last attempt failed: a short CamelCase cause (e.g. InvalidCredentials). */
  reason?: string;
  error?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}

export interface KVBackup {
  apiVersion: string;
  kind: 'KVBackup';
  metadata: ObjectMeta;
  spec: KVBackupSpec;
  status?: KVBackupStatus;
}

export interface KVBackupScheduleSpec {
  cluster: string;
  /** Five-field cron expression or a macro (@daily, @hourly, ...). */
  schedule: string;
  /** IANA time zone the schedule is read in; UTC when absent. */
  timeZone?: string;
  /** Take one backup as soon as the schedule is created. */
  immediate?: boolean;
  /** Settings for the KVBackups the schedule creates. */
  backupTemplate?: Pick<KVBackupSpec, 'destination' | 'credentialsSecret' | 'deletionPolicy' | 'deadlineSeconds'>;
  retention?: {
    keepLast?: number;
    /** Go-style duration, e.g. "168h". */
    maxAge?: string;
  };
  suspend?: boolean;
}

export interface KVBackupScheduleStatus {
  lastScheduleTime?: string;
  nextScheduleTime?: string;
  lastSuccessfulTime?: string;
  /** Name of the newest Completed KVBackup of the schedule. */
  lastSuccessfulBackup?: string;
  conditions?: Condition[];
  /** Names of unfinished KVBackups created by the schedule. */
  active?: string[];
  observedGeneration?: number;
}

export interface KVBackupSchedule {
  apiVersion: string;
  kind: 'KVBackupSchedule';
  metadata: ObjectMeta;
  spec: KVBackupScheduleSpec;
  status?: KVBackupScheduleStatus;
}

/** In-place restore steps: Stopping (members scaled to zero), Restoring (members rebuilt from the backup and founded anew). */
export type InPlaceRestoreStep = 'Stopping' | 'Restoring';

export interface KVRestoreSpec {
  /** The KVCluster to roll back, in the same namespace. */
  cluster: string;
  /** Exactly one of backupName and location. */
  backupName?: string;
  location?: ObjectStoreLocation;
}

export interface KVRestoreStatus {
  phase?: BackupPhase;
  step?: InPlaceRestoreStep;
  /** The backup being restored, resolved when the restore started. */
  restore?: RestoreStatus;
  startedAt?: string;
  completedAt?: string;
  reason?: string;
  message?: string;
  conditions?: Condition[];
  observedGeneration?: number;
}

export interface KVRestore {
  apiVersion: string;
  kind: 'KVRestore';
  metadata: ObjectMeta;
  spec: KVRestoreSpec;
  status?: KVRestoreStatus;
}

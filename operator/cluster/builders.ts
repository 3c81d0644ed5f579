// Pure builders of the Kubernetes objects of one KVCluster. Each returns the
// full desired object for server-side apply; the cluster must already carry
// its schema defaults (defaultsFor).
import { DATA_VOLUME, PROBE_PATHS, RESTORE_INIT_CONTAINER, memberHost } from '../../contract/index.js';
import {
  ANNOTATIONS,
  LABELS,
  MEMBER_PORTS,
  clusterLabels,
  imageFor,
  ownerReferenceFor,
  quantityToBytes,
  selectorLabels,
  type KVCluster,
  type RestoreStatus,
} from '../api/index.js';
import type { KubeObject } from '../kube/client.js';
import type { PodTLSSettings } from '../tls/pod.js';
import { quorumOf } from '../membership/quorum.js';
import { clusterName, clusterNs, initialClusterString, initialClusterToken, objectNames, type Scheme } from './names.js';

/** Where the member's data volume is mounted (and its --data-dir). */
export const DATA_DIR = '/var/lib/kvorum';
export const CONFIG_KEYS = { state: 'initial-cluster-state', cluster: 'initial-cluster' } as const;
export type InitialClusterState = 'new' | 'existing';

function meta(cluster: KVCluster, name: string, component: string): KubeObject['metadata'] {
  return {
    name,
    namespace: clusterNs(cluster),
    labels: clusterLabels(clusterName(cluster), { [LABELS.component]: component }),
    ownerReferences: [ownerReferenceFor(cluster)],
  };
}

const ports = (...which: (keyof typeof MEMBER_PORTS)[]): object[] =>
  which.map((k) => ({ name: MEMBER_PORTS[k].name, port: MEMBER_PORTS[k].port, targetPort: MEMBER_PORTS[k].name, protocol: 'TCP' }));

/** Headless Service giving each member a stable DNS name, also before it is ready (peers must find each other to elect). */
export function buildPeerService(cluster: KVCluster): KubeObject {
  const c = clusterName(cluster);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cluster, objectNames(c).peerService, 'peer'),
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: selectorLabels(c), ports: ports('client', 'peer') },
  };
}

/** The Service clients use: only ready members. */
export function buildClientService(cluster: KVCluster): KubeObject {
  const c = clusterName(cluster);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cluster, objectNames(c).clientService, 'client'),
    spec: { type: 'ClusterIP', selector: selectorLabels(c), ports: ports('client') },
  };
}

/** Voluntary disruptions (drains, evictions) may take at most replicas - quorum members at once. */
export function buildPodDisruptionBudget(cluster: KVCluster): KubeObject {
  const c = clusterName(cluster);
  const replicas = cluster.spec.replicas ?? 1;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(cluster, objectNames(c).pdb, 'member'),
    spec: { maxUnavailable: replicas - quorumOf(replicas), selector: { matchLabels: selectorLabels(c) } },
  };
}

/** The ConfigMap members read their --initial-cluster(-state) from (as env, at container start). */
export function buildConfigMap(cluster: KVCluster, state: InitialClusterState, members: { name: string; peerURL: string }[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(cluster, objectNames(clusterName(cluster)).configMap, 'config'),
    data: { [CONFIG_KEYS.state]: state, [CONFIG_KEYS.cluster]: initialClusterString(members) },
  };
}

export interface StatefulSetOptions {
  /** Repository of the member image when the cluster has no spec.image. */
  nodeImageRepository?: string;
  tls: PodTLSSettings;
  /** tlsContentHash of the Secrets the members mount (absent without TLS). */
  tlsHash?: string;
  /** StatefulSet replicas; differs from spec.replicas while membership changes are in progress. */
  replicas: number;
  /**
   * Size in the claim template. A StatefulSet's claim templates cannot change,
   * so an existing one keeps its size; members' claims are grown one by one
   * (operator/upgrade/storage.ts).
   */
  claimTemplateSize?: string;
  /** The version the pods are rendered for, when the version policy holds spec.version back. */
  version?: string;
  /** The backup the members are built from before they first start (spec.bootstrap.fromBackup, resolved). */
  restore?: RestoreStatus;
}

/** Where the restore init container downloads the snapshot (not the data volume: the restore needs it empty). */
const RESTORE_SCRATCH = { volume: 'restore-scratch', path: '/var/lib/kvorum-restore' };

/**
 * The init container that builds each member's data dir from the backup
 * while the cluster is being founded (kvorum backup restore-init); a pod
 * started later, or restarted, keeps its own data.
 */
export function restoreInitContainer(cluster: KVCluster, restore: RestoreStatus, scheme: Scheme, image: string, env: object[]): object {
  const host = memberHost(clusterName(cluster), clusterNs(cluster), '$(POD_NAME)');
  const d = restore.target.destination;
  const creds = restore.target.credentialsSecret;
  const secretEnv = (name: string, key: string): object => ({ name, valueFrom: { secretKeyRef: { name: creds?.name ?? '', key } } });
  return {
    name: RESTORE_INIT_CONTAINER,
    image,
    imagePullPolicy: 'IfNotPresent',
    args: [
      'backup',
      'restore-init',
      `--bucket=${d.bucket}`,
      `--key=${restore.snapshotKey}`,
      `--sha256=${restore.sha256}`,
      `--restore-id=${restore.restoreID}`,
      ...(d.endpoint ? [`--endpoint=${d.endpoint}`] : []),
      ...(d.region ? [`--region=${d.region}`] : []),
      ...(d.forcePathStyle || d.endpoint ? ['--force-path-style'] : []),
      '--name=$(POD_NAME)',
      `--data-dir=${DATA_DIR}`,
      `--scratch-dir=${RESTORE_SCRATCH.path}`,
      `--initial-advertise-peer-urls=${scheme}://${host}:${MEMBER_PORTS.peer.port}`,
      // Each restore founds a cluster with an ID of its own, also when it rolls an existing cluster back.
      `--initial-cluster-token=${initialClusterToken(cluster)}-${restore.restoreID.slice(0, 8)}`,
    ],
    env: [
      ...env,
      ...(creds ? [secretEnv('AWS_ACCESS_KEY_ID', creds.accessKeyIdKey ?? 'AWS_ACCESS_KEY_ID'), secretEnv('AWS_SECRET_ACCESS_KEY', creds.secretAccessKeyKey ?? 'AWS_SECRET_ACCESS_KEY')] : []),
    ],
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: DATA_DIR },
      { name: RESTORE_SCRATCH.volume, mountPath: RESTORE_SCRATCH.path },
    ],
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
  };
}

/** `kvorum node` flags from the spec; $(POD_NAME) is expanded by the kubelet. */
export function memberArgs(cluster: KVCluster, scheme: Scheme, tlsArgs: string[]): string[] {
  const host = memberHost(clusterName(cluster), clusterNs(cluster), '$(POD_NAME)');
  const { client, peer, metrics } = MEMBER_PORTS;
  const args = [
    'node',
    '--name=$(POD_NAME)',
    `--data-dir=${DATA_DIR}`,
    `--listen-client-urls=${scheme}://0.0.0.0:${client.port}`,
    `--advertise-client-urls=${scheme}://${host}:${client.port}`,
    `--listen-peer-urls=${scheme}://0.0.0.0:${peer.port}`,
    `--initial-advertise-peer-urls=${scheme}://${host}:${peer.port}`,
    `--listen-metrics-urls=http://0.0.0.0:${metrics.port}`,
    `--initial-cluster-token=${initialClusterToken(cluster)}`,
  ];
  const nc = cluster.spec.nodeConfig ?? {};
  if (nc.electionTimeoutMs !== undefined) args.push(`--election-timeout=${nc.electionTimeoutMs}`);
  if (nc.heartbeatIntervalMs !== undefined) args.push(`--heartbeat-interval=${nc.heartbeatIntervalMs}`);
  if (nc.snapshotCount !== undefined) args.push(`--snapshot-count=${nc.snapshotCount}`);
  if (nc.quotaBackendBytes !== undefined) args.push(`--quota-backend-bytes=${quantityToBytes(nc.quotaBackendBytes)}`);
  if (nc.autoCompactionMode !== undefined) args.push(`--auto-compaction-mode=${nc.autoCompactionMode}`);
  if (nc.autoCompactionRetention !== undefined) args.push(`--auto-compaction-retention=${nc.autoCompactionRetention}`);
  // Only when set, so the template (and the members) of a cluster without it stay as they were.
  if (nc.clientWorkers !== undefined) args.push(`--client-workers=${nc.clientWorkers}`);
  return [...args, ...tlsArgs];
}

export function buildStatefulSet(cluster: KVCluster, opts: StatefulSetOptions): KubeObject {
  const c = clusterName(cluster);
  const names = objectNames(c);
  const spec = cluster.spec;
  const pt = spec.podTemplate ?? {};
  const { scheme } = opts.tls;
  const version = opts.version ?? spec.version ?? '';
  const configEnv = (name: string, key: string): object => ({ name, valueFrom: { configMapKeyRef: { name: names.configMap, key } } });
  const baseEnv = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    configEnv('ETCD_INITIAL_CLUSTER_STATE', CONFIG_KEYS.state),
    configEnv('ETCD_INITIAL_CLUSTER', CONFIG_KEYS.cluster),
  ];
  const container = {
    name: 'kvorum',
    image: imageFor(opts.version ? { ...spec, version: opts.version } : spec, opts.nodeImageRepository),
    imagePullPolicy: 'IfNotPresent',
    args: memberArgs(cluster, scheme, opts.tls.args),
    env: [...baseEnv, ...opts.tls.env],
    ports: Object.values(MEMBER_PORTS).map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' })),
    // Ready while it knows a leader, also with a full quota (NOSPACE): clients
    // must still reach it through the client Service to delete, compact and disarm.
    readinessProbe: { httpGet: { path: PROBE_PATHS.readiness, port: MEMBER_PORTS.metrics.name }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    // Generous: a member replaying a long WAL must not be killed for it.
    livenessProbe: { httpGet: { path: PROBE_PATHS.liveness, port: MEMBER_PORTS.metrics.name }, initialDelaySeconds: 15, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
    volumeMounts: [{ name: DATA_VOLUME, mountPath: DATA_DIR }, ...opts.tls.volumeMounts],
    securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    ...(spec.resources && { resources: spec.resources }),
  };
  const podLabels = clusterLabels(c, { ...pt.labels, [LABELS.component]: 'member', [LABELS.version]: version });
  const storage: Record<string, unknown> = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: opts.claimTemplateSize ?? String(spec.storage?.size) } } };
  if (spec.storage?.storageClassName) storage.storageClassName = spec.storage.storageClassName;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(cluster, names.statefulSet, 'member'),
    spec: {
      replicas: opts.replicas,
      serviceName: names.peerService,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: selectorLabels(c) },
      // The operator replaces pods itself, one at a time, leader last (operator/upgrade).
      updateStrategy: { type: 'OnDelete' },
      // Scale-down claims are the membership step's business (it deletes them per whenScaled once the member is removed).
      persistentVolumeClaimRetentionPolicy: { whenDeleted: spec.storage?.retentionPolicy?.whenDeleted ?? 'Retain', whenScaled: 'Retain' },
      template: {
        metadata: {
          labels: podLabels,
          annotations: {
            ...pt.annotations,
            [ANNOTATIONS.targetVersion]: version,
            ...(opts.tlsHash && { [ANNOTATIONS.tlsHash]: opts.tlsHash }),
            // A rolling restart request: a new value is a new template revision.
            ...(cluster.metadata.annotations?.[ANNOTATIONS.restartedAt] && { [ANNOTATIONS.restartedAt]: cluster.metadata.annotations[ANNOTATIONS.restartedAt] }),
          },
        },
        spec: {
          ...(opts.restore && { initContainers: [restoreInitContainer(cluster, opts.restore, scheme, container.image, baseEnv)] }),
          containers: [container],
          volumes: [...opts.tls.volumes, ...(opts.restore ? [{ name: RESTORE_SCRATCH.volume, emptyDir: {} }] : [])],
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 },
          terminationGracePeriodSeconds: 30,
          enableServiceLinks: false,
          ...(pt.affinity && { affinity: pt.affinity }),
          ...(pt.tolerations && { tolerations: pt.tolerations }),
          ...(pt.topologySpreadConstraints && { topologySpreadConstraints: pt.topologySpreadConstraints }),
          ...(pt.nodeSelector && { nodeSelector: pt.nodeSelector }),
          ...(pt.priorityClassName && { priorityClassName: pt.priorityClassName }),
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: DATA_VOLUME, labels: clusterLabels(c, { [LABELS.component]: 'member' }) },
          spec: storage,
        },
      ],
    },
  };
}

// The KVCluster reconciler: one level-triggered pass per call that makes the
// cluster's objects match its spec and reports what it sees in the status.
//
//   1. TLS Secrets (operator/tls), Services, PDB, ConfigMap, StatefulSet
//      (server-side apply: idempotent, creates what is missing);
//   2. the member list and member status from the cluster's own API;
//   3. bootstrap: the ConfigMap flips to `existing` once every founding
//      member has started, after which new members join rather than found;
//   4. membership changes (operator/membership) once bootstrapped;
//   5. status (status subresource) with conditions, members[] and Events.
//
// Deletion needs no code here: every object carries a controller owner
// reference, and the StatefulSet's PVC retention policy follows
// spec.storage.retentionPolicy.whenDeleted.
import type { Logger } from 'pino';
import { ANNOTATIONS, API_VERSION, KINDS, LABELS, defaultsFor, statusSelector, validateClusterSpec, type KVCluster, type KVClusterStatus, type MemberStatus } from '../api/index.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { RESOURCES } from '../kube/resources.js';
import { ClusterClient, type ClusterMember } from '../membership/client.js';
import type { ReconcileResult } from '../runtime/controller.js';
import type { OperatorMetrics } from '../runtime/metrics.js';
import { desiredTLSSecrets, operatorClientSecretName, operatorClientTLS, tlsContentHash, tlsPodSettings, tlsSecretNames, type ClientTLS, type Secret } from '../tls/index.js';
import { CONFIG_KEYS, buildClientService, buildConfigMap, buildPeerService, buildPodDisruptionBudget, buildStatefulSet, type InitialClusterState } from './builders.js';
import type { MembershipResult } from '../membership/reconcile.js';
import type { MembershipRunner } from './membership-port.js';
import { clientURL, clusterName, clusterNs, memberName, objectNames, peerURL, type Scheme } from './names.js';
import { observeMembers, type MembersObservation } from './observe.js';
import { C, healthOf, mergeConditions, phaseOf, podProblems, type ConditionInput } from './status.js';

/** Read access to the informer caches the reconciler needs. */
export interface ClusterCaches {
  getCluster(namespace: string, name: string): KVCluster | undefined;
  /** Objects of a type labelled as belonging to cluster `name` in `namespace`. */
  owned(kind: 'pod' | 'pvc' | 'secret', namespace: string, name: string): KubeObject[];
}

export interface ReconcilerOptions {
  nodeImageRepository?: string;
  /**
   * How the operator reaches members: 'dns' (their stable names, the normal
   * case in a cluster) or 'pod-ip' (for an operator running outside the
   * cluster network; plain-HTTP clusters only, the certificates name hosts).
   */
  memberAddress?: 'dns' | 'pod-ip';
  /** Requeue period while things are settling, and when everything is fine. */
  busyRequeueMs?: number;
  idleRequeueMs?: number;
}

export interface ReconcilerDeps {
  client: KubeClient;
  caches: ClusterCaches;
  events: EventRecorder;
  log: Logger;
  metrics: OperatorMetrics;
  membership?: MembershipRunner;
  options: ReconcilerOptions;
  now?: () => Date;
}

type StatefulSet = KubeObject & {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; updatedReplicas?: number; currentReplicas?: number; replicas?: number; observedGeneration?: number; currentRevision?: string; updateRevision?: string };
};
type ConfigMap = KubeObject & { data?: Record<string, string> };
type Pod = KubeObject & { status?: { podIP?: string } };

export class ClusterReconciler {
  private readonly clients = new Map<string, { client: ClusterClient; fingerprint: string }>();
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Called when the cluster is gone from the cache. */
  forget(key: string): void {
    const c = this.clients.get(key);
    c?.client.close();
    this.clients.delete(key);
    const [ns, name] = key.split('/');
    this.deps.metrics.dropCluster(ns ?? '', name ?? '');
  }

  close(): void {
    for (const key of [...this.clients.keys()]) this.forget(key);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [ns, name] = key.split('/') as [string, string];
    const stored = this.deps.caches.getCluster(ns, name);
    if (!stored || stored.metadata.deletionTimestamp) {
      this.forget(key);
      return {};
    }
    if (stored.metadata.annotations?.[ANNOTATIONS.paused] === 'true') return {};
    const cluster = defaultsFor(stored);
    const log = this.deps.log.child({ kvcluster: key });
    const busy = { requeueAfterMs: this.deps.options.busyRequeueMs ?? 5_000 };
    const idle = { requeueAfterMs: this.deps.options.idleRequeueMs ?? 30_000 };

    const problems = validateClusterSpec(stored.spec);
    if (problems.length > 0) {
      await this.writeStatus(stored, { phase: 'Failed' }, [
        { type: C.degraded, status: 'True', reason: 'InvalidSpec', message: problems.join('; ') },
        { type: C.progressing, status: 'False', reason: 'InvalidSpec', message: 'fix the spec' },
      ]);
      return {};
    }

    // 1. TLS and the objects.
    const tls = await this.ensureTLS(cluster, log);
    if (tls.error) {
      await this.event(stored, 'Warning', tls.error.reason, tls.error.message);
      await this.writeStatus(stored, { phase: stored.status?.clusterID ? 'Degraded' : 'Pending' }, [
        { type: C.degraded, status: 'True', reason: tls.error.reason, message: tls.error.message },
      ]);
      return busy;
    }
    const podTLS = tlsPodSettings(cluster);
    const scheme: Scheme = podTLS.scheme;
    const { client } = this.deps;
    await client.apply(RESOURCES.service, buildPeerService(cluster));
    await client.apply(RESOURCES.service, buildClientService(cluster));
    await client.apply(RESOURCES.pdb, buildPodDisruptionBudget(cluster));

    const names = objectNames(name);
    let configMap = await client.get<ConfigMap>(RESOURCES.configMap, ns, names.configMap);
    const desiredReplicas = cluster.spec.replicas ?? 1;
    if (!configMap) {
      const founders = Array.from({ length: desiredReplicas }, (_, i) => memberName(name, i)).map((m) => ({ name: m, peerURL: peerURL(cluster, m, scheme) }));
      configMap = await client.apply<ConfigMap>(RESOURCES.configMap, buildConfigMap(cluster, 'new', founders));
    }
    const state = (configMap.data?.[CONFIG_KEYS.state] ?? 'new') as InitialClusterState;
    const bootstrapped = state === 'existing';

    // A fresh read (not the cache): membership steps change replicas, and an
    // apply from a stale copy would undo them.
    const existingSts = await client.get<StatefulSet>(RESOURCES.statefulSet, ns, names.statefulSet);
    const stsReplicas = existingSts?.spec?.replicas ?? desiredReplicas;
    const sts = await client.apply<StatefulSet>(RESOURCES.statefulSet, buildStatefulSet(cluster, { nodeImageRepository: this.deps.options.nodeImageRepository, tls: podTLS, ...(tls.hash && { tlsHash: tls.hash }), replicas: stsReplicas }));
    if (!existingSts) await this.event(stored, 'Normal', 'Created', `created StatefulSet ${names.statefulSet} with ${stsReplicas} members`);

    // 2. What the cluster says about itself.
    const pods = this.deps.caches.owned('pod', ns, name) as Pod[];
    const cc = this.clusterClient(key, cluster, scheme, stsReplicas, pods, tls.clientTLS);
    const obs: MembersObservation = cc
      ? await observeMembers(cc, (m) => this.endpointFor(cluster, scheme, m.name, pods))
      : { statusById: new Map(), members: [], error: 'no member address known yet' };

    // 3. Bootstrap: every founding member has started -> later starts join.
    let justBootstrapped = false;
    if (!bootstrapped && obs.list && allFoundersStarted(obs.list, desiredReplicas)) {
      await client.apply(RESOURCES.configMap, buildConfigMap(cluster, 'existing', obs.list.map((m) => ({ name: m.name, peerURL: m.peerURLs[0] ?? '' }))));
      justBootstrapped = true;
      await this.event(stored, 'Normal', 'Bootstrapped', `all ${obs.list.length} founding members started`);
    }

    // 4. Membership changes.
    let membership: MembershipResult | undefined;
    if ((bootstrapped || justBootstrapped) && this.deps.membership && cc) {
      const podIP = (o: number): string | undefined => pods.find((p) => p.metadata.name === memberName(name, o))?.status?.podIP;
      const urls =
        this.deps.options.memberAddress === 'pod-ip'
          ? { peerURL: (o: number) => peerURL(cluster, memberName(name, o), scheme), clientURL: (o: number) => `${scheme}://${podIP(o) ?? 'unknown.invalid'}:2379` }
          : undefined;
      const cm = justBootstrapped ? await client.get<ConfigMap>(RESOURCES.configMap, ns, names.configMap) : configMap;
      membership = await this.deps.membership({
        cluster,
        clusterClient: cc,
        scheme,
        statefulSet: sts,
        ...(cm?.data?.[CONFIG_KEYS.cluster] !== undefined && { initialCluster: cm.data[CONFIG_KEYS.cluster] }),
        pods,
        pvcs: this.deps.caches.owned('pvc', ns, name),
        ...(urls && { urls }),
        log,
      });
      if (membership.error) log.warn({ action: membership.action.kind, error: membership.error }, 'membership step failed');
      else if (membership.action.kind !== 'none' && membership.action.kind !== 'wait') log.info({ action: membership.action.kind, message: membership.action.message }, 'membership step');
    }

    // 5. Status.
    const now = this.now();
    const health = healthOf(obs.members);
    const stuck = podProblems(pods, now.getTime());
    const rollingUpdate = (sts.status?.updatedReplicas ?? 0) < (sts.spec?.replicas ?? 0) || (sts.status?.updateRevision !== undefined && sts.status.updateRevision !== sts.status.currentRevision);
    const membersMatch = obs.members.length === desiredReplicas && health.learners.length === 0 && (sts.spec?.replicas ?? 0) === desiredReplicas;
    const conditions: ConditionInput[] = [];
    conditions.push(
      health.available
        ? { type: C.available, status: 'True', reason: 'QuorumHealthy', message: `${health.healthyVoters}/${health.voters} voting members healthy, leader ${health.leader}` }
        : {
            type: C.available,
            status: 'False',
            reason: obs.error ? 'MembersUnreachable' : health.leader ? 'NoQuorum' : 'NoLeader',
            message: obs.error ? `member list unavailable: ${obs.error}` : `${health.healthyVoters}/${health.voters} voting members healthy${health.leader ? '' : ', no leader'}`,
          },
    );
    conditions.push(
      health.unhealthy.length === 0 && membersMatch
        ? { type: C.membersHealthy, status: 'True', reason: 'AllMembersHealthy', message: `${obs.members.length} members healthy` }
        : { type: C.membersHealthy, status: 'False', reason: health.unhealthy.length ? 'MembersUnhealthy' : 'MembersMismatch', message: membersMessage(health, obs.members.length, desiredReplicas) },
    );
    const membershipCondition = membership?.condition;
    const degradedReasons = [...stuck];
    if (membershipCondition?.type === C.degraded && membershipCondition.status === 'True') degradedReasons.push(membershipCondition.message);
    if (bootstrapped && !health.available) degradedReasons.push('quorum lost or no leader');
    conditions.push(
      degradedReasons.length > 0
        ? { type: C.degraded, status: 'True', reason: stuck.length ? 'PodsNotStarting' : (membershipCondition?.type === C.degraded ? membershipCondition.reason : 'QuorumLost'), message: degradedReasons.join('; ') }
        : { type: C.degraded, status: 'False', reason: 'AsExpected', message: 'no problems seen' },
    );
    const progressing: ConditionInput =
      membershipCondition?.type === C.progressing
        ? (membershipCondition as ConditionInput)
        : !bootstrapped && !justBootstrapped
          ? { type: C.progressing, status: 'True', reason: 'Bootstrapping', message: `waiting for ${desiredReplicas} founding members to start` }
          : !membersMatch || (membership && !membership.done)
            ? { type: C.progressing, status: 'True', reason: 'Scaling', message: membership?.action.message ?? `${obs.members.length} members, want ${desiredReplicas}` }
            : rollingUpdate
              ? { type: C.progressing, status: 'True', reason: 'RollingUpdate', message: 'member pods are being updated' }
              : { type: C.progressing, status: 'False', reason: 'ReconcileComplete', message: 'the cluster matches its spec' };
    conditions.push(progressing);
    if (stuck.length > 0) await this.event(stored, 'Warning', 'PodsNotStarting', stuck.join('; '));

    const leaderMember = obs.members.find((m) => m.role === 'leader');
    const status: KVClusterStatus = {
      phase: phaseOf({ bootstrapped: bootstrapped || justBootstrapped, available: health.available, degraded: degradedReasons.length > 0, scaling: progressing.status === 'True' && progressing.reason === 'Scaling', failed: false }),
      members: obs.members,
      readyReplicas: sts.status?.readyReplicas ?? 0,
      selector: statusSelector(name),
      ...(leaderMember && { leader: leaderMember.name }),
      ...(currentVersion(pods, cluster.spec.version ?? '', rollingUpdate) && { currentVersion: currentVersion(pods, cluster.spec.version ?? '', rollingUpdate) }),
      ...((obs.clusterID ?? stored.status?.clusterID) && { clusterID: obs.clusterID ?? stored.status?.clusterID }),
    };
    await this.writeStatus(stored, status, conditions);
    if (!stored.status?.conditions?.some((c) => c.type === C.available && c.status === 'True') && health.available) {
      await this.event(stored, 'Normal', 'Available', `quorum of ${health.healthyVoters}/${health.voters} healthy members, leader ${health.leader}`);
    }
    const labels = { kvcluster_namespace: ns, kvcluster: name };
    this.deps.metrics.members.set(labels, obs.members.length);
    this.deps.metrics.membersHealthy.set(labels, obs.members.filter((m) => m.healthy).length);
    this.deps.metrics.membersDesired.set(labels, desiredReplicas);
    this.deps.metrics.quorum.set(labels, health.available ? 1 : 0);

    if (membership?.requeueAfterMs !== undefined) return { requeueAfterMs: membership.requeueAfterMs };
    const settled = health.available && progressing.status === 'False' && degradedReasons.length === 0;
    return settled ? idle : busy;
  }

  private async ensureTLS(cluster: KVCluster, log: Logger): Promise<{ error?: { reason: string; message: string }; clientTLS?: ClientTLS; hash?: string }> {
    const names = tlsSecretNames(cluster);
    if (!names) return {};
    const ns = clusterNs(cluster);
    const existing = new Map<string, Secret>();
    const wanted = [names.ca, names.server, names.peer, names.client].filter((n): n is string => !!n);
    const cached = new Map(this.deps.caches.owned('secret', ns, clusterName(cluster)).map((s) => [s.metadata.name ?? '', s as Secret]));
    for (const n of wanted) {
      // User-supplied Secrets carry none of our labels, so they are not in the cache.
      const s = cached.get(n) ?? (await this.deps.client.get<KubeObject>(RESOURCES.secret, ns, n));
      if (s) existing.set(n, s as Secret);
    }
    const result = await desiredTLSSecrets(cluster, existing);
    if (result.error) return { error: result.error };
    for (const w of result.warnings) log.warn({ warning: w }, 'TLS');
    for (const s of result.secrets) {
      const applied = await this.deps.client.apply<KubeObject>(RESOURCES.secret, s as KubeObject);
      existing.set(s.metadata.name ?? '', applied as Secret);
    }
    for (const issued of result.issued) await this.event(cluster, 'Normal', 'CertificateIssued', `issued Secret ${issued.secret} (${issued.reason})`);
    const mounted = [names.server, names.peer].map((n) => existing.get(n)).filter((x): x is Secret => !!x);
    const hash = tlsContentHash(mounted);
    // Without a client Secret of their own, users' server certificates serve as the operator's client identity.
    const clientName = operatorClientSecretName(cluster);
    if (!clientName) return { hash };
    const clientSecret = existing.get(clientName);
    if (!clientSecret) return { error: { reason: 'TLSSecretMissing', message: `client Secret ${ns}/${clientName} not found` } };
    return { clientTLS: operatorClientTLS(clientSecret, names.ca ? existing.get(names.ca) : undefined), hash };
  }

  private endpointFor(cluster: KVCluster, scheme: Scheme, member: string, pods: Pod[]): string | undefined {
    if (this.deps.options.memberAddress !== 'pod-ip') return clientURL(cluster, member, scheme);
    const ip = pods.find((p) => p.metadata.name === member)?.status?.podIP;
    return ip ? `${scheme}://${ip}:2379` : undefined;
  }

  /** One ClusterClient per cluster, re-made when its endpoints or TLS material change. */
  private clusterClient(key: string, cluster: KVCluster, scheme: Scheme, replicas: number, pods: Pod[], tls?: ClientTLS): ClusterClient | undefined {
    const endpoints = Array.from({ length: replicas }, (_, i) => this.endpointFor(cluster, scheme, memberName(clusterName(cluster), i), pods)).filter((e): e is string => !!e);
    if (endpoints.length === 0) return undefined;
    const fingerprint = `${endpoints.join(',')}|${tls ? tls.cert.toString('base64').slice(-64) : ''}`;
    const cur = this.clients.get(key);
    if (cur?.fingerprint === fingerprint) return cur.client;
    cur?.client.close();
    const client = new ClusterClient({ endpoints, ...(tls && { tls }), callTimeoutMs: 3000 });
    this.clients.set(key, { client, fingerprint });
    return client;
  }

  private async writeStatus(stored: KVCluster, status: KVClusterStatus, conditions: ConditionInput[]): Promise<void> {
    const generation = stored.metadata.generation;
    const full: KVClusterStatus = { ...stored.status, ...status, observedGeneration: generation, conditions: mergeConditions(stored.status?.conditions, conditions, generation, this.now()) };
    if (JSON.stringify(full) === JSON.stringify(stored.status)) return;
    await this.deps.client.applyStatus(RESOURCES.kvCluster, {
      apiVersion: API_VERSION,
      kind: KINDS.cluster,
      metadata: { name: stored.metadata.name, namespace: stored.metadata.namespace },
      status: full,
    });
  }

  private async event(cluster: KVCluster, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await this.deps.events.record(cluster as unknown as KubeObject, type, reason, message);
  }
}

/** True when the member list holds at least `n` members and every one has started (published its name and client URLs). */
function allFoundersStarted(list: ClusterMember[], n: number): boolean {
  return list.length >= n && list.every((m) => m.name !== '' && m.clientURLs.length > 0);
}

function membersMessage(h: ReturnType<typeof healthOf>, have: number, want: number): string {
  const parts: string[] = [];
  if (h.unhealthy.length) parts.push(`unhealthy: ${h.unhealthy.join(', ')}`);
  if (h.learners.length) parts.push(`learners: ${h.learners.join(', ')}`);
  if (have !== want) parts.push(`${have} members, want ${want}`);
  return parts.join('; ') || 'members do not match the spec';
}

/** The version every member pod runs, once no rollout is in progress; else the oldest one seen. */
function currentVersion(pods: KubeObject[], specVersion: string, rolling: boolean): string | undefined {
  const versions = pods.map((p) => p.metadata.labels?.[LABELS.version]).filter((v): v is string => !!v);
  if (versions.length === 0) return undefined;
  if (!rolling && versions.every((v) => v === specVersion)) return specVersion;
  return versions.sort()[0];
}

export type { MemberStatus };

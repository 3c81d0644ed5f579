// The KVCluster reconciler: one level-triggered pass per call that makes the
// cluster's objects match its spec and reports what it sees in the status.
// A pass is a sequence of named steps:
//
//   begin            the cluster from the cache, with its schema defaults;
//   validate         an invalid spec is reported and nothing else is done;
//   ensureTLS        the TLS Secrets (operator/tls);
//   applyObjects     Services, PDB, ConfigMap, StatefulSet (server-side
//                    apply: idempotent, creates what is missing);
//   observe          the member list and every member's status, read ONCE
//                    from the cluster's own API (operator/membership/observe);
//   bootstrap        the ConfigMap flips to `existing` once every founding
//                    member has started, after which new members join;
//   changeMembership one membership step (operator/membership), planned from
//                    the same observation;
//   rollOut          once membership is settled, one step of the rollout of
//                    a new pod template (operator/upgrade): members replaced
//                    one at a time, leader last, behind health gates;
//   growStorage      one step of growing the members' claims to
//                    spec.storage.size (operator/upgrade/storage.ts);
//   report           conditions (status.ts), status, Events and metrics.
//
// Deletion needs no code here: every object carries a controller owner
// reference, and the StatefulSet's PVC retention policy follows
// spec.storage.retentionPolicy.whenDeleted.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULT_QUOTA_BACKEND_BYTES, clientURLAt, memberName } from '../../contract/index.js';
import { ANNOTATIONS, API_VERSION, KINDS, LABELS, defaultsFor, quantityToBytes, statusSelector, validateClusterSpec, type KVBackup, type KVBackupSchedule, type KVCluster, type KVRestore, type KVClusterStatus, type MemberStatus, type RestoreStatus } from '../api/index.js';
import { backupHealth } from '../backup/backup-health.js';
import type { RestoreSourceDeps } from '../backup/restore-source.js';
import { activeInPlaceRestore, resolveRestore, restoreFailures, verifyRestore, type InPlaceRestore, type RestoreResolution } from './restore-step.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { RESOURCES } from '../kube/resources.js';
import { ClusterClient, type ClusterClientOptions } from '../membership/client.js';
import { observeCluster, type ClusterObservation, type ObservedMember } from '../membership/observe.js';
import { defaultURLs, ordinalSpan, statusEndpoints, type MembershipResult, type OrdinalURLs } from '../membership/reconcile.js';
import type { ReconcileResult } from '../runtime/controller.js';
import type { OperatorMetrics } from '../runtime/metrics.js';
import { desiredTLSSecrets, nextPhase, operatorClientSecretName, operatorClientTLS, phaseRolledOut, rotationActive, tlsContentHash, tlsPodSettings, tlsSecretNames, type ClientTLS, type Secret, type TLSRotationStatus } from '../tls/index.js';
import { CONFIG_KEYS, buildClientService, buildConfigMap, buildPeerService, buildPodDisruptionBudget, buildStatefulSet, type InitialClusterState } from './builders.js';
import type { MembershipRunner } from './membership-port.js';
import { clusterName, clusterNs, objectNames, peerURL, type Scheme } from './names.js';
import { runRollout, runStorage, rolloutMembers, judgeVersionChange, type RolloutOutcome, type StepEffects, type StorageOutcome, type VersionVerdict } from '../upgrade/index.js';
import { C, currentVersion, invalidSpecConditions, memberStatuses, mergeConditions, noSpaceMessage, podProblems, statusReport, tlsProblemConditions, type ConditionInput } from './status.js';

/** Read access to the informer caches the reconciler needs. */
export interface ClusterCaches {
  getCluster(namespace: string, name: string): KVCluster | undefined;
  /** Objects of a type labelled as belonging to cluster `name` in `namespace`. */
  owned(kind: 'pod' | 'pvc' | 'secret', namespace: string, name: string): KubeObject[];
  /** KVBackups and KVBackupSchedules naming cluster `name` (absent: the operator runs without backups). */
  backupsOf?(namespace: string, name: string): KVBackup[];
  schedulesOf?(namespace: string, name: string): KVBackupSchedule[];
  /** KVRestores naming cluster `name`. */
  restoresOf?(namespace: string, name: string): KVRestore[];
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

/** The calls a pass makes on a cluster's own API. */
export type ClusterAPI = Pick<ClusterClient, 'memberList' | 'memberAdd' | 'memberRemove' | 'memberPromote' | 'moveLeader' | 'status' | 'close'> & Partial<Pick<ClusterClient, 'hashKv' | 'diagnoseTLS'>>;

export interface ReconcilerDeps {
  client: KubeClient;
  caches: ClusterCaches;
  events: EventRecorder;
  log: Logger;
  metrics: OperatorMetrics;
  membership?: MembershipRunner;
  options: ReconcilerOptions;
  now?: () => Date;
  /** Makes the client of a cluster's API (tests stand in for it). */
  clusterClient?: (opts: ClusterClientOptions) => ClusterAPI;
  /** Reads backups for spec.bootstrap.fromBackup (absent: restores are refused). */
  restoreSources?: RestoreSourceDeps;
}

type StatefulSet = KubeObject & {
  spec?: { replicas?: number; volumeClaimTemplates?: { spec?: { resources?: { requests?: { storage?: string | number } } } }[] };
  status?: { readyReplicas?: number; updatedReplicas?: number; currentReplicas?: number; replicas?: number; observedGeneration?: number; currentRevision?: string; updateRevision?: string };
};
type ConfigMap = KubeObject & { data?: Record<string, string> };
type Pod = KubeObject & { status?: { podIP?: string } };
type ReadyPod = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };

/** The cluster a pass works on. */
interface Pass {
  key: string;
  /** As stored (status and conditions of the last pass). */
  stored: KVCluster;
  /** With the schema defaults. */
  cluster: KVCluster;
  name: string;
  ns: string;
  desiredReplicas: number;
  log: Logger;
}

interface TLSOutcome {
  error?: { reason: string; message: string };
  clientTLS?: ClientTLS;
  hash?: string;
  /** A CA rotation in progress, as this pass's Secrets carry it out. */
  rotation?: TLSRotationStatus;
}

/** The cluster's objects after applyObjects, and how this operator reaches its members. */
interface ClusterObjects {
  scheme: Scheme;
  configMap: ConfigMap;
  /** The ConfigMap said `existing` when the pass began. */
  bootstrapped: boolean;
  statefulSet: StatefulSet;
  pods: Pod[];
  pvcs: KubeObject[];
  urls: OrdinalURLs;
  /** Client endpoints of the StatefulSet's members that this operator can address. */
  endpoints: string[];
  /** The version the pod template is rendered for, and the policy's verdict on spec.version. */
  version: string;
  versionVerdict: VersionVerdict;
}

export class ClusterReconciler {
  private readonly clients = new Map<string, { client: ClusterAPI; fingerprint: string; options: ClusterClientOptions }>();
  private readonly now: () => Date;
  private readonly makeClient: (opts: ClusterClientOptions) => ClusterAPI;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.makeClient = deps.clusterClient ?? ((opts) => new ClusterClient(opts));
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
    const pass = this.begin(key);
    if (!pass) return {};
    const problems = validateClusterSpec(pass.stored.spec);
    if (problems.length > 0) return this.reportInvalidSpec(pass, problems);
    const tls = await this.ensureTLS(pass);
    if (tls.error) return this.reportTLSError(pass, tls.error);
    const inPlace = activeInPlaceRestore(this.deps.caches.restoresOf?.(pass.ns, pass.name) ?? []);
    const restore = inPlace ? { status: pass.stored.status?.restore?.restoreID === inPlace.restore.restoreID ? pass.stored.status.restore : inPlace.restore } : await this.resolveRestore(pass);
    if (restore && 'problem' in restore) return this.reportRestoreProblem(pass, restore.problem);
    const objects = await this.applyObjects(pass, tls, restore?.status, inPlace);
    if (inPlace?.step === 'Stopping') return this.reportStopped(pass, inPlace);
    const api = this.clusterClient(pass.key, objects.endpoints, tls.clientTLS);
    const observed = await this.observe(pass, objects, api);
    const justBootstrapped = await this.bootstrap(pass, objects, observed);
    // While a restore founds the cluster anew, membership, rollouts and storage growth wait for it.
    const membership = inPlace ? undefined : await this.changeMembership(pass, objects, api, observed, justBootstrapped);
    const rollout = inPlace ? undefined : await this.rollOut(pass, objects, api, observed, membership);
    const storage = inPlace ? undefined : await this.growStorage(pass, objects, api, observed, rollout);
    const tlsRotation = inPlace ? tls.rotation : await this.advanceRotation(pass, objects, observed, tls, rollout);
    return this.report(pass, objects, observed, justBootstrapped, membership, { api, restore: restore?.status, tlsRotation }, rollout, storage);
  }

  /** spec.bootstrap.fromBackup: the backup to found the cluster from, read before any member starts. */
  private async resolveRestore(pass: Pass): Promise<RestoreResolution | undefined> {
    if (!pass.cluster.spec.bootstrap?.fromBackup && !pass.stored.status?.restore) return undefined;
    if (!this.deps.restoreSources) return { problem: { reason: 'RestoreUnavailable', message: 'this operator was started without access to object storage' } };
    return resolveRestore(pass.stored, pass.cluster, this.deps.restoreSources);
  }

  /** An in-place restore's first step: the members are going (or gone); say so and wait. */
  private async reportStopped(pass: Pass, inPlace: InPlaceRestore): Promise<ReconcileResult> {
    const message = `KVRestore ${inPlace.name}: members stopped to be rebuilt from ${inPlace.restore.source}`;
    // The claims' member IDs are about to change: forget the old ones so none is taken for lost data later.
    for (const pvc of this.deps.caches.owned('pvc', pass.ns, pass.name)) {
      if (pvc.metadata.annotations?.[ANNOTATIONS.memberId] !== undefined) {
        await this.deps.client.mergePatch(RESOURCES.pvc, pass.ns, pvc.metadata.name ?? '', { metadata: { annotations: { [ANNOTATIONS.memberId]: null } } });
      }
    }
    await this.writeStatus(pass.stored, { phase: 'Degraded' }, [
      { type: C.available, status: 'False', reason: 'Restoring', message },
      { type: C.progressing, status: 'True', reason: 'Restoring', message },
    ]);
    return { requeueAfterMs: 2000 };
  }

  /** Nothing is created (so nothing serves) until the backup can be read. */
  private async reportRestoreProblem(pass: Pass, problem: { reason: string; message: string }): Promise<ReconcileResult> {
    await this.event(pass.stored, 'Warning', problem.reason, problem.message);
    await this.writeStatus(pass.stored, { phase: 'Degraded' }, [
      { type: C.available, status: 'False', reason: problem.reason, message: problem.message },
      { type: C.degraded, status: 'True', reason: problem.reason, message: problem.message },
    ]);
    return { requeueAfterMs: 15_000 };
  }

  /** The cluster to work on, or undefined when it is gone, being deleted or paused. */
  private begin(key: string): Pass | undefined {
    const [ns, name] = key.split('/') as [string, string];
    const stored = this.deps.caches.getCluster(ns, name);
    if (!stored || stored.metadata.deletionTimestamp) {
      this.forget(key);
      return undefined;
    }
    if (stored.metadata.annotations?.[ANNOTATIONS.paused] === 'true') return undefined;
    const cluster = defaultsFor(stored);
    return { key, stored, cluster, name, ns, desiredReplicas: cluster.spec.replicas ?? 1, log: this.deps.log.child({ kvcluster: key }) };
  }

  private async reportInvalidSpec(pass: Pass, problems: string[]): Promise<ReconcileResult> {
    await this.writeStatus(pass.stored, { phase: 'Failed' }, invalidSpecConditions(problems));
    return {};
  }

  private async reportTLSError(pass: Pass, error: { reason: string; message: string }): Promise<ReconcileResult> {
    await this.event(pass.stored, 'Warning', error.reason, error.message);
    await this.writeStatus(pass.stored, { phase: pass.stored.status?.clusterID ? 'Degraded' : 'Pending' }, tlsProblemConditions(error));
    return this.busy();
  }

  private async applyObjects(pass: Pass, tls: TLSOutcome, restore: RestoreStatus | undefined, inPlace?: InPlaceRestore): Promise<ClusterObjects> {
    const { cluster, stored, ns, name, desiredReplicas } = pass;
    const { client } = this.deps;
    const podTLS = tlsPodSettings(cluster);
    const scheme: Scheme = podTLS.scheme;
    await client.apply(RESOURCES.service, buildPeerService(cluster));
    await client.apply(RESOURCES.service, buildClientService(cluster));
    await client.apply(RESOURCES.pdb, buildPodDisruptionBudget(cluster));

    const names = objectNames(name);
    let configMap = await client.get<ConfigMap>(RESOURCES.configMap, ns, names.configMap);
    const restoreID = inPlace?.step === 'Restoring' ? inPlace.restore.restoreID : undefined;
    // A new cluster, or one an in-place restore founds anew: every member is a founder.
    if (!configMap || (restoreID && configMap.metadata.annotations?.[ANNOTATIONS.restoreId] !== restoreID)) {
      const founders = Array.from({ length: desiredReplicas }, (_, i) => memberName(name, i)).map((m) => ({ name: m, peerURL: peerURL(cluster, m, scheme) }));
      const fresh = buildConfigMap(cluster, 'new', founders);
      if (restoreID) fresh.metadata.annotations = { ...fresh.metadata.annotations, [ANNOTATIONS.restoreId]: restoreID };
      configMap = await client.apply<ConfigMap>(RESOURCES.configMap, fresh);
    }
    const state = (configMap.data?.[CONFIG_KEYS.state] ?? 'new') as InitialClusterState;

    // A fresh read (not the cache): membership steps change replicas, and an
    // apply from a stale copy would undo them.
    const existingSts = await client.get<StatefulSet>(RESOURCES.statefulSet, ns, names.statefulSet);
    const founding = state === 'new' && restoreID !== undefined;
    const stsReplicas = inPlace?.step === 'Stopping' ? 0 : founding ? desiredReplicas : (existingSts?.spec?.replicas ?? desiredReplicas);
    const pods = this.deps.caches.owned('pod', ns, name) as Pod[];
    const { version, verdict } = this.versionPolicy(pass, pods);
    const claimTemplateSize = existingSts?.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage;
    const statefulSet = await client.apply<StatefulSet>(
      RESOURCES.statefulSet,
      buildStatefulSet(cluster, {
        nodeImageRepository: this.deps.options.nodeImageRepository,
        tls: podTLS,
        ...(tls.hash && { tlsHash: tls.hash }),
        replicas: stsReplicas,
        version,
        ...(restore && { restore }),
        ...(claimTemplateSize !== undefined && { claimTemplateSize: String(claimTemplateSize) }),
      }),
    );
    if (!existingSts) await this.event(stored, 'Normal', 'Created', `created StatefulSet ${names.statefulSet} with ${stsReplicas} members`);
    if (!verdict.allowed) await this.event(stored, 'Warning', verdict.reason, verdict.message);

    const podIP = (o: number): string | undefined => pods.find((p) => p.metadata.name === memberName(name, o))?.status?.podIP;
    const byIP = this.deps.options.memberAddress === 'pod-ip';
    const contractURLs = defaultURLs(name, ns, scheme);
    const urls: OrdinalURLs = byIP ? { peerURL: contractURLs.peerURL, clientURL: (o) => clientURLAt(scheme, podIP(o) ?? 'unknown.invalid') } : contractURLs;
    const endpoints = Array.from({ length: stsReplicas }, (_, o) => o)
      .filter((o) => !byIP || podIP(o) !== undefined)
      .map((o) => urls.clientURL(o));
    return { scheme, configMap, bootstrapped: state === 'existing', statefulSet, pods, pvcs: this.deps.caches.owned('pvc', ns, name), urls, endpoints, version, versionVerdict: verdict };
  }

  /** spec.version unless the version policy refuses the change from what the members run; then the members' version stays. */
  private versionPolicy(pass: Pass, pods: Pod[]): { version: string; verdict: VersionVerdict } {
    const target = pass.cluster.spec.version ?? '';
    const running = currentVersion(pods, target, true);
    const override = pass.stored.metadata.annotations?.[ANNOTATIONS.allowVersionChange] === 'true';
    const verdict = judgeVersionChange(running, target, override);
    return { version: verdict.allowed || !running ? target : running, verdict };
  }

  /** The pass's one read of the cluster's own API. */
  private async observe(pass: Pass, objects: ClusterObjects, api: ClusterAPI | undefined): Promise<ClusterObservation> {
    if (!api) return { alarms: [], error: 'no member address known yet' };
    const span = ordinalSpan({ clusterName: pass.name, desiredReplicas: pass.desiredReplicas, statefulSet: { replicas: objects.statefulSet.spec?.replicas ?? 0 }, pods: objects.pods, pvcs: objects.pvcs });
    return observeCluster(api, statusEndpoints(objects.urls, span));
  }

  /** Every founding member has started: later starts join rather than found. Returns whether it happened now. */
  private async bootstrap(pass: Pass, objects: ClusterObjects, observed: ClusterObservation): Promise<boolean> {
    if (objects.bootstrapped || !observed.members || !allFoundersStarted(observed.members, pass.desiredReplicas)) return false;
    const members = observed.members.map((m) => ({ name: m.name, peerURL: m.peerURLs[0] ?? '' }));
    objects.configMap = await this.deps.client.apply<ConfigMap>(RESOURCES.configMap, buildConfigMap(pass.cluster, 'existing', members));
    await this.event(pass.stored, 'Normal', 'Bootstrapped', `all ${members.length} founding members started`);
    return true;
  }

  private async changeMembership(pass: Pass, objects: ClusterObjects, api: ClusterAPI | undefined, observed: ClusterObservation, justBootstrapped: boolean): Promise<MembershipResult | undefined> {
    if (!(objects.bootstrapped || justBootstrapped) || !this.deps.membership || !api) return undefined;
    const initialCluster = objects.configMap.data?.[CONFIG_KEYS.cluster];
    const result = await this.deps.membership({
      cluster: pass.cluster,
      clusterClient: api,
      observed,
      scheme: objects.scheme,
      statefulSet: objects.statefulSet,
      ...(initialCluster !== undefined && { initialCluster }),
      pods: objects.pods,
      pvcs: objects.pvcs,
      urls: objects.urls,
      log: pass.log,
    });
    if (result.error) pass.log.warn({ action: result.action.kind, error: result.error }, 'membership step failed');
    else if (result.action.kind !== 'none' && result.action.kind !== 'wait') pass.log.info({ action: result.action.kind, message: result.action.message }, 'membership step');
    return result;
  }

  private stepEffects(pass: Pass, api: ClusterAPI): StepEffects {
    return {
      client: this.deps.client,
      api,
      event: (t, r, m) => this.event(pass.stored, t, r, m),
      recordUpgrade: async (upgrade) => {
        await this.deps.client.applyStatus(RESOURCES.kvCluster, { apiVersion: API_VERSION, kind: KINDS.cluster, metadata: { name: pass.name, namespace: pass.ns }, status: { ...pass.stored.status, upgrade } });
      },
      log: pass.log,
      now: this.now(),
    };
  }

  /** One rollout step, once the members match the spec (membership changes go first). */
  private async rollOut(pass: Pass, objects: ClusterObjects, api: ClusterAPI | undefined, observed: ClusterObservation, membership: MembershipResult | undefined): Promise<RolloutOutcome | undefined> {
    const target = objects.statefulSet.status?.updateRevision;
    // A member that is down is what a stalled rollout looks like: the rollout step must still run to say so.
    const membershipBusy = membership && !membership.done && !(membership.action.kind === 'wait' && membership.action.reason === 'MemberUnreachable');
    if (!api || !target || !objects.bootstrapped || membershipBusy) return undefined;
    const replicas = objects.statefulSet.spec?.replicas ?? 0;
    if (replicas !== pass.desiredReplicas) return undefined;
    const names = Array.from({ length: replicas }, (_, o) => memberName(pass.name, o));
    const outcome = await runRollout(
      { cluster: pass.stored, targetRevision: target, targetVersion: objects.version, members: rolloutMembers(objects.pods, observed, names), observed },
      this.stepEffects(pass, api),
    );
    if (outcome.action.kind !== 'none' && outcome.action.kind !== 'wait') pass.log.info({ action: outcome.action.kind, message: 'message' in outcome.action ? outcome.action.message : '' }, 'rollout step');
    return outcome;
  }

  /** One step of growing the members' claims; disruptive parts only while no rollout runs and all members are healthy. */
  private async growStorage(pass: Pass, objects: ClusterObjects, api: ClusterAPI | undefined, observed: ClusterObservation, rollout: RolloutOutcome | undefined): Promise<StorageOutcome | undefined> {
    if (!api || !objects.bootstrapped) return undefined;
    const allHealthy = (observed.members ?? []).length === pass.desiredReplicas && (observed.members ?? []).every((m) => m.healthy) && observed.leader !== undefined;
    return runStorage(pass.cluster, objects.pvcs, allHealthy && !rollout?.active, this.stepEffects(pass, api));
  }

  private async report(
    pass: Pass,
    objects: ClusterObjects,
    observed: ClusterObservation,
    justBootstrapped: boolean,
    membership: MembershipResult | undefined,
    extra: { api: ClusterAPI | undefined; restore: RestoreStatus | undefined; tlsRotation?: TLSRotationStatus | undefined },
    rollout?: RolloutOutcome,
    storage?: StorageOutcome,
  ): Promise<ReconcileResult> {
    const { stored, cluster, ns, name, desiredReplicas } = pass;
    const sts = objects.statefulSet;
    const members = memberStatuses(observed).map((m) => {
      const v = objects.pods.find((p) => p.metadata.name === m.name)?.metadata.labels?.[LABELS.version];
      return v ? { ...m, version: v } : m;
    });
    // With OnDelete the StatefulSet never advances currentRevision itself: the rollout step says whether one runs.
    const rollingUpdate = rollout
      ? rollout.active
      : (sts.status?.updatedReplicas ?? 0) < (sts.spec?.replicas ?? 0) || (sts.status?.updateRevision !== undefined && sts.status.updateRevision !== sts.status.currentRevision);
    const quota = cluster.spec.nodeConfig?.quotaBackendBytes;
    const quotaBytes = quota !== undefined ? quantityToBytes(quota) : DEFAULT_QUOTA_BACKEND_BYTES;
    const stuckPods = podProblems(objects.pods, this.now().getTime());
    const r = statusReport({
      desiredReplicas,
      statefulSetReplicas: sts.spec?.replicas ?? 0,
      bootstrapped: objects.bootstrapped,
      justBootstrapped,
      rollingUpdate,
      members,
      ...(observed.error !== undefined && { observeError: observed.error }),
      ...(observed.tlsProblem && { tlsProblem: observed.tlsProblem }),
      alarms: observed.alarms,
      ...(observed.dbSizeBytes !== undefined && { dbSizeBytes: observed.dbSizeBytes }),
      quotaBytes,
      stuckPods,
      ...(membership && { membership: { ...(membership.condition && { condition: membership.condition }), done: membership.done, message: membership.action.message } }),
    });

    if (stuckPods.length > 0) await this.event(stored, 'Warning', 'PodsNotStarting', stuckPods.join('; '));
    // Without the size, so that the recorder sends the same advice once per window rather than once per pass.
    if (r.noSpace) await this.event(stored, 'Warning', 'NoSpace', noSpaceMessage(undefined, quotaBytes));
    const version = currentVersion(objects.pods, cluster.spec.version ?? '', rollingUpdate);
    const clusterID = observed.clusterID ?? stored.status?.clusterID;
    const status: KVClusterStatus = {
      phase: rollout?.active && r.phase === 'Available' ? 'Upgrading' : r.phase,
      members,
      readyReplicas: sts.status?.readyReplicas ?? 0,
      selector: statusSelector(name),
      ...(observed.leader && { leader: observed.leader.name }),
      ...(version && { currentVersion: version }),
      ...(clusterID && { clusterID }),
      targetVersion: objects.version,
      ...(rollout?.state && { upgrade: rollout.state }),
      ...(storage?.status && { storage: storage.status }),
      ...(extra.tlsRotation && { tlsRotation: extra.tlsRotation }),
    };
    const restoreConditions: ConditionInput[] = [];
    if (extra.restore) {
      let restore = extra.restore;
      const failure = restoreFailures(objects.pods, restore);
      if (failure && restore.phase === 'Restoring') {
        restoreConditions.push({ type: C.available, status: 'False', reason: failure.reason, message: failure.message }, { type: C.degraded, status: 'True', reason: failure.reason, message: failure.message });
        await this.event(stored, 'Warning', failure.reason, failure.message);
        status.phase = 'Degraded';
      } else if (r.available && extra.api?.hashKv) {
        const hashKv = extra.api.hashKv.bind(extra.api);
        const check = await verifyRestore(restore, objects.endpoints, (ep, rev) => hashKv(ep, rev));
        if (check) {
          restore = check.status;
          if (check.condition) restoreConditions.push(check.condition);
          if (check.event) await this.event(stored, check.event.type, check.event.reason, check.event.message);
        }
      }
      status.restore = restore;
    }
    const backups = backupHealth(this.deps.caches.backupsOf?.(ns, name) ?? [], this.deps.caches.schedulesOf?.(ns, name) ?? [], this.now());
    if (backups.lastSuccessfulBackup) status.lastSuccessfulBackup = backups.lastSuccessfulBackup;
    await this.writeStatus(stored, status, [
      ...upgradeConditions(r.conditions, objects.versionVerdict, rollout),
      ...(storage?.condition ? [storage.condition] : []),
      ...(backups.condition ? [backups.condition] : []),
      ...restoreConditions,
    ]);
    const wasAvailable = stored.status?.conditions?.some((c) => c.type === C.available && c.status === 'True');
    if (r.available && !wasAvailable) await this.event(stored, 'Normal', 'Available', `quorum of ${r.health.healthyVoters}/${r.health.voters} healthy members, leader ${r.health.leader}`);

    const labels = { kvcluster_namespace: ns, kvcluster: name };
    this.deps.metrics.members.set(labels, members.length);
    this.deps.metrics.membersHealthy.set(labels, members.filter((m) => m.healthy).length);
    this.deps.metrics.membersDesired.set(labels, desiredReplicas);
    this.deps.metrics.quorum.set(labels, r.health.available ? 1 : 0);
    // From the KVBackups themselves, so the alert's inputs survive an operator restart.
    if (backups.lastSuccessfulBackup) this.deps.metrics.backupLastSuccess.set(labels, Date.parse(backups.lastSuccessfulBackup) / 1000);
    if (backups.intervalMs !== undefined) this.deps.metrics.backupScheduleInterval.set(labels, backups.intervalMs / 1000);
    else this.deps.metrics.backupScheduleInterval.remove(labels);

    if (membership?.requeueAfterMs !== undefined) return { requeueAfterMs: membership.requeueAfterMs };
    if (rollout?.active || rotationActive(extra.tlsRotation) || (storage && storage.action.kind !== 'none' && storage.action.kind !== 'refuse')) return this.busy();
    return r.settled ? { requeueAfterMs: this.deps.options.idleRequeueMs ?? 30_000 } : this.busy();
  }

  private busy(): ReconcileResult {
    return { requeueAfterMs: this.deps.options.busyRequeueMs ?? 5_000 };
  }

  private async ensureTLS(pass: Pass): Promise<TLSOutcome> {
    const { cluster, log } = pass;
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
    const stored = pass.stored.status?.tlsRotation;
    // A member that ever ran trusts some CA: a lost CA Secret must not be answered with a fresh CA alone.
    const membersExist = pass.stored.status?.clusterID !== undefined || this.deps.caches.owned('pod', ns, pass.name).length > 0;
    const result = await desiredTLSSecrets(cluster, existing, this.now(), { ...(stored && { rotation: stored }), membersExist });
    if (result.error) return { error: result.error };
    for (const w of result.warnings) log.warn({ warning: w }, 'TLS');
    if (result.rotation && result.rotationStarted) {
      // Recorded before the Secrets change, so a restarted operator resumes this rotation rather than guessing.
      await this.recordRotation(pass, result.rotation);
      await this.event(cluster, 'Normal', 'CARotationStarted', `${result.rotation.message}; members move one at a time (trust both CAs, re-issue, drop the old CA)`);
    }
    for (const s of result.secrets) {
      const applied = await this.deps.client.apply<KubeObject>(RESOURCES.secret, s as KubeObject);
      existing.set(s.metadata.name ?? '', applied as Secret);
    }
    for (const issued of result.issued) await this.event(cluster, 'Normal', 'CertificateIssued', `issued Secret ${issued.secret} (${issued.reason})`);
    const mounted = [names.server, names.peer].map((n) => existing.get(n)).filter((x): x is Secret => !!x);
    const hash = tlsContentHash(mounted);
    const rotation = result.rotation ? { rotation: result.rotation } : {};
    // Without a client Secret of their own, users' server certificates serve as the operator's client identity.
    const clientName = operatorClientSecretName(cluster);
    if (!clientName) return { hash, ...rotation };
    const clientSecret = existing.get(clientName);
    if (!clientSecret) return { error: { reason: 'TLSSecretMissing', message: `client Secret ${ns}/${clientName} not found` } };
    const clientTLS = operatorClientTLS(clientSecret, names.ca ? existing.get(names.ca) : undefined);
    // During a CA rotation the members' certificates come from either CA: the operator trusts both throughout.
    if (result.clientCA) clientTLS.ca = Buffer.from(result.clientCA, 'utf8');
    return { clientTLS, hash, ...rotation };
  }

  /** Writes status.tlsRotation now (with the rest of the status as stored), and keeps the pass's copy in step. */
  private async recordRotation(pass: Pass, tlsRotation: TLSRotationStatus): Promise<void> {
    const status = { ...pass.stored.status, tlsRotation };
    await this.deps.client.applyStatus(RESOURCES.kvCluster, { apiVersion: API_VERSION, kind: KINDS.cluster, metadata: { name: pass.name, namespace: pass.ns }, status });
    pass.stored = { ...pass.stored, status };
  }

  /**
   * The rotation's next phase once every member was restarted with this
   * phase's Secrets and the cluster is whole and healthy; the status
   * records it and the next pass writes that phase's Secrets.
   */
  private async advanceRotation(pass: Pass, objects: ClusterObjects, observed: ClusterObservation, tls: TLSOutcome, rollout: RolloutOutcome | undefined): Promise<TLSRotationStatus | undefined> {
    const current = tls.rotation;
    if (!rotationActive(current)) return pass.stored.status?.tlsRotation;
    if (!tls.hash || rollout?.active) return current;
    const rolled = phaseRolledOut({
      tlsHash: tls.hash,
      desiredReplicas: pass.desiredReplicas,
      pods: (objects.pods as ReadyPod[]).map((p) => ({
        name: p.metadata.name ?? '',
        ...(p.metadata.annotations?.[ANNOTATIONS.tlsHash] !== undefined && { tlsHash: p.metadata.annotations[ANNOTATIONS.tlsHash] }),
        ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        terminating: p.metadata.deletionTimestamp !== undefined,
      })),
      healthyMembers: (observed.members ?? []).filter((m) => m.healthy && m.role !== 'learner').length,
      hasLeader: observed.leader !== undefined,
    });
    if (!rolled) return current;
    const next = nextPhase(current, this.now());
    if (next.phase === 'Completed') await this.event(pass.stored, 'Normal', 'CARotationCompleted', `every member trusts only the new CA ${next.newCAFingerprint.slice(0, 16)}…`);
    else await this.event(pass.stored, 'Normal', 'CARotationPhase', `every member runs phase ${current.phase}; next: ${next.phase}`);
    pass.log.info({ from: current.phase, to: next.phase }, 'CA rotation phase done');
    return next;
  }

  /** One client per cluster, re-made when its endpoints or TLS material change. */
  private clusterClient(key: string, endpoints: string[], tls?: ClientTLS): ClusterAPI | undefined {
    if (endpoints.length === 0) return undefined;
    // The trusted CAs count too: a CA rotation changes them while the client certificate stays.
    const fingerprint = `${endpoints.join(',')}|${tls ? createHash('sha256').update(tls.cert).update(tls.ca).digest('hex') : ''}`;
    const cur = this.clients.get(key);
    if (cur?.fingerprint === fingerprint) return cur.client;
    cur?.client.close();
    const options: ClusterClientOptions = { endpoints, ...(tls && { tls }), callTimeoutMs: 3000 };
    const client = this.makeClient(options);
    this.clients.set(key, { client, fingerprint, options });
    return client;
  }

  /** How the last pass reached the cluster `namespace/name` (backups connect the same way), if it did. */
  clientOptions(key: string): ClusterClientOptions | undefined {
    return this.clients.get(key)?.options;
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

/** The pass's conditions with the rollout's Progressing (and a refused version change) in place of the generic one. */
function upgradeConditions(conditions: ConditionInput[], verdict: VersionVerdict, rollout: RolloutOutcome | undefined): ConditionInput[] {
  const progressing = conditions.find((c) => c.type === C.progressing);
  // Membership and bootstrap conditions keep priority; a rollout replaces the StatefulSet's generic "RollingUpdate".
  const generic = !progressing || progressing.reason === 'RollingUpdate' || progressing.reason === 'ReconcileComplete' || (rollout?.condition?.reason === 'UpgradeStalled' && progressing.reason === 'MemberUnreachable');
  let next: ConditionInput | undefined;
  if (!verdict.allowed) next = { type: C.progressing, status: 'False', reason: verdict.reason, message: verdict.message };
  else if (rollout?.condition && generic) next = rollout.condition;
  else if (progressing?.reason === 'RollingUpdate' && rollout && !rollout.active) next = { type: C.progressing, status: 'False', reason: 'ReconcileComplete', message: 'the cluster matches its spec' };
  if (!next) return conditions;
  return conditions.map((c) => (c.type === C.progressing ? next : c));
}

/** True when the member list holds at least `n` members and every one has started (published its name and client URLs). */
function allFoundersStarted(members: ObservedMember[], n: number): boolean {
  return members.length >= n && members.every((m) => m.started);
}

export type { MemberStatus };

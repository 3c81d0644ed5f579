// One membership reconcile: take the pass's observation of the cluster
// (observe.ts; made here when the caller has none) and the pods/PVCs the
// caller's informers hold, plan one step with the pure planner, carry it out
// through injected effects, and tell the caller what happened and when to
// look again.
import type { Logger } from 'pino';
import { CORRUPT_DATA_EXIT_CODE, CORRUPT_DATA_TEXT, JOIN_REFUSAL_TEXT, JOIN_REFUSED_EXIT_CODE, memberClientURL, memberName, memberOrdinal, memberPeerURL, pvcName, pvcOrdinal } from '../../contract/index.js';
import type { ClusterClient, ClusterMember } from './client.js';
import { observeCluster, type ClusterObservation } from './observe.js';
import {
  MEMBER_ID_ANNOTATION,
  normaliseURL,
  planMembership,
  type MembershipAction,
  type MembershipObservation,
  type MemberStatusObservation,
  type OrdinalObservation,
} from './planner.js';

/** What the membership reconciler may change in Kubernetes; the core reconciler implements it. */
export interface MembershipEffects {
  setStatefulSetReplicas(n: number): Promise<void>;
  deletePVC(name: string): Promise<void>;
  deletePod(name: string): Promise<void>;
  /** Updates the ConfigMap's `initial-cluster`. */
  setInitialCluster(members: { name: string; peerURL: string }[]): Promise<void>;
  /** Merges annotations into a PVC (records MEMBER_ID_ANNOTATION once a member has started from it). */
  annotatePVC(name: string, annotations: Record<string, string>): Promise<void>;
  event(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** The parts of @kubernetes/client-node's V1Pod the reconciler reads. */
export interface PodLike {
  metadata?: { name?: string; deletionTimestamp?: unknown };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: ContainerStatusLike[];
  };
}

interface TerminatedLike {
  exitCode?: number;
  message?: string;
}

export interface ContainerStatusLike {
  name?: string;
  state?: { running?: unknown; waiting?: unknown; terminated?: TerminatedLike };
  lastState?: { terminated?: TerminatedLike };
}

/** The parts of V1PersistentVolumeClaim the reconciler reads. */
export interface PVCLike {
  metadata?: { name?: string; uid?: string; annotations?: Record<string, string>; deletionTimestamp?: unknown };
}

/** The ClusterClient calls the reconciler makes (an interface so tests can stand in). */
export type MembershipAPI = Pick<ClusterClient, 'memberList' | 'memberAdd' | 'memberRemove' | 'memberPromote' | 'moveLeader' | 'status'>;

export interface MembershipContext {
  /** KVCluster name: pods and PVCs are named as contract/cluster.ts says. */
  clusterName: string;
  namespace: string;
  /** spec.replicas. */
  desiredReplicas: number;
  /** The StatefulSet's spec.replicas and status counts; undefined when it does not exist. */
  statefulSet?: { replicas: number; readyReplicas?: number; updatedReplicas?: number };
  /** The cluster's pods and PVCs (from informers); others are ignored by name. */
  pods: PodLike[];
  pvcs: PVCLike[];
  /** The ConfigMap's `initial-cluster`; undefined when the ConfigMap is missing. */
  initialCluster?: string;
  /** spec.storage.retentionPolicy.whenScaled (default Retain). */
  retentionWhenScaled?: 'Retain' | 'Delete';
  client: MembershipAPI;
  /** This pass's observation of the cluster; observed through `client` when absent. */
  observed?: ClusterObservation;
  /** `https` when TLS is on; used by the default URLs. */
  scheme?: 'http' | 'https';
  /** Overrides the contract's per-ordinal URLs (tests on loopback). */
  urls?: { peerURL(ordinal: number): string; clientURL(ordinal: number): string };
  effects: MembershipEffects;
  logger?: Logger;
  promoteMaxLag?: number;
}

export interface MembershipCondition {
  type: 'Progressing' | 'Degraded';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface MembershipResult {
  action: MembershipAction;
  /** Membership matches the spec and nothing is pending. */
  done: boolean;
  requeueAfterMs?: number;
  condition?: MembershipCondition;
  /** Set when carrying out the action failed (the message keeps the server's text). */
  error?: string;
  /** What the plan was made from (for status/metrics). */
  observation: MembershipObservation;
}

export interface OrdinalURLs {
  peerURL(ordinal: number): string;
  clientURL(ordinal: number): string;
}

/** The contract's peer and client URLs of ordinal i. */
export function defaultURLs(clusterName: string, namespace: string, scheme: 'http' | 'https'): OrdinalURLs {
  return {
    peerURL: (o) => memberPeerURL(scheme, clusterName, namespace, memberName(clusterName, o)),
    clientURL: (o) => memberClientURL(scheme, clusterName, namespace, memberName(clusterName, o)),
  };
}

/** Ordinals 0 .. span-1 may matter: the desired and current sizes, every pod and PVC seen, and a few more for strays. */
export function ordinalSpan(ctx: {
  clusterName: string;
  desiredReplicas: number;
  statefulSet?: { replicas: number };
  pods: readonly { metadata?: { name?: string } }[];
  pvcs: readonly { metadata?: { name?: string } }[];
}): number {
  let span = Math.max(ctx.desiredReplicas, ctx.statefulSet?.replicas ?? 0) + 1;
  for (const p of ctx.pods) span = Math.max(span, (memberOrdinal(ctx.clusterName, p.metadata?.name) ?? -1) + 1);
  for (const p of ctx.pvcs) span = Math.max(span, (pvcOrdinal(ctx.clusterName, p.metadata?.name) ?? -1) + 1);
  return Math.max(span, 8);
}

/**
 * Where to ask a member for its status: the client URL of the ordinal its
 * peer URL belongs to (so members are reached the way the caller reaches
 * pods), else the client URL it published.
 */
export function statusEndpoints(urls: OrdinalURLs, span: number): (m: ClusterMember) => string | undefined {
  const byPeer = new Map(Array.from({ length: span }, (_, o) => [normaliseURL(urls.peerURL(o)), o] as const));
  return (m) => {
    const o = m.peerURLs.map((u) => byPeer.get(normaliseURL(u))).find((x) => x !== undefined);
    return o !== undefined ? urls.clientURL(o) : m.clientURLs[0];
  };
}

/** Whether a pod's kvorum container is down after refusing to take over a member that started with other data. */
export function podRefusedJoin(pod: PodLike): boolean {
  return (pod.status?.containerStatuses ?? []).some((cs) => {
    if (cs.state?.running) return false;
    const t = cs.state?.terminated ?? cs.lastState?.terminated;
    return t !== undefined && (t.exitCode === JOIN_REFUSED_EXIT_CODE || (t.message ?? '').includes(JOIN_REFUSAL_TEXT));
  });
}

/**
 * Whether a pod's kvorum container is down after refusing its own data (a WAL
 * or snapshot damaged in place, contract/data-corruption.ts); returns the
 * member's words (its termination message) when it is, else undefined.
 */
export function podRefusedData(pod: PodLike): string | undefined {
  for (const cs of pod.status?.containerStatuses ?? []) {
    if (cs.state?.running) continue;
    const t = cs.state?.terminated ?? cs.lastState?.terminated;
    if (t !== undefined && (t.exitCode === CORRUPT_DATA_EXIT_CODE || (t.message ?? '').includes(CORRUPT_DATA_TEXT))) {
      return t.message?.trim() || `exit code ${t.exitCode}`;
    }
  }
  return undefined;
}

const STEP_REQUEUE_MS = 500;
const WAIT_REQUEUE_MS = 2000;
const REFUSE_REQUEUE_MS = 10_000;
const ERROR_REQUEUE_MS = 5000;

function urlsOf(ctx: MembershipContext): OrdinalURLs {
  return ctx.urls ?? defaultURLs(ctx.clusterName, ctx.namespace, ctx.scheme ?? 'http');
}

/** The planner's input: the cluster as observed, next to the pods and PVCs of every ordinal that may matter. */
export function membershipObservation(ctx: MembershipContext, observed: ClusterObservation): MembershipObservation {
  const urls = urlsOf(ctx);
  const ordinals: OrdinalObservation[] = [];
  for (let o = 0; o < ordinalSpan(ctx); o++) {
    const podName = memberName(ctx.clusterName, o);
    const claimName = pvcName(ctx.clusterName, o);
    const pod = ctx.pods.find((p) => p.metadata?.name === podName);
    const pvc = ctx.pvcs.find((p) => p.metadata?.name === claimName);
    ordinals.push({
      ordinal: o,
      podName,
      pvcName: claimName,
      peerURL: urls.peerURL(o),
      ...(pod && {
        pod: {
          phase: pod.status?.phase ?? 'Unknown',
          ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
          deleting: pod.metadata?.deletionTimestamp != null,
          joinRefused: podRefusedJoin(pod),
          ...(podRefusedData(pod) !== undefined && { dataRefused: podRefusedData(pod)! }),
        },
      }),
      ...(pvc && {
        pvc: {
          uid: pvc.metadata?.uid ?? '',
          deleting: pvc.metadata?.deletionTimestamp != null,
          ...(pvc.metadata?.annotations?.[MEMBER_ID_ANNOTATION] !== undefined && { memberId: pvc.metadata.annotations[MEMBER_ID_ANNOTATION] }),
        },
      }),
    });
  }
  const memberStatus: Record<string, MemberStatusObservation> = {};
  for (const m of observed.members ?? []) memberStatus[m.id] = m.report;
  return {
    desiredReplicas: ctx.desiredReplicas,
    ...(ctx.statefulSet && {
      statefulSet: { replicas: ctx.statefulSet.replicas, readyReplicas: ctx.statefulSet.readyReplicas ?? 0, updatedReplicas: ctx.statefulSet.updatedReplicas ?? 0 },
    }),
    ordinals,
    ...(observed.members && {
      members: observed.members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, isLearner: m.isLearner, started: m.started })),
    }),
    memberStatus,
    ...(ctx.initialCluster !== undefined && { initialCluster: ctx.initialCluster }),
    retentionWhenScaled: ctx.retentionWhenScaled ?? 'Retain',
    ...(ctx.promoteMaxLag !== undefined && { promoteMaxLag: ctx.promoteMaxLag }),
  };
}

/** Observes, plans and carries out one membership step. Never throws for cluster-side failures; see `error`. */
export async function reconcileMembership(ctx: MembershipContext): Promise<MembershipResult> {
  const observed = ctx.observed ?? (await observeCluster(ctx.client, statusEndpoints(urlsOf(ctx), ordinalSpan(ctx))));
  if (observed.error) ctx.logger?.warn({ error: observed.error }, 'cannot read the member list');
  const observation = membershipObservation(ctx, observed);
  const action = planMembership(observation);
  const log = ctx.logger?.child({ cluster: `${ctx.namespace}/${ctx.clusterName}`, step: action.kind });

  switch (action.kind) {
    case 'none':
      return { action, done: true, observation, condition: { type: 'Progressing', status: 'False', reason: action.reason, message: action.message } };
    case 'wait':
      log?.debug({ reason: action.reason }, action.message);
      return { action, done: false, observation, requeueAfterMs: WAIT_REQUEUE_MS, condition: { type: 'Progressing', status: 'True', reason: action.reason, message: action.message } };
    case 'refuse':
      log?.warn({ reason: action.reason }, action.message);
      await ctx.effects.event('Warning', action.reason, action.message);
      return { action, done: false, observation, requeueAfterMs: REFUSE_REQUEUE_MS, condition: { type: 'Degraded', status: 'True', reason: action.reason, message: action.message } };
    default:
      break;
  }

  try {
    await execute(ctx, action, observed);
    log?.info(action.message);
  } catch (err) {
    const message = `${action.message}: ${(err as Error).message}`;
    log?.warn({ err }, 'membership step failed');
    await ctx.effects.event('Warning', 'MembershipChangeFailed', message);
    return {
      action,
      done: false,
      observation,
      requeueAfterMs: ERROR_REQUEUE_MS,
      error: (err as Error).message,
      condition: { type: 'Progressing', status: 'True', reason: 'MembershipChangeFailed', message },
    };
  }
  return { action, done: false, observation, requeueAfterMs: STEP_REQUEUE_MS, condition: { type: 'Progressing', status: 'True', reason: progressReason(action), message: action.message } };
}

function progressReason(a: MembershipAction): string {
  switch (a.kind) {
    case 'addLearner':
      return a.reason === 'ScaleUp' ? 'ScalingUp' : 'ReplacingMember';
    case 'removeMember':
      return a.reason === 'ScaleDown' ? 'ScalingDown' : a.reason === 'ReplaceMember' || a.reason === 'CorruptData' ? 'ReplacingMember' : 'RemovingStrayMember';
    case 'promote':
      return 'PromotingLearner';
    case 'moveLeader':
      return 'MovingLeader';
    case 'setReplicas':
      return 'Scaling';
    case 'deletePVC':
    case 'deletePod':
      return a.reason === 'RetentionPolicy' ? 'ScalingDown' : 'ReplacingMember';
    default:
      return 'Reconciling';
  }
}

/** A repeated change (after a crash or a lost answer) that finds its work done is not a failure. */
function alreadyDone(kind: MembershipAction['kind'], err: unknown): boolean {
  const msg = (err as Error).message ?? '';
  if (kind === 'addLearner') return /Peer URLs already exists/.test(msg);
  if (kind === 'removeMember') return /member not found|member was removed/.test(msg);
  if (kind === 'promote') return /can only promote a learner member$/.test(msg.trim());
  return false;
}

async function execute(ctx: MembershipContext, action: MembershipAction, observed: ClusterObservation): Promise<void> {
  const { client, effects } = ctx;
  const guard = async (f: () => Promise<unknown>): Promise<void> => {
    try {
      await f();
    } catch (err) {
      if (!alreadyDone(action.kind, err)) throw err;
    }
  };
  switch (action.kind) {
    case 'addLearner':
      await guard(() => client.memberAdd([action.peerURL], true));
      await effects.event('Normal', action.reason === 'ScaleUp' ? 'MemberAdded' : 'MemberReplaced', action.message);
      return;
    case 'promote':
      await guard(() => client.memberPromote(action.memberId));
      await effects.event('Normal', 'MemberPromoted', action.message);
      return;
    case 'removeMember':
      await guard(() => client.memberRemove(action.memberId));
      if (action.reason === 'CorruptData') await effects.event('Warning', 'CorruptData', action.message);
      else await effects.event('Normal', 'MemberRemoved', action.message);
      return;
    case 'moveLeader': {
      const from = observed.members?.find((m) => m.id === action.fromMemberId);
      const endpoint = from?.status?.endpoint ?? from?.clientURLs[0];
      if (!endpoint) throw new Error(`no client URL known for leader ${action.fromMemberId}`);
      await client.moveLeader(endpoint, action.toMemberId);
      await effects.event('Normal', 'LeaderMoved', action.message);
      return;
    }
    case 'setInitialCluster':
      await effects.setInitialCluster(action.members);
      return;
    case 'setReplicas':
      await effects.setStatefulSetReplicas(action.replicas);
      return;
    case 'deletePVC':
      await effects.deletePVC(action.pvcName);
      await effects.event('Normal', 'PVCDeleted', action.message);
      return;
    case 'deletePod':
      await effects.deletePod(action.podName);
      return;
    case 'annotatePVC':
      await effects.annotatePVC(action.pvcName, { [MEMBER_ID_ANNOTATION]: action.memberId });
      return;
    default:
      return;
  }
}

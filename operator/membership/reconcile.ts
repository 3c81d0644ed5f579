// One membership reconcile: observe (member list and each member's status
// through the cluster's own API, plus the pods/PVCs the caller's informers
// hold), plan one step with the pure planner, carry it out through injected
// effects, and tell the caller what happened and when to look again.
import type { Logger } from 'pino';
import { JOIN_REFUSAL_TEXT, JOIN_REFUSED_EXIT_CODE } from '../../node/server/join.js';
import type { ClusterClient, ClusterMember, EndpointStatus } from './client.js';
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
  /** KVCluster name: pods are `<name>-<i>`, PVCs `data-<name>-<i>`. */
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

/** The contract's peer and client URLs of ordinal i. */
export function defaultURLs(clusterName: string, namespace: string, scheme: 'http' | 'https'): { peerURL(o: number): string; clientURL(o: number): string } {
  const host = (o: number): string => `${clusterName}-${o}.${clusterName}-peer.${namespace}.svc`;
  return { peerURL: (o) => `${scheme}://${host(o)}:2380`, clientURL: (o) => `${scheme}://${host(o)}:2379` };
}

/** Whether a pod's kvorum container is down after refusing to take over a member that started with other data. */
export function podRefusedJoin(pod: PodLike): boolean {
  return (pod.status?.containerStatuses ?? []).some((cs) => {
    if (cs.state?.running) return false;
    const t = cs.state?.terminated ?? cs.lastState?.terminated;
    return t !== undefined && (t.exitCode === JOIN_REFUSED_EXIT_CODE || (t.message ?? '').includes(JOIN_REFUSAL_TEXT));
  });
}

const STEP_REQUEUE_MS = 500;
const WAIT_REQUEUE_MS = 2000;
const REFUSE_REQUEUE_MS = 10_000;
const ERROR_REQUEUE_MS = 5000;

export async function observeMembership(ctx: MembershipContext): Promise<{ observation: MembershipObservation; members?: ClusterMember[]; statuses: Map<string, EndpointStatus> }> {
  const urls = ctx.urls ?? defaultURLs(ctx.clusterName, ctx.namespace, ctx.scheme ?? 'http');
  const podName = (o: number): string => `${ctx.clusterName}-${o}`;
  const pvcName = (o: number): string => `data-${podName(o)}`;
  const ordinalOfName = (name: string | undefined, prefix: string): number | undefined => {
    const m = name?.startsWith(prefix) ? /^(\d+)$/.exec(name.slice(prefix.length)) : null;
    return m ? Number(m[1]) : undefined;
  };

  let members: ClusterMember[] | undefined;
  try {
    members = await ctx.client.memberList();
  } catch (err) {
    ctx.logger?.debug({ err }, 'linearizable member list failed; reading a local one');
    try {
      members = await ctx.client.memberList({ linearizable: false });
    } catch (err2) {
      ctx.logger?.warn({ err: err2 }, 'cannot read the member list');
    }
  }

  const sts = ctx.statefulSet?.replicas ?? 0;
  let span = Math.max(ctx.desiredReplicas, sts) + 1;
  for (const p of ctx.pods) span = Math.max(span, (ordinalOfName(p.metadata?.name, `${ctx.clusterName}-`) ?? -1) + 1);
  for (const p of ctx.pvcs) span = Math.max(span, (ordinalOfName(p.metadata?.name, `data-${ctx.clusterName}-`) ?? -1) + 1);
  span = Math.max(span, 8);

  const ordinals: OrdinalObservation[] = [];
  for (let o = 0; o < span; o++) {
    const pod = ctx.pods.find((p) => p.metadata?.name === podName(o));
    const pvc = ctx.pvcs.find((p) => p.metadata?.name === pvcName(o));
    ordinals.push({
      ordinal: o,
      podName: podName(o),
      pvcName: pvcName(o),
      peerURL: urls.peerURL(o),
      ...(pod && {
        pod: {
          phase: pod.status?.phase ?? 'Unknown',
          ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
          deleting: pod.metadata?.deletionTimestamp != null,
          joinRefused: podRefusedJoin(pod),
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

  // Each member's own status, at its published client URL or the one its ordinal implies.
  const byPeer = new Map(ordinals.map((o) => [normaliseURL(o.peerURL), o.ordinal]));
  const statuses = new Map<string, EndpointStatus>();
  const memberStatus: Record<string, MemberStatusObservation> = {};
  await Promise.all(
    (members ?? []).map(async (m) => {
      const o = m.peerURLs.map((u) => byPeer.get(normaliseURL(u))).find((x) => x !== undefined);
      const endpoint = m.clientURLs[0] ?? (o !== undefined ? urls.clientURL(o) : undefined);
      if (!endpoint) {
        memberStatus[m.id] = { reachable: false };
        return;
      }
      try {
        const st = await ctx.client.status(endpoint);
        const same = st.memberId === m.id;
        statuses.set(m.id, st);
        memberStatus[m.id] = same ? { reachable: true, appliedIndex: st.raftAppliedIndex, leaderId: st.leaderId, raftTerm: st.raftTerm } : { reachable: false };
      } catch {
        memberStatus[m.id] = { reachable: false };
      }
    }),
  );

  const observation: MembershipObservation = {
    desiredReplicas: ctx.desiredReplicas,
    ...(ctx.statefulSet && {
      statefulSet: { replicas: sts, readyReplicas: ctx.statefulSet.readyReplicas ?? 0, updatedReplicas: ctx.statefulSet.updatedReplicas ?? 0 },
    }),
    ordinals,
    ...(members && {
      members: members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, isLearner: m.isLearner, started: m.name !== '' && m.clientURLs.length > 0 })),
    }),
    memberStatus,
    ...(ctx.initialCluster !== undefined && { initialCluster: ctx.initialCluster }),
    retentionWhenScaled: ctx.retentionWhenScaled ?? 'Retain',
    ...(ctx.promoteMaxLag !== undefined && { promoteMaxLag: ctx.promoteMaxLag }),
  };
  return { observation, ...(members && { members }), statuses };
}

/** Observes, plans and carries out one membership step. Never throws for cluster-side failures; see `error`. */
export async function reconcileMembership(ctx: MembershipContext): Promise<MembershipResult> {
  const { observation, members, statuses } = await observeMembership(ctx);
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
    await execute(ctx, action, members ?? [], statuses);
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
      return a.reason === 'ScaleDown' ? 'ScalingDown' : a.reason === 'ReplaceMember' ? 'ReplacingMember' : 'RemovingStrayMember';
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

async function execute(ctx: MembershipContext, action: MembershipAction, members: ClusterMember[], statuses: Map<string, EndpointStatus>): Promise<void> {
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
      await effects.event('Normal', 'MemberRemoved', action.message);
      return;
    case 'moveLeader': {
      const from = members.find((m) => m.id === action.fromMemberId);
      const endpoint = statuses.get(action.fromMemberId)?.endpoint ?? from?.clientURLs[0];
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

// Pure status logic: what the cluster's own API said turned into
// status.members[], problems of member pods that keep a cluster from running,
// the conditions (built here, from one pass's facts) with stable transition
// times, and the phase.
import { ALARMS } from '../../contract/index.js';
import { CONDITION_TYPES, LABELS, type ClusterPhase, type Condition, type MemberStatus } from '../api/index.js';
import type { KubeObject } from '../kube/client.js';
import { memberIdHex } from '../membership/client.js';
import { TLS_UNTRUSTED, type TLSTrustProblem } from '../membership/dial-errors.js';
import type { ClusterObservation } from '../membership/observe.js';
import { quorumOf } from '../membership/quorum.js';
import type { MembershipCondition } from '../membership/reconcile.js';

/** Waiting reasons that mean a container will not start without help. */
const STUCK_REASONS = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);
/** A pod still Pending after this long is reported even without a specific reason. */
export const PENDING_TOO_LONG_MS = 3 * 60_000;

type Pod = KubeObject & {
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      name: string;
      ready?: boolean;
      restartCount?: number;
      state?: { waiting?: { reason?: string; message?: string } };
      lastState?: { terminated?: { reason?: string; exitCode?: number; message?: string } };
    }[];
  };
};

/** One line per member pod that cannot start, naming the pod and the reason. */
export function podProblems(pods: KubeObject[], now: number): string[] {
  const out: string[] = [];
  for (const p of pods as Pod[]) {
    if (p.metadata.deletionTimestamp) continue;
    const name = p.metadata.name ?? '?';
    const st = p.status ?? {};
    const stuck = (st.containerStatuses ?? []).find((c) => STUCK_REASONS.has(c.state?.waiting?.reason ?? ''));
    if (stuck) {
      const w = stuck.state!.waiting!;
      const last = stuck.lastState?.terminated;
      const lastText = last ? ` (last exit ${last.exitCode ?? '?'}${last.reason ? ` ${last.reason}` : ''}${last.message ? `: ${last.message.trim().slice(0, 200)}` : ''})` : '';
      out.push(`pod ${name}: ${w.reason}${w.message ? `: ${w.message.slice(0, 200)}` : ''}${lastText}`);
      continue;
    }
    const unschedulable = (st.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
    if (unschedulable) {
      out.push(`pod ${name}: Unschedulable${unschedulable.message ? `: ${unschedulable.message}` : ''}`);
      continue;
    }
    const created = Date.parse(p.metadata.creationTimestamp ?? '');
    if (st.phase === 'Pending' && Number.isFinite(created) && now - created > PENDING_TOO_LONG_MS) {
      out.push(`pod ${name}: Pending for ${Math.round((now - created) / 1000)}s`);
    }
  }
  return out;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/**
 * The new condition list: each given condition replaces the one of its type,
 * keeping the old lastTransitionTime when the status did not change.
 */
export function mergeConditions(old: Condition[] | undefined, next: ConditionInput[], generation: number | undefined, now: Date): Condition[] {
  const byType = new Map((old ?? []).map((c) => [c.type, c]));
  for (const c of next) {
    const prev = byType.get(c.type);
    byType.set(c.type, {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: c.message,
      ...(generation !== undefined && { observedGeneration: generation }),
      lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z'),
    });
  }
  return [...byType.values()];
}

export interface Health {
  voters: number;
  healthyVoters: number;
  leader?: string;
  available: boolean;
  unhealthy: string[];
  learners: string[];
}

/** status.members[] from the pass's observation, by name (numerically: kv-2 before kv-10). */
export function memberStatuses(obs: ClusterObservation): MemberStatus[] {
  return (obs.members ?? [])
    .map((m) => {
      const out: MemberStatus = { name: m.name, id: memberIdHex(m.id), role: m.role, healthy: m.healthy };
      if (m.peerURLs[0]) out.peerURL = m.peerURLs[0];
      if (m.clientURLs[0]) out.clientURL = m.clientURLs[0];
      if (m.report.appliedIndex !== undefined) out.appliedIndex = m.report.appliedIndex;
      return out;
    })
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

/** Quorum health: counts the members[] of the observation (whose `healthy` is quorum.ts's definition). */
export function healthOf(members: MemberStatus[]): Health {
  const voters = members.filter((m) => m.role !== 'learner');
  const healthyVoters = voters.filter((m) => m.healthy).length;
  const leader = members.find((m) => m.role === 'leader')?.name;
  return {
    voters: voters.length,
    healthyVoters,
    leader,
    available: voters.length > 0 && healthyVoters >= quorumOf(voters.length) && leader !== undefined,
    unhealthy: members.filter((m) => !m.healthy).map((m) => m.name || m.id || '?'),
    learners: members.filter((m) => m.role === 'learner').map((m) => m.name || m.id || '?'),
  };
}

export interface PhaseInput {
  bootstrapped: boolean;
  available: boolean;
  degraded: boolean;
  scaling: boolean;
  failed: boolean;
}

export function phaseOf(i: PhaseInput): ClusterPhase {
  if (i.failed) return 'Failed';
  if (!i.bootstrapped) return i.degraded ? 'Degraded' : 'Bootstrapping';
  if (!i.available) return 'Degraded';
  if (i.scaling) return 'Scaling';
  return i.degraded ? 'Degraded' : 'Available';
}

export const C = CONDITION_TYPES;

/** The facts of one reconcile pass that the conditions are made from. */
export interface StatusFacts {
  desiredReplicas: number;
  /** The StatefulSet's spec.replicas. */
  statefulSetReplicas: number;
  /** The ConfigMap said `existing` when the pass began. */
  bootstrapped: boolean;
  /** The founding members all started during this pass. */
  justBootstrapped: boolean;
  /** The StatefulSet is rolling member pods to a new revision. */
  rollingUpdate: boolean;
  members: MemberStatus[];
  /** Why the member list could not be read. */
  observeError?: string;
  /** TLS trust is why members could not be read: said instead of a lost quorum. */
  tlsProblem?: TLSTrustProblem;
  alarms: string[];
  dbSizeBytes?: number;
  /** The members' --quota-backend-bytes. */
  quotaBytes: number;
  /** podProblems() of the member pods. */
  stuckPods: string[];
  /** The membership step's outcome, when one ran. */
  membership?: { condition?: MembershipCondition; done: boolean; message?: string };
}

export interface StatusReport {
  conditions: ConditionInput[];
  phase: ClusterPhase;
  health: Health;
  available: boolean;
  /** Set while a NOSPACE alarm is raised: what is full and how to recover. */
  noSpace?: string;
  degraded: boolean;
  /** Nothing to wait for: the cluster matches its spec and has no problem. */
  settled: boolean;
}

/** The conditions and phase of one pass. */
export function statusReport(f: StatusFacts): StatusReport {
  const health = healthOf(f.members);
  const noSpace = f.alarms.includes(ALARMS.noSpace) ? noSpaceMessage(f.dbSizeBytes, f.quotaBytes) : undefined;
  const available = availableCondition(f, health, noSpace);
  const degraded = degradedCondition(f, health, noSpace);
  const progressing = progressingCondition(f, health);
  const isDegraded = degraded.status === 'True';
  return {
    conditions: [available, membersHealthyCondition(f, health), degraded, progressing],
    phase: phaseOf({
      bootstrapped: f.bootstrapped || f.justBootstrapped,
      available: health.available,
      degraded: isDegraded,
      scaling: progressing.status === 'True' && progressing.reason === 'Scaling',
      failed: false,
    }),
    health,
    available: available.status === 'True',
    ...(noSpace && { noSpace }),
    degraded: isDegraded,
    settled: available.status === 'True' && progressing.status === 'False' && !isDegraded,
  };
}

/** The spec cannot be acted on: nothing is changed until it is fixed. */
export function invalidSpecConditions(problems: string[]): ConditionInput[] {
  return [
    { type: C.degraded, status: 'True', reason: 'InvalidSpec', message: problems.join('; ') },
    { type: C.progressing, status: 'False', reason: 'InvalidSpec', message: 'fix the spec' },
  ];
}

/** The TLS material is missing or unusable (the reason names which). */
export function tlsProblemConditions(problem: { reason: string; message: string }): ConditionInput[] {
  return [{ type: C.degraded, status: 'True', reason: problem.reason, message: problem.message }];
}

/** What a raised NOSPACE alarm means and the way out, for conditions and the Event. */
export function noSpaceMessage(dbSizeBytes: number | undefined, quotaBytes: number): string {
  const size = dbSizeBytes === undefined ? 'the database' : `database size ${formatBytes(dbSizeBytes)}`;
  return (
    `${size} reached the quota of ${formatBytes(quotaBytes)} (NOSPACE alarm): writes are refused, reads, deletes and compaction still work; ` +
    'to recover, delete keys no longer needed, compact the history (etcdctl compact <revision>), then etcdctl alarm disarm'
  );
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

function quorumText(h: Health): string {
  return `${h.healthyVoters}/${h.voters} voting members healthy${h.leader ? `, leader ${h.leader}` : ', no leader'}`;
}

function availableCondition(f: StatusFacts, h: Health, noSpace: string | undefined): ConditionInput {
  const type = C.available;
  // A full quota leaves the quorum intact: said as it is, not as a lost quorum.
  if (h.available && noSpace) return { type, status: 'False', reason: 'NoSpace', message: `writes refused, ${quorumText(h)}: ${noSpace}` };
  if (h.available) return { type, status: 'True', reason: 'QuorumHealthy', message: quorumText(h) };
  // What the operator cannot see for want of trust says nothing about the quorum.
  if (f.tlsProblem) return { type, status: 'Unknown', reason: TLS_UNTRUSTED, message: f.tlsProblem.message };
  if (f.observeError) return { type, status: 'False', reason: 'MembersUnreachable', message: `member list unavailable: ${f.observeError}` };
  return { type, status: 'False', reason: h.leader ? 'NoQuorum' : 'NoLeader', message: quorumText(h) };
}

function membersMatch(f: StatusFacts, h: Health): boolean {
  return f.members.length === f.desiredReplicas && h.learners.length === 0 && f.statefulSetReplicas === f.desiredReplicas;
}

function membersHealthyCondition(f: StatusFacts, h: Health): ConditionInput {
  const type = C.membersHealthy;
  if (h.unhealthy.length === 0 && membersMatch(f, h)) return { type, status: 'True', reason: 'AllMembersHealthy', message: `${f.members.length} members healthy` };
  const parts: string[] = [];
  if (h.unhealthy.length) parts.push(`unhealthy: ${h.unhealthy.join(', ')}`);
  if (h.learners.length) parts.push(`learners: ${h.learners.join(', ')}`);
  if (f.members.length !== f.desiredReplicas) parts.push(`${f.members.length} members, want ${f.desiredReplicas}`);
  return { type, status: 'False', reason: h.unhealthy.length ? 'MembersUnhealthy' : 'MembersMismatch', message: parts.join('; ') || 'members do not match the spec' };
}

/** Every problem is named in the message; the reason is the most pressing one's. */
function degradedCondition(f: StatusFacts, h: Health, noSpace: string | undefined): ConditionInput {
  const problems: { reason: string; message: string }[] = [];
  if (f.stuckPods.length) problems.push({ reason: 'PodsNotStarting', message: f.stuckPods.join('; ') });
  const mc = f.membership?.condition;
  if (mc?.type === C.degraded && mc.status === 'True') problems.push({ reason: mc.reason, message: mc.message });
  if (noSpace) problems.push({ reason: 'NoSpace', message: noSpace });
  const otherAlarms = f.alarms.filter((a) => a !== ALARMS.noSpace);
  if (otherAlarms.length) problems.push({ reason: 'AlarmRaised', message: `alarm ${otherAlarms.join(', ')} raised in the cluster` });
  if (f.tlsProblem) problems.push({ reason: TLS_UNTRUSTED, message: f.tlsProblem.message });
  else if (f.bootstrapped && !h.available) problems.push({ reason: 'QuorumLost', message: `quorum lost or no leader: ${quorumText(h)}` });
  if (problems.length === 0) return { type: C.degraded, status: 'False', reason: 'AsExpected', message: 'no problems seen' };
  return { type: C.degraded, status: 'True', reason: problems[0]!.reason, message: problems.map((p) => p.message).join('; ') };
}

function progressingCondition(f: StatusFacts, h: Health): ConditionInput {
  const type = C.progressing;
  const m = f.membership;
  if (m?.condition?.type === C.progressing) return m.condition;
  if (!f.bootstrapped && !f.justBootstrapped) return { type, status: 'True', reason: 'Bootstrapping', message: `waiting for ${f.desiredReplicas} founding members to start` };
  if (!membersMatch(f, h) || (m && !m.done)) return { type, status: 'True', reason: 'Scaling', message: m?.message ?? `${f.members.length} members, want ${f.desiredReplicas}` };
  if (f.rollingUpdate) return { type, status: 'True', reason: 'RollingUpdate', message: 'member pods are being updated' };
  return { type, status: 'False', reason: 'ReconcileComplete', message: 'the cluster matches its spec' };
}

/** The version every member pod runs, once no rollout is in progress; else the oldest one seen. */
export function currentVersion(pods: KubeObject[], specVersion: string, rolling: boolean): string | undefined {
  const versions = pods.map((p) => p.metadata.labels?.[LABELS.version]).filter((v): v is string => !!v);
  if (versions.length === 0) return undefined;
  if (!rolling && versions.every((v) => v === specVersion)) return specVersion;
  return versions.sort(compareVersions)[0];
}

/**
 * Orders version tags as versions, not as text: 3.9.0 < 3.10.0, a leading
 * `v` is ignored, a pre-release sorts before its release (3.5.0-rc.1 <
 * 3.5.0). Tags that are not versions sort after versions, as text.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) return pa ? -1 : pb ? 1 : a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < Math.max(pa.numbers.length, pb.numbers.length); i++) {
    const d = (pa.numbers[i] ?? 0) - (pb.numbers[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (pa.pre === pb.pre) return 0;
  if (pa.pre === undefined) return 1;
  if (pb.pre === undefined) return -1;
  return comparePreRelease(pa.pre, pb.pre);
}

function parseVersion(v: string): { numbers: number[]; pre?: string } | undefined {
  const m = /^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return undefined;
  return { numbers: m[1]!.split('.').map(Number), ...(m[2] !== undefined && { pre: m[2] }) };
}

/** Semantic-versioning precedence of pre-release fields: numbers numerically and below words. */
function comparePreRelease(a: string, b: string): number {
  const xa = a.split('.');
  const xb = b.split('.');
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const u = xa[i];
    const w = xb[i];
    if (u === undefined) return -1;
    if (w === undefined) return 1;
    const nu = /^\d+$/.test(u);
    const nw = /^\d+$/.test(w);
    if (nu && nw && Number(u) !== Number(w)) return Math.sign(Number(u) - Number(w));
    if (nu !== nw) return nu ? -1 : 1;
    if (!nu && u !== w) return u < w ? -1 : 1;
  }
  return 0;
}

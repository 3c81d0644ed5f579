// The rollout planner: which one member pod to replace next so that the
// members end up on the StatefulSet's update revision (StatefulSet
// `updateStrategy: OnDelete`: the operator, not the StatefulSet controller,
// deletes pods). Pure: the reconciler gathers the facts, runs the action and
// keeps the returned state in status.upgrade.
//
// Order: members that are down or not ready first (replacing them cannot cost
// availability), then followers, then the leader, after its leadership is
// moved to the most caught-up member already on the new template.
//
// Gates before each step: a leader exists, every other member is healthy in
// the cluster's own API with a Ready pod, and every voter's applied index is
// within `maxLag` of the leader's. After a step: the replaced pod runs the
// new revision, is Ready, healthy, reports the target version when it reports
// one, and has caught up. One step per pass. The step is recorded in the state
// before its pod is deleted, so a pass repeated after a crash finds it and
// waits for it (or re-issues the same deletion) instead of starting another.
import type { UpgradeState } from './state.js';

export type MemberRole = 'leader' | 'follower' | 'learner';

/** One member as the pass sees it: its pod and what the cluster's own API says of it. */
export interface RolloutMember {
  /** Pod name, which is also the member name. */
  name: string;
  /** The pod's `controller-revision-hash`; undefined when there is no pod. */
  revision?: string;
  podReady: boolean;
  podTerminating: boolean;
  /** Healthy in the cluster's own API (answers and knows the leader). */
  healthy: boolean;
  role?: MemberRole;
  memberId?: string;
  appliedIndex?: number;
  /** The Kvorum version the member reports, when known. */
  version?: string;
}

export type UpdateStrategy = 'RollingUpdate' | 'Supervised';

export interface RolloutInput {
  /** The StatefulSet's updateRevision. */
  targetRevision: string;
  targetVersion: string;
  members: RolloutMember[];
  /** status.upgrade of the last pass. */
  state?: UpgradeState;
  strategy: UpdateStrategy;
  /** Value of the approval annotation (Supervised): the target revision or version it approves. */
  approval?: string;
  /** A rolling restart requested by annotation: its timestamp, kept in the state for the record. */
  restartedAt?: string;
  now: Date;
  /** How long a replaced member may take to become healthy and catch up. */
  stallTimeoutMs: number;
  /** Largest applied-index distance from the leader that counts as caught up. */
  maxLag: number;
}

export type RolloutAction =
  | { kind: 'none' }
  | { kind: 'wait'; reason: string; message: string }
  | { kind: 'moveLeader'; from: RolloutMember; to: RolloutMember; message: string }
  | { kind: 'deletePod'; member: string; message: string }
  | { kind: 'awaitApproval'; member: string; message: string }
  | { kind: 'stalled'; member: string; message: string }
  | { kind: 'completed'; message: string };

export interface RolloutPlan {
  action: RolloutAction;
  /** What status.upgrade becomes (undefined: no rollout). */
  state?: UpgradeState;
}

export const DEFAULT_STALL_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_MAX_LAG = 1000;

const iso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');
const ordinalOf = (name: string): number => Number(/-(\d+)$/.exec(name)?.[1] ?? 0);

export function planRollout(input: RolloutInput): RolloutPlan {
  const { members, targetRevision } = input;
  const onTarget = (m: RolloutMember): boolean => m.revision === targetRevision && !m.podTerminating;
  const updated = members.filter(onTarget).map((m) => m.name);
  const pending = members.filter((m) => !onTarget(m));
  // A new target (a further change or a revert) starts a new rollout record.
  const prev = input.state && input.state.targetRevision === targetRevision ? input.state : undefined;

  if (pending.length === 0 && !prev?.currentStep) {
    if (!prev || prev.completedAt) return { action: { kind: 'none' }, ...(prev && { state: { ...prev, updatedMembers: updated } }) };
    const state: UpgradeState = { ...prev, updatedMembers: updated, completedAt: iso(input.now) };
    delete state.stalled;
    return { action: { kind: 'completed', message: `all ${members.length} members run revision ${targetRevision} (version ${input.targetVersion})` }, state };
  }

  const base: UpgradeState = prev ?? {
    targetRevision,
    targetVersion: input.targetVersion,
    startedAt: iso(input.now),
    updatedMembers: [],
    ...(input.restartedAt && { restartedAt: input.restartedAt }),
  };
  const state: UpgradeState = { ...base, updatedMembers: updated };
  delete state.completedAt;

  const leader = members.find((m) => m.role === 'leader');
  const leaderApplied = leader?.appliedIndex;
  const caughtUp = (m: RolloutMember): boolean =>
    m.role === 'learner' || (leaderApplied !== undefined && m.appliedIndex !== undefined && leaderApplied - m.appliedIndex <= input.maxLag);

  // A step in flight: wait for its member to pass the after-gates, or stall.
  const step = state.currentStep;
  if (step) {
    const m = members.find((x) => x.name === step.member);
    if (m && !m.podTerminating && m.revision !== targetRevision && m.revision !== undefined) {
      // The deletion was recorded but did not happen (crash, lost answer): the same member again, never another.
      return { action: { kind: 'deletePod', member: m.name, message: `replacing ${m.name} (repeated)` }, state };
    }
    const problem = m ? afterGateProblem(m, input, caughtUp) : `${step.member} has no pod yet`;
    if (!problem) {
      const done: UpgradeState = { ...state };
      delete done.currentStep;
      delete done.stalled;
      return { action: { kind: 'wait', reason: 'MemberUpdated', message: `${step.member} runs revision ${targetRevision}, healthy and caught up` }, state: done };
    }
    const waited = input.now.getTime() - Date.parse(step.startedAt);
    if (waited > input.stallTimeoutMs) {
      const message = `${step.member} not healthy ${Math.round(waited / 1000)}s after it was replaced (${problem}); the remaining members are left as they are. Revert spec.version (or the change) to roll it back`;
      return { action: { kind: 'stalled', member: step.member, message }, state: { ...state, stalled: { member: step.member, since: state.stalled?.since ?? iso(input.now), message } } };
    }
    return { action: { kind: 'wait', reason: 'WaitingForMember', message: `waiting for ${step.member}: ${problem}` }, state };
  }

  // The next member: down or not ready first, then followers, the leader last.
  const down = (m: RolloutMember): boolean => !m.healthy || !m.podReady;
  const order = [...pending].sort((a, b) => rank(a) - rank(b) || ordinalOf(b.name) - ordinalOf(a.name));
  function rank(m: RolloutMember): number {
    if (down(m)) return 0;
    return m.role === 'leader' ? 2 : 1;
  }
  const next = order[0]!;
  // The StatefulSet recreates a missing pod (on the new revision) by itself.
  if (next.revision === undefined) return { action: { kind: 'wait', reason: 'PodMissing', message: `${next.name} has no pod; the StatefulSet recreates it` }, state };
  if (next.podTerminating) return { action: { kind: 'wait', reason: 'PodTerminating', message: `${next.name} is terminating` }, state };

  const gate = beforeGateProblem(next, members, leader, caughtUp, down(next));
  if (gate) return { action: { kind: 'wait', reason: 'WaitingForHealth', message: gate }, state };

  if (next.role === 'leader' && members.length > 1) {
    if (input.strategy === 'Supervised' && input.approval !== targetRevision && input.approval !== input.targetVersion) {
      return { action: { kind: 'awaitApproval', member: next.name, message: `every follower is updated; waiting for approval to replace the leader ${next.name}: annotate kvorum.io/approve-leader-upgrade=${input.targetVersion}` }, state };
    }
    const to = transferTarget(members, next, targetRevision);
    if (!to) return { action: { kind: 'wait', reason: 'WaitingForHealth', message: `no healthy member to move leadership from ${next.name} to` }, state };
    return { action: { kind: 'moveLeader', from: next, to, message: `moving leadership from ${next.name} to ${to.name} before replacing it` }, state };
  }

  const why = down(next) ? 'down or not ready' : next.role === 'leader' ? 'the leader' : 'a follower';
  return {
    action: { kind: 'deletePod', member: next.name, message: `replacing ${next.name} (${why}) to run revision ${targetRevision}` },
    state: { ...state, currentStep: { member: next.name, startedAt: iso(input.now) } },
  };
}

function afterGateProblem(m: RolloutMember, input: RolloutInput, caughtUp: (m: RolloutMember) => boolean): string | undefined {
  if (m.revision !== input.targetRevision || m.podTerminating) return 'its pod is not on the new revision yet';
  if (!m.podReady) return 'its pod is not Ready';
  if (!m.healthy) return 'not healthy in the cluster';
  if (m.version !== undefined && input.targetVersion && !sameVersion(m.version, input.targetVersion)) return `reports version ${m.version}, want ${input.targetVersion}`;
  if (!caughtUp(m)) return `applied index ${m.appliedIndex ?? '?'} is more than ${input.maxLag} behind the leader`;
  return undefined;
}

function beforeGateProblem(next: RolloutMember, members: RolloutMember[], leader: RolloutMember | undefined, caughtUp: (m: RolloutMember) => boolean, nextIsDown: boolean): string | undefined {
  if (!leader) return 'the cluster has no leader';
  for (const m of members) {
    // A member that is already down is replaced without waiting for itself.
    if (m === next && nextIsDown) continue;
    if (!m.healthy) return `${m.name} is not healthy`;
    if (!m.podReady) return `${m.name}'s pod is not Ready`;
    if (!caughtUp(m)) return `${m.name} is more than the allowed lag behind the leader`;
  }
  return undefined;
}

/** The most caught-up healthy voter other than `leader`, preferring those on the new revision. */
function transferTarget(members: RolloutMember[], leader: RolloutMember, targetRevision: string): RolloutMember | undefined {
  const candidates = members.filter((m) => m !== leader && m.healthy && m.role !== 'learner' && m.memberId !== undefined);
  const best = (list: RolloutMember[]): RolloutMember | undefined => [...list].sort((a, b) => (b.appliedIndex ?? -1) - (a.appliedIndex ?? -1))[0];
  return best(candidates.filter((m) => m.revision === targetRevision)) ?? best(candidates);
}

/** `v0.2.0` and `0.2.0` name the same version. */
function sameVersion(a: string, b: string): boolean {
  return a.replace(/^v/, '') === b.replace(/^v/, '');
}

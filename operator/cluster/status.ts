// Pure status logic: problems of member pods that keep a cluster from
// running, conditions with stable transition times, and the phase.
import { CONDITION_TYPES, type ClusterPhase, type Condition, type MemberStatus } from '../api/index.js';
import type { KubeObject } from '../kube/client.js';
import { quorumOf } from './names.js';

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

/** Quorum health from the members[] the cluster reported. */
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

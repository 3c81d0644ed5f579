// CA rotation in phases, one rolling restart per phase. Members read their
// certificates only at start, so a member restarted with new trust must
// still talk to members that have not restarted yet:
//
//   TrustBoth      every leaf Secret's ca.crt is old CA(s) + new CA; the
//                  leaves are still the old ones          -> roll
//   ReissueLeaves  leaves re-issued from the new CA, bundle kept -> roll
//   DropOld        ca.crt is the new CA alone             -> roll
//   Completed      the record stays (requestedAt tells which request was served)
//
// status.tlsRotation holds the phase, so a restarted operator resumes it.
// Its shape is part of the CRD (crds/kvorum.io_kvclusters.yaml).
import { RENEW_BEFORE_DAYS } from './names.js';

export const ROTATION_PHASES = ['TrustBoth', 'ReissueLeaves', 'DropOld', 'Completed'] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

/** Why a rotation started. */
export const ROTATION_REASONS = {
  requested: 'Requested',
  expiring: 'CAExpiring',
  missing: 'CASecretMissing',
  replaced: 'CASecretReplaced',
} as const;
export type RotationReason = (typeof ROTATION_REASONS)[keyof typeof ROTATION_REASONS];

/** A user asks for a rotation by setting this annotation on the KVCluster; a new value asks again. */
export const CA_ROTATION_ANNOTATION = 'kvorum.io/ca-rotation-requested-at';

export interface TLSRotationStatus {
  phase: RotationPhase;
  reason: RotationReason;
  message: string;
  /** RFC 3339 times. */
  startedAt: string;
  phaseStartedAt: string;
  completedAt?: string;
  /** The CAs members trusted before (caFingerprint): dropped in DropOld. */
  oldCAFingerprints: string[];
  /** The CA in the CA Secret that everything moves to. */
  newCAFingerprint: string;
  /** The kvorum.io/ca-rotation-requested-at value this rotation serves (a later value asks again). */
  requestedAt?: string;
}

export interface Trigger {
  reason: RotationReason;
  message: string;
}

const DAY_MS = 86_400_000;

export function rotationActive(r: TLSRotationStatus | undefined): r is TLSRotationStatus {
  return r !== undefined && r.phase !== 'Completed';
}

/**
 * Whether a healthy, consistent cluster (members trust exactly the CA in its
 * Secret) should move to a new CA now: a request not served yet, or a CA
 * that ends within RENEW_BEFORE_DAYS.
 */
export function rotationTrigger(input: { requested?: string; last?: TLSRotationStatus; caNotAfter: Date; now: Date }): Trigger | undefined {
  const { requested, last, caNotAfter, now } = input;
  if (requested !== undefined && requested !== '' && requested !== last?.requestedAt) {
    return { reason: ROTATION_REASONS.requested, message: `CA rotation requested (${CA_ROTATION_ANNOTATION}: ${requested})` };
  }
  if (caNotAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) {
    return { reason: ROTATION_REASONS.expiring, message: `the CA expires at ${caNotAfter.toISOString()}, within ${RENEW_BEFORE_DAYS} days` };
  }
  return undefined;
}

function stamp(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}

export function startRotation(trigger: Trigger, oldCAFingerprints: string[], newCAFingerprint: string, requested: string | undefined, now: Date): TLSRotationStatus {
  return {
    phase: 'TrustBoth',
    reason: trigger.reason,
    message: trigger.message,
    startedAt: stamp(now),
    phaseStartedAt: stamp(now),
    oldCAFingerprints: [...oldCAFingerprints],
    newCAFingerprint,
    // Any start serves the pending request too: no second rotation right after this one.
    ...(requested !== undefined && requested !== '' && { requestedAt: requested }),
  };
}

/** The state once every member runs the current phase's Secrets. */
export function nextPhase(r: TLSRotationStatus, now: Date): TLSRotationStatus {
  const i = ROTATION_PHASES.indexOf(r.phase);
  const phase = ROTATION_PHASES[Math.min(i + 1, ROTATION_PHASES.length - 1)]!;
  return { ...r, phase, phaseStartedAt: stamp(now), ...(phase === 'Completed' && { completedAt: stamp(now) }) };
}

/** What a pass knows about the member pods and the cluster's health. */
export interface RollFacts {
  /** The TLS hash of this pass's Secrets (the pod template carries it). */
  tlsHash: string;
  desiredReplicas: number;
  pods: { name: string; tlsHash?: string; ready: boolean; terminating: boolean }[];
  healthyMembers: number;
  hasLeader: boolean;
}

/** Every member pod was (re)started with this phase's Secrets, is Ready, and the cluster is whole and led. */
export function phaseRolledOut(f: RollFacts): boolean {
  const live = f.pods.filter((p) => !p.terminating);
  return (
    live.length === f.desiredReplicas &&
    live.every((p) => p.tlsHash === f.tlsHash && p.ready) &&
    f.healthyMembers === f.desiredReplicas &&
    f.hasLeader
  );
}

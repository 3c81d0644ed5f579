// status.upgrade: the record of a rollout, kept in the KVCluster's status so
// that an operator that restarts (or the standby that takes over) resumes it.
// Its shape is part of the CRD (crds/kvorum.io_kvclusters.yaml).

export interface UpgradeState {
  /** The StatefulSet revision the members are moving to. */
  targetRevision: string;
  targetVersion?: string;
  /** RFC 3339 time the rollout started. */
  startedAt: string;
  /** Members whose pod runs the target revision. */
  updatedMembers: string[];
  /** The member replaced in this step, recorded before its pod is deleted. */
  currentStep?: { member: string; startedAt: string };
  /** The replaced member did not become healthy in time: nothing else is touched. */
  stalled?: { member: string; since: string; message: string };
  /** The kvorum.io/restartedAt value this rollout carries out, for a rolling restart. */
  restartedAt?: string;
  completedAt?: string;
}

/** True while a rollout is under way (started, not completed): other disruptive work (in-place restores) waits. */
export function upgradeInProgress(status: { upgrade?: UpgradeState } | undefined): boolean {
  const u = status?.upgrade;
  return u !== undefined && u.completedAt === undefined;
}

// Quorum arithmetic, and the operator's one definition of a healthy member
// and of the leader. Status, metrics and the membership planner all count
// with these, from the same observation, so they cannot disagree.

/** Voters needed for a majority of `voters`. */
export const quorumOf = (voters: number): number => Math.floor(voters / 2) + 1;

/** What a member said about itself when asked at its own endpoint (Maintenance.Status). */
export interface MemberReport {
  /** It answered, with its own member ID. */
  reachable: boolean;
  /** The leader it knows ("0" or absent: none). */
  leaderId?: string;
  raftTerm?: number;
}

/**
 * Healthy: the member answers and knows a leader, i.e. it takes part in the
 * cluster. Alarms are deliberately not part of it: a raised NOSPACE alarm is
 * raised on every member at once and says the cluster is full, not that any
 * member is down (see ClusterObservation.alarms).
 */
export function isHealthy(report: MemberReport | undefined): boolean {
  return report?.reachable === true && report.leaderId !== undefined && report.leaderId !== '0';
}

/**
 * The leader: a healthy voter that names itself as leader. Followers' word is
 * not enough (the operator acts through the leader, so it must reach it); the
 * highest term wins over a deposed leader that has not heard the news yet.
 */
export function leaderAmong<M extends { id: string; isLearner: boolean }>(members: readonly M[], reportOf: (m: M) => MemberReport | undefined): M | undefined {
  let best: { m: M; term: number } | undefined;
  for (const m of members) {
    const r = reportOf(m);
    if (m.isLearner || !isHealthy(r) || r!.leaderId !== m.id) continue;
    const term = r!.raftTerm ?? 0;
    if (!best || term > best.term) best = { m, term };
  }
  return best?.m;
}

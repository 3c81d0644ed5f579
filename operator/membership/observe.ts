// The one read of a cluster per reconcile pass, through its own API: the
// member list and each member's Maintenance.Status at its own endpoint. The
// status report and the membership planner are both made from this.
import { alarmsInStatusErrors } from '../../contract/index.js';
import { memberIdHex, type ClusterClient, type ClusterMember, type EndpointStatus } from './client.js';
import { classifyDialError, isUnclearConnectFailure, type TLSTrustProblem } from './dial-errors.js';
import { isHealthy, leaderAmong, type MemberReport } from './quorum.js';

export type MemberRole = 'leader' | 'follower' | 'learner';

export interface ObservedMember extends ClusterMember {
  /** Has run and published itself (name and client URLs known). */
  started: boolean;
  report: MemberReport & { appliedIndex?: number };
  /** The Status answer, when the member answered with its own ID. */
  status?: EndpointStatus;
  healthy: boolean;
  role: MemberRole;
}

export interface ClusterObservation {
  /** Undefined when no member answered the member list. */
  members?: ObservedMember[];
  /** Why the member list could not be read. */
  error?: string;
  leader?: ObservedMember;
  /** The cluster ID (hex) most answering members report. */
  clusterID?: string;
  /** Alarms raised in the cluster (`NOSPACE`, `CORRUPT`), as the answering members report them. */
  alarms: string[];
  /** The largest backend size a member reports, in bytes. */
  dbSizeBytes?: number;
  /** TLS trust, not the members, is why (some) members could not be read. */
  tlsProblem?: TLSTrustProblem;
}

export type ObserveAPI = Pick<ClusterClient, 'memberList' | 'status'> & Partial<Pick<ClusterClient, 'diagnoseTLS'>>;

/** The TLS trust failure behind a failed call: from its text, else (when the text says nothing) from a probe. */
async function trustFailure(client: ObserveAPI, err: unknown, endpoint?: string): Promise<TLSTrustProblem | undefined> {
  const text = err instanceof Error ? err.message : String(err);
  const seen = classifyDialError(text);
  if (seen || !client.diagnoseTLS || !isUnclearConnectFailure(text)) return seen;
  return client.diagnoseTLS(endpoint);
}

/**
 * `endpointOf(member)` gives the client endpoint to ask a member's status at;
 * a member without one counts as unreachable.
 */
export async function observeCluster(client: ObserveAPI, endpointOf: (m: ClusterMember) => string | undefined): Promise<ClusterObservation> {
  let list: ClusterMember[];
  try {
    list = await client.memberList();
  } catch {
    // Without a leader a linearizable list fails; a member's own copy still tells who is there.
    try {
      list = await client.memberList({ linearizable: false });
    } catch (err) {
      const tlsProblem = await trustFailure(client, err);
      return { alarms: [], error: (err as Error).message, ...(tlsProblem && { tlsProblem }) };
    }
  }
  let tlsProblem: TLSTrustProblem | undefined;
  const answers = await Promise.all(
    list.map(async (m): Promise<EndpointStatus | undefined> => {
      const ep = endpointOf(m);
      if (!ep) return undefined;
      try {
        const st = await client.status(ep);
        return st.memberId === m.id ? st : undefined;
      } catch (err) {
        tlsProblem ??= await trustFailure(client, err, ep);
        return undefined; // unreachable
      }
    }),
  );
  const observed = list.map((m, i): ObservedMember => {
    const st = answers[i];
    const report = st ? { reachable: true, leaderId: st.leaderId, raftTerm: st.raftTerm, appliedIndex: st.raftAppliedIndex } : { reachable: false };
    return { ...m, started: m.name !== '' && m.clientURLs.length > 0, report, ...(st && { status: st }), healthy: isHealthy(report), role: m.isLearner ? 'learner' : 'follower' };
  });
  const leader = leaderAmong(observed, (m) => m.report);
  if (leader) leader.role = 'leader';
  const statuses = answers.filter((s): s is EndpointStatus => s !== undefined);
  const clusterId = mostCommon(statuses.map((s) => s.clusterId).filter((id) => id !== '0'));
  const sizes = statuses.map((s) => s.dbSize);
  return {
    members: observed,
    ...(leader && { leader }),
    ...(clusterId && { clusterID: memberIdHex(clusterId) }),
    alarms: [...new Set(statuses.flatMap((s) => alarmsInStatusErrors(s.errors)))].sort(),
    ...(sizes.length > 0 && { dbSizeBytes: Math.max(...sizes) }),
    ...(tlsProblem && { tlsProblem }),
  };
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  let n = 0;
  for (const [v, c] of counts) if (c > n) [best, n] = [v, c];
  return best;
}

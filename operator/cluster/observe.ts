// Reads a cluster's membership from the cluster's own API: the member list
// and each member's Maintenance.Status, turned into status.members[].
import type { MemberStatus } from '../api/index.js';
import { memberIdHex, type ClusterClient, type ClusterMember, type EndpointStatus } from '../membership/client.js';

export interface MembersObservation {
  /** Undefined when no member answered the member list. */
  list?: ClusterMember[];
  /** Status by member ID (decimal), for members that answered. */
  statusById: Map<string, EndpointStatus>;
  members: MemberStatus[];
  /** The cluster ID (hex) most answering members report. */
  clusterID?: string;
  /** Why the member list could not be read. */
  error?: string;
}

/**
 * `endpointOf(member)` gives the client endpoint to ask a member's status at
 * (by name; members without a name have never started and are not asked).
 */
export async function observeMembers(client: ClusterClient, endpointOf: (m: ClusterMember) => string | undefined): Promise<MembersObservation> {
  let list: ClusterMember[];
  try {
    list = await client.memberList({ linearizable: false });
  } catch (err) {
    return { statusById: new Map(), members: [], error: (err as Error).message };
  }
  const statusById = new Map<string, EndpointStatus>();
  await Promise.all(
    list.map(async (m) => {
      const ep = m.name ? endpointOf(m) : undefined;
      if (!ep) return;
      try {
        const st = await client.status(ep);
        if (st.memberId === m.id) statusById.set(m.id, st);
      } catch {
        // Unreachable: reported as unhealthy below.
      }
    }),
  );
  const leaderIds = [...statusById.values()].map((s) => s.leaderId).filter((id) => id !== '0');
  // The leader most members agree on (they agree unless an election is in flight).
  const leaderId = mostCommon(leaderIds);
  const members: MemberStatus[] = list
    .map((m) => {
      const st = statusById.get(m.id);
      const role = m.isLearner ? 'learner' : m.id === leaderId ? 'leader' : 'follower';
      const out: MemberStatus = {
        name: m.name,
        id: memberIdHex(m.id),
        role,
        healthy: st !== undefined && st.errors.length === 0 && st.leaderId !== '0',
      };
      if (m.peerURLs[0]) out.peerURL = m.peerURLs[0];
      if (m.clientURLs[0]) out.clientURL = m.clientURLs[0];
      if (st) out.appliedIndex = st.raftAppliedIndex;
      return out;
    })
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const clusterId = mostCommon([...statusById.values()].map((s) => s.clusterId).filter((id) => id !== '0'));
  return { list, statusById, members, ...(clusterId && { clusterID: memberIdHex(clusterId) }) };
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  let n = 0;
  for (const [v, c] of counts) if (c > n) [best, n] = [v, c];
  return best;
}

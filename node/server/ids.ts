// Member and cluster IDs, derived the way etcd derives them: from the peer
// URLs and the cluster token, so every founding member computes the same IDs
// from the same --initial-cluster flag without talking to the others. IDs are
// kept below 2^53 so they stay exact as JavaScript numbers.
import { createHash, randomBytes } from 'node:crypto';

function idFromHash(parts: string[]): number {
  const digest = createHash('sha256').update(parts.join('\n')).digest();
  // 52 bits: high 20 bits from one word, low 32 from the next; never 0.
  const id = (digest.readUInt32BE(0) & 0xfffff) * 2 ** 32 + digest.readUInt32BE(4);
  return id === 0 ? 1 : id;
}

/** The ID of a founding member, from its sorted peer URLs and the cluster token. */
export function memberIdFor(peerUrls: string[], clusterToken: string): number {
  return idFromHash([...[...peerUrls].sort(), clusterToken]);
}

/** A fresh ID for a member added later (MemberAdd), unique even for reused URLs. */
export function newMemberId(peerUrls: string[], clusterToken: string): number {
  return idFromHash([...[...peerUrls].sort(), clusterToken, randomBytes(8).toString('hex')]);
}

/** The cluster ID, from the founding members' IDs. */
export function clusterIdFor(memberIds: number[]): number {
  return idFromHash([...memberIds].sort((a, b) => a - b).map(String));
}

/** etcd prints IDs as lower-case hex without padding. */
export function formatId(id: number): string {
  return id.toString(16);
}

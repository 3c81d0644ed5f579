// The IDs a member hands out. Member and cluster IDs are derived the way etcd
// derives them: from the peer URLs and the cluster token, so every founding
// member computes the same IDs from the same --initial-cluster flag without
// talking to the others. Request IDs never repeat across restarts (below).
// All are kept below 2^53 so they stay exact as JavaScript numbers.
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

/** 2020-01-01T00:00:00Z. */
const REQUEST_ID_EPOCH_MS = Date.UTC(2020, 0, 1);
const REQUEST_ID_COUNTER_BITS = 11;

/**
 * Request IDs that never repeat on this member, across restarts too: the
 * proposer of an entry is matched to its waiting client by (member, request
 * ID), and an entry proposed by a previous run may still be applied after a
 * restart. After etcd's idutil: the start time in milliseconds (since 2020,
 * so 42 bits last until 2159) above an 11-bit counter, kept below 2^53 so it
 * stays exact in a JavaScript number and in the entry encoding. A run would
 * have to average over 2,048 requests per millisecond of its life to reach
 * the IDs of the next one. (A wall clock stepped back across a restart can
 * still collide, as in etcd.)
 */
export class RequestIds {
  private upcoming: number;

  constructor(nowMs: number = Date.now()) {
    this.upcoming = Math.max(1, Math.floor(nowMs - REQUEST_ID_EPOCH_MS)) * 2 ** REQUEST_ID_COUNTER_BITS;
  }

  next(): number {
    const id = this.upcoming++;
    if (id > Number.MAX_SAFE_INTEGER) throw new RangeError('request IDs exhausted');
    return id;
  }
}

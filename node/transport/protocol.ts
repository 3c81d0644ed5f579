// What both ends of a peer connection agree on: HTTP paths, header names and
// the identity check every connection passes before any message is accepted.
import type { IncomingHttpHeaders } from 'node:http';
import type { NodeId } from '../raft/types.js';

/** Bumped when the stream framing or handshake changes incompatibly. */
export const PROTOCOL_VERSION = '1';
/** The HTTP Upgrade token that turns a request into a framed message stream. */
export const UPGRADE_TOKEN = 'kvorum-raft';

export const PATH_STREAM = '/raft/stream';
export const PATH_SNAPSHOT = '/raft/snapshot';
export const PATH_MEMBERS = '/members';

export const HEADER_PROTOCOL = 'x-kvorum-protocol';
export const HEADER_CLUSTER = 'x-kvorum-cluster-id';
export const HEADER_FROM = 'x-kvorum-from';
export const HEADER_TO = 'x-kvorum-to';
/** Set on every response, so a refused dialer can log whose cluster it reached. */
export const HEADER_MEMBER = 'x-kvorum-member-id';

/** IDs travel as lower-case hex, the way etcd prints them. */
export function formatId(id: number): string {
  return id.toString(16);
}

/** Parses a hex ID below 2^53; undefined when absent or malformed. */
export function parseId(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^[0-9a-f]{1,14}$/i.test(value)) return undefined;
  const id = parseInt(value, 16);
  return Number.isSafeInteger(id) ? id : undefined;
}

export interface Identity {
  memberId: NodeId;
  clusterId: number;
}

/** The headers a dialer sends to prove whom it is and whom it wants. */
export function dialHeaders(self: Identity, to: NodeId): Record<string, string> {
  return {
    [HEADER_PROTOCOL]: PROTOCOL_VERSION,
    [HEADER_CLUSTER]: formatId(self.clusterId),
    [HEADER_FROM]: formatId(self.memberId),
    [HEADER_TO]: formatId(to),
  };
}

export type Admission = { ok: true; from: NodeId } | { ok: false; status: number; reason: string; otherCluster?: boolean };

/** Decides whether a dialer may talk to this member. */
export function admit(self: Identity, headers: IncomingHttpHeaders): Admission {
  if (headers[HEADER_PROTOCOL] !== PROTOCOL_VERSION) {
    return { ok: false, status: 400, reason: `unsupported peer protocol ${String(headers[HEADER_PROTOCOL])} (this member speaks ${PROTOCOL_VERSION})` };
  }
  const cluster = parseId(headers[HEADER_CLUSTER]);
  const from = parseId(headers[HEADER_FROM]);
  const to = parseId(headers[HEADER_TO]);
  if (cluster === undefined || from === undefined || to === undefined) {
    return { ok: false, status: 400, reason: 'missing or malformed cluster, from or to header' };
  }
  if (cluster !== self.clusterId) {
    return {
      ok: false,
      status: 412,
      reason: `cluster ID mismatch: member ${formatId(from)} is in cluster ${formatId(cluster)}, this member is in cluster ${formatId(self.clusterId)}`,
      otherCluster: true,
    };
  }
  if (to !== self.memberId) {
    return { ok: false, status: 412, reason: `member ID mismatch: the dialer wants member ${formatId(to)}, this is member ${formatId(self.memberId)}` };
  }
  return { ok: true, from };
}

/** A cluster member as GET /members lists it (when the application supplies the list). */
export interface MemberInfo {
  id: NodeId;
  name: string;
  peerUrls: string[];
  isLearner: boolean;
}

/** The JSON of GET /members; IDs as hex strings. */
export interface MembersDocument {
  memberId: string;
  clusterId: string;
  members?: { id: string; name: string; peerUrls: string[]; isLearner: boolean }[];
}

export function membersDocument(self: Identity, members: MemberInfo[] | undefined): MembersDocument {
  const doc: MembersDocument = { memberId: formatId(self.memberId), clusterId: formatId(self.clusterId) };
  if (members) doc.members = members.map((m) => ({ id: formatId(m.id), name: m.name, peerUrls: [...m.peerUrls], isLearner: m.isLearner }));
  return doc;
}

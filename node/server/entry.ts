// What a normal Raft entry carries for the server: the request, the member
// that proposed it and that member's request ID (so the proposer can answer
// its client when the entry applies). A first byte names the layout:
//   1  everything but puts, through Node's V8 serializer: what releases up to
//      0.1.0-pre.230a543 wrote. Only read and written while the cluster's
//      entry format is 1 (V8's format belongs to the Node version, so it is
//      being retired; see below).
//   2  a plain put in a fixed binary layout (below), in every entry format.
//   3  everything but puts as CBOR (cbor.ts): [schema, origin, request ID,
//      request], the request an object with one field named for its kind,
//      fields as in ServerRequest. Schema 1 (entry format 2) writes lease
//      IDs as numbers; schema 2 (entry format 3) as integers of up to 64
//      bits, any int64.
//   4  a plain put as layout 2 but with the lease ID an i64 (entry format 3).
// Auth changes (request kind `auth`) and writes checked against the auth
// store (`asUser`: the MVCC request and the auth revision of its check) are
// CBOR schema 2 entries written only once the cluster is at entry format 4;
// they carry password hashes, never passwords.
// Lease IDs are bigints in memory; layouts 1 and 2 and schema 1 carry them
// as numbers (entry-lease-ids.ts converts). The cluster's entry format (see
// entry-format.ts) says which layouts a member writes; every member reads all.
import { deserialize, serialize } from 'node:v8';
import type { ApplyRequest, LeaseId, PutRequest } from '../mvcc/types.js';
import { decodeCbor, encodeCbor, type CborValue } from './cbor.js';
import { decodedLeaseId, legacyLeaseId, mapLeaseIds } from './entry-lease-ids.js';
import { ENTRY_FORMAT_AUTH, ENTRY_FORMAT_CBOR, ENTRY_FORMAT_INT64_LEASES } from './entry-format.js';
import { AUTH_REQUEST_KINDS, type AuthRequest } from './auth/auth-store.js';
import { errAuthNotReady } from './auth/auth-errors.js';

/** Requests applied by the server itself rather than by the MVCC store. */
export type ServerRequest =
  | { mvcc: ApplyRequest }
  /** A lease keep-alive: every member restarts its expiry clock for the lease. */
  | { leaseRenew: { id: LeaseId } }
  /** Keep-alives the leader answered by itself, shared so every member's clocks follow. */
  | { leaseRenewBatch: { ids: LeaseId[] } }
  /** A started member publishes its name, client URLs and the highest entry format it reads (absent: 1). */
  | { memberAttributes: { id: number; name: string; clientUrls: string[]; entryFormat?: number } }
  /** The leader raises the cluster's entry format once every member reads it. */
  | { entryFormat: { format: number } }
  | { memberUpdate: { id: number; peerUrls: string[] } }
  | { alarm: { action: 'activate' | 'deactivate'; memberId: number; alarm: 'NOSPACE' | 'CORRUPT' } }
  /** A change to users, roles, permissions or the enabled flag (entry format 4). */
  | { auth: AuthRequest }
  /**
   * A write checked against the auth store at auth revision `revision`
   * (entry format 4, only while auth is enabled): it applies only if no
   * auth change applied since, as etcd re-checks writes at apply time.
   */
  | { asUser: { revision: number; mvcc: ApplyRequest } };

export interface ServerEntry {
  origin: number;
  requestId: number;
  request: ServerRequest;
}

const FORMAT_V8 = 1;
const FORMAT_CBOR = 3;
/** Lease IDs as numbers. */
const CBOR_SCHEMA_LEGACY_LEASES = 1;
/** Lease IDs as integers of up to 64 bits. */
const CBOR_SCHEMA_INT64_LEASES = 2;
const CBOR_PREFIX = new Uint8Array([FORMAT_CBOR]);
/** The kinds of request a CBOR entry may carry (one field of the request object). */
const REQUEST_KINDS = new Set(['mvcc', 'leaseRenew', 'leaseRenewBatch', 'memberAttributes', 'memberUpdate', 'alarm', 'entryFormat', 'auth', 'asUser']);
const MVCC_KINDS = new Set(['put', 'deleteRange', 'txn', 'compaction', 'leaseGrant', 'leaseRevoke', 'leaseCheckpoint']);
/**
 * A plain put, by far the most common entry, in a fixed binary layout (no
 * V8 serializer object walk on any member):
 *   u8 format, u8 flags, f64 origin, f64 request ID, f64 lease,
 *   u32 key length, key, u32 value length, value
 * Layout 4 is the same with the lease an i64.
 */
const FORMAT_PUT = 2;
const FORMAT_PUT_INT64_LEASE = 4;
const PUT_HEADER = 1 + 1 + 8 * 3 + 4;
const enum PutFlag {
  PrevKv = 1,
  IgnoreValue = 2,
  IgnoreLease = 4,
  HasValue = 8,
  HasLease = 16,
}

function encodePut(origin: number, requestId: number, put: PutRequest, int64Lease: boolean): Uint8Array {
  const value = put.value;
  const out = new Uint8Array(PUT_HEADER + put.key.length + 4 + (value?.length ?? 0));
  const view = new DataView(out.buffer);
  let flags = 0;
  if (put.prevKv) flags |= PutFlag.PrevKv;
  if (put.ignoreValue) flags |= PutFlag.IgnoreValue;
  if (put.ignoreLease) flags |= PutFlag.IgnoreLease;
  if (value !== undefined) flags |= PutFlag.HasValue;
  if (put.lease !== undefined) flags |= PutFlag.HasLease;
  out[1] = flags;
  view.setFloat64(2, origin);
  view.setFloat64(10, requestId);
  if (int64Lease) {
    out[0] = FORMAT_PUT_INT64_LEASE;
    view.setBigInt64(18, put.lease ?? 0n);
  } else {
    out[0] = FORMAT_PUT;
    view.setFloat64(18, put.lease === undefined ? 0 : legacyLeaseId(put.lease));
  }
  view.setUint32(26, put.key.length);
  out.set(put.key, PUT_HEADER);
  let at = PUT_HEADER + put.key.length;
  view.setUint32(at, value?.length ?? 0);
  at += 4;
  if (value !== undefined) out.set(value, at);
  return out;
}

function decodePut(data: Uint8Array): ServerEntry {
  if (data.length < PUT_HEADER + 4) throw new Error('server: truncated put entry');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const flags = data[1]!;
  const keyLength = view.getUint32(26);
  const valueAt = PUT_HEADER + keyLength + 4;
  if (valueAt > data.length) throw new Error('server: truncated put entry');
  const valueLength = view.getUint32(valueAt - 4);
  if (valueAt + valueLength !== data.length) throw new Error('server: put entry length mismatch');
  // Views into the entry: the store copies what it keeps.
  const put: PutRequest = { key: data.subarray(PUT_HEADER, PUT_HEADER + keyLength) };
  if (flags & PutFlag.HasValue) put.value = data.subarray(valueAt, valueAt + valueLength);
  if (flags & PutFlag.HasLease) put.lease = data[0] === FORMAT_PUT_INT64_LEASE ? view.getBigInt64(18) : decodedLeaseId(view.getFloat64(18));
  if (flags & PutFlag.PrevKv) put.prevKv = true;
  if (flags & PutFlag.IgnoreValue) put.ignoreValue = true;
  if (flags & PutFlag.IgnoreLease) put.ignoreLease = true;
  return { origin: view.getFloat64(2), requestId: view.getFloat64(10), request: { mvcc: { put } } };
}

/** Encodes an entry in the layout the cluster's entry format `clusterFormat` allows. */
export function encodeEntry(entry: ServerEntry, clusterFormat: number): Uint8Array {
  const r = entry.request;
  const int64Leases = clusterFormat >= ENTRY_FORMAT_INT64_LEASES;
  if ('mvcc' in r && 'put' in r.mvcc) return encodePut(entry.origin, entry.requestId, r.mvcc.put, int64Leases);
  if (('auth' in r || 'asUser' in r) && clusterFormat < ENTRY_FORMAT_AUTH) throw errAuthNotReady(clusterFormat);
  if (int64Leases) return encodeCbor([CBOR_SCHEMA_INT64_LEASES, entry.origin, entry.requestId, r as unknown as CborValue], CBOR_PREFIX);
  const legacy = mapLeaseIds(r, legacyLeaseId);
  if (clusterFormat >= ENTRY_FORMAT_CBOR) {
    return encodeCbor([CBOR_SCHEMA_LEGACY_LEASES, entry.origin, entry.requestId, legacy as unknown as CborValue], CBOR_PREFIX);
  }
  const body = serialize([entry.origin, entry.requestId, legacy]);
  const out = new Uint8Array(body.length + 1);
  out[0] = FORMAT_V8;
  out.set(body, 1);
  return out;
}

function decodeCborEntry(data: Uint8Array): ServerEntry {
  // Only schema 2 holds integers beyond 2^53 (lease IDs); they decode as bigints.
  const value = decodeCbor(data.subarray(1), { bigints: true });
  if (!Array.isArray(value) || value.length < 4) throw new Error('server: a CBOR entry is not [schema, origin, request ID, request]');
  const [schema, origin, requestId, request] = value;
  if (schema !== CBOR_SCHEMA_LEGACY_LEASES && schema !== CBOR_SCHEMA_INT64_LEASES) {
    throw new Error(`server: CBOR entry schema ${String(schema)} is newer than this release reads (${CBOR_SCHEMA_INT64_LEASES})`);
  }
  if (typeof origin !== 'number' || typeof requestId !== 'number') throw new Error('server: a CBOR entry lacks its origin or request ID');
  if (request === null || typeof request !== 'object' || Array.isArray(request) || request instanceof Uint8Array) {
    throw new Error('server: a CBOR entry carries no request object');
  }
  const kinds = Object.keys(request);
  if (kinds.length !== 1 || !REQUEST_KINDS.has(kinds[0]!)) throw new Error(`server: entry request kind ${kinds.join(',') || '(none)'} is unknown to this release`);
  if (kinds[0] === 'mvcc' || kinds[0] === 'asUser') {
    const mvcc = kinds[0] === 'mvcc' ? request.mvcc : (request.asUser as { mvcc?: CborValue } | null)?.mvcc;
    const mvccKinds = mvcc && typeof mvcc === 'object' && !(mvcc instanceof Uint8Array) ? Object.keys(mvcc) : [];
    if (mvccKinds.length !== 1 || !MVCC_KINDS.has(mvccKinds[0]!)) throw new Error(`server: entry MVCC request kind ${mvccKinds.join(',') || '(none)'} is unknown to this release`);
  }
  if (kinds[0] === 'auth') {
    const auth = request.auth;
    const authKinds = auth && typeof auth === 'object' && !(auth instanceof Uint8Array) ? Object.keys(auth) : [];
    if (authKinds.length !== 1 || !AUTH_REQUEST_KINDS.has(authKinds[0]!)) throw new Error(`server: entry auth request kind ${authKinds.join(',') || '(none)'} is unknown to this release`);
  }
  return { origin, requestId, request: mapLeaseIds(request as unknown as ServerRequest, decodedLeaseId) };
}

/** Decodes an entry in any layout any release wrote. */
export function decodeEntry(data: Uint8Array): ServerEntry {
  switch (data[0]) {
    case FORMAT_PUT:
    case FORMAT_PUT_INT64_LEASE:
      return decodePut(data);
    case FORMAT_CBOR:
      return decodeCborEntry(data);
    case FORMAT_V8: {
      const [origin, requestId, request] = deserialize(data.subarray(1)) as [number, number, ServerRequest];
      return { origin, requestId, request: mapLeaseIds(request, decodedLeaseId) };
    }
    default:
      throw new Error(`server: unknown entry layout ${String(data[0])} (written by a newer release?)`);
  }
}

/** Data carried by a conf change entry: the member being added, promoted or removed. */
export interface ConfChangeContext {
  id: number;
  name: string;
  peerUrls: string[];
  isLearner: boolean;
  /** The proposing member and its request ID, so it can answer its client. */
  origin?: number;
  requestId?: number;
}

export function encodeConfContext(ctx: ConfChangeContext): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(ctx));
}

export function decodeConfContext(data: Uint8Array): ConfChangeContext | undefined {
  if (data.length === 0) return undefined;
  return JSON.parse(new TextDecoder().decode(data)) as ConfChangeContext;
}

// What a normal Raft entry carries for the server: the request, the member
// that proposed it and that member's request ID (so the proposer can answer
// its client when the entry applies). A first byte names the format: plain
// puts have a fixed binary layout; everything else goes through the V8
// serializer, which handles byte arrays natively.
import { deserialize, serialize } from 'node:v8';
import type { ApplyRequest, PutRequest } from '../mvcc/types.js';

/** Requests applied by the server itself rather than by the MVCC store. */
export type ServerRequest =
  | { mvcc: ApplyRequest }
  /** A lease keep-alive: every member restarts its expiry clock for the lease. */
  | { leaseRenew: { id: number } }
  /** Keep-alives the leader answered by itself, shared so every member's clocks follow. */
  | { leaseRenewBatch: { ids: number[] } }
  /** A started member publishes its name and client URLs. */
  | { memberAttributes: { id: number; name: string; clientUrls: string[] } }
  | { memberUpdate: { id: number; peerUrls: string[] } }
  | { alarm: { action: 'activate' | 'deactivate'; memberId: number; alarm: 'NOSPACE' | 'CORRUPT' } };

export interface ServerEntry {
  origin: number;
  requestId: number;
  request: ServerRequest;
}

const FORMAT = 1;
/**
 * A plain put, by far the most common entry, in a fixed binary layout (no
 * V8 serializer object walk on any member):
 *   u8 format, u8 flags, f64 origin, f64 request ID, f64 lease,
 *   u32 key length, key, u32 value length, value
 */
const FORMAT_PUT = 2;
const PUT_HEADER = 1 + 1 + 8 * 3 + 4;
const enum PutFlag {
  PrevKv = 1,
  IgnoreValue = 2,
  IgnoreLease = 4,
  HasValue = 8,
  HasLease = 16,
}

function encodePut(origin: number, requestId: number, put: PutRequest): Uint8Array {
  const value = put.value;
  const out = new Uint8Array(PUT_HEADER + put.key.length + 4 + (value?.length ?? 0));
  const view = new DataView(out.buffer);
  let flags = 0;
  if (put.prevKv) flags |= PutFlag.PrevKv;
  if (put.ignoreValue) flags |= PutFlag.IgnoreValue;
  if (put.ignoreLease) flags |= PutFlag.IgnoreLease;
  if (value !== undefined) flags |= PutFlag.HasValue;
  if (put.lease !== undefined) flags |= PutFlag.HasLease;
  out[0] = FORMAT_PUT;
  out[1] = flags;
  view.setFloat64(2, origin);
  view.setFloat64(10, requestId);
  view.setFloat64(18, put.lease ?? 0);
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
  if (flags & PutFlag.HasLease) put.lease = view.getFloat64(18);
  if (flags & PutFlag.PrevKv) put.prevKv = true;
  if (flags & PutFlag.IgnoreValue) put.ignoreValue = true;
  if (flags & PutFlag.IgnoreLease) put.ignoreLease = true;
  return { origin: view.getFloat64(2), requestId: view.getFloat64(10), request: { mvcc: { put } } };
}

export function encodeEntry(entry: ServerEntry): Uint8Array {
  const r = entry.request;
  if ('mvcc' in r && 'put' in r.mvcc) return encodePut(entry.origin, entry.requestId, r.mvcc.put);
  const body = serialize([entry.origin, entry.requestId, entry.request]);
  const out = new Uint8Array(body.length + 1);
  out[0] = FORMAT;
  out.set(body, 1);
  return out;
}

export function decodeEntry(data: Uint8Array): ServerEntry {
  if (data[0] === FORMAT_PUT) return decodePut(data);
  if (data[0] !== FORMAT) throw new Error(`server: unknown entry format ${data[0]}`);
  const [origin, requestId, request] = deserialize(data.subarray(1)) as [number, number, ServerRequest];
  return { origin, requestId, request };
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

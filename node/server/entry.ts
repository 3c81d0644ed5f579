// What a normal Raft entry carries for the server: the request, the member
// that proposed it and that member's request ID (so the proposer can answer
// its client when the entry applies). Encoded with the V8 serializer, which
// handles byte arrays natively and is fast; the encoding is prefixed by a
// version byte so the format can evolve.
import { deserialize, serialize } from 'node:v8';
import type { ApplyRequest } from '../mvcc/types.js';

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

export function encodeEntry(entry: ServerEntry): Uint8Array {
  const body = serialize([entry.origin, entry.requestId, entry.request]);
  const out = new Uint8Array(body.length + 1);
  out[0] = FORMAT;
  out.set(body, 1);
  return out;
}

export function decodeEntry(data: Uint8Array): ServerEntry {
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

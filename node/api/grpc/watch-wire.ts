// Hand-written protobuf encoding of the hot Watch and Snapshot responses.
//
// A revision's events go to every watcher of their keys: with the generic
// path each watcher's copy was converted to a proto-loader object and encoded
// by protobufjs on its own (int64s through decimal strings and Longs). Here
// an event is encoded once, the bytes are shared by every WatchResponse that
// carries it, and a response is the concatenation of pre-encoded fields.
// Field numbers are etcd's (rpc.proto, kv.proto); zero scalars are left out
// as Go's encoder does. The bytes are handed to gRPC as they are (see
// pre-encoded.ts).
import type { KeyValue, WatchEvent } from '../../mvcc/types.js';
import type { Header } from '../../server/etcd-server.js';
import { Encodable, FRAME_PREFIX_BYTES, PreFramed } from './pre-encoded.js';
import { varintSize } from '../../varint.js';

const enum Wire {
  Varint = 0,
  Bytes = 2,
}

const tag = (field: number, wire: Wire): number => (field << 3) | wire;


/** Writes a non-negative safe integer as a varint at `at`; returns the position after it. */
function putVarint(buf: Uint8Array, at: number, n: number): number {
  // Arithmetic, not bit operations: revisions and IDs exceed 32 bits.
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[at++] = n;
  return at;
}

/** An int64 field's varint: negative values take ten bytes (two's complement), as protobuf says. */
function int64Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

function putInt64(buf: Uint8Array, at: number, n: number): number {
  if (n >= 0) return putVarint(buf, at, n);
  let v = BigInt.asUintN(64, BigInt(n));
  for (let i = 0; i < 9; i++) {
    buf[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[at++] = Number(v);
  return at;
}

/** Size of an int64 field with its tag, 0 when the value is zero (left out). */
const intFieldSize = (n: number): number => (n === 0 ? 0 : 1 + int64Size(n));

function putIntField(buf: Uint8Array, at: number, field: number, n: number): number {
  if (n === 0) return at;
  buf[at++] = tag(field, Wire.Varint);
  return putInt64(buf, at, n);
}

/** A lease ID field (any int64, as a bigint); 0 is left out. */
function leaseFieldSize(id: bigint): number {
  if (id === 0n) return 0;
  let v = BigInt.asUintN(64, id);
  let size = 2;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

function putLeaseField(buf: Uint8Array, at: number, field: number, id: bigint): number {
  if (id === 0n) return at;
  buf[at++] = tag(field, Wire.Varint);
  let v = BigInt.asUintN(64, id);
  while (v >= 0x80n) {
    buf[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[at++] = Number(v);
  return at;
}

/** Size of a length-delimited field with its tag (tags here are one byte), 0 when empty. */
const bytesFieldSize = (length: number): number => (length === 0 ? 0 : 1 + varintSize(length) + length);

function putBytesField(buf: Uint8Array, at: number, field: number, bytes: Uint8Array): number {
  if (bytes.length === 0) return at;
  buf[at++] = tag(field, Wire.Bytes);
  at = putVarint(buf, at, bytes.length);
  buf.set(bytes, at);
  return at + bytes.length;
}

/** Writes the tag and length of an embedded message (always present, even when empty). */
function putMessageHead(buf: Uint8Array, at: number, field: number, length: number): number {
  buf[at++] = tag(field, Wire.Bytes);
  return putVarint(buf, at, length);
}

const messageFieldSize = (length: number): number => 1 + varintSize(length) + length;

function keyValueSize(kv: KeyValue): number {
  return (
    bytesFieldSize(kv.key.length) +
    intFieldSize(kv.createRevision) +
    intFieldSize(kv.modRevision) +
    intFieldSize(kv.version) +
    bytesFieldSize(kv.value.length) +
    leaseFieldSize(kv.lease)
  );
}

/** mvccpb.KeyValue. */
function putKeyValue(buf: Uint8Array, at: number, kv: KeyValue): number {
  at = putBytesField(buf, at, 1, kv.key);
  at = putIntField(buf, at, 2, kv.createRevision);
  at = putIntField(buf, at, 3, kv.modRevision);
  at = putIntField(buf, at, 4, kv.version);
  at = putBytesField(buf, at, 5, kv.value);
  return putLeaseField(buf, at, 6, kv.lease);
}

/**
 * One event as the `events` field (11) of a WatchResponse: tag, length and
 * the mvccpb.Event, ready to be appended to any response that carries it.
 */
export function encodeEventField(e: WatchEvent): Uint8Array {
  const kvSize = keyValueSize(e.kv);
  const prevSize = e.prevKv ? keyValueSize(e.prevKv) : 0;
  const body = (e.type === 'DELETE' ? 2 : 0) + messageFieldSize(kvSize) + (e.prevKv ? messageFieldSize(prevSize) : 0);
  const buf = Buffer.allocUnsafe(messageFieldSize(body));
  let at = putMessageHead(buf, 0, 11, body);
  if (e.type === 'DELETE') at = putIntField(buf, at, 1, 1);
  at = putMessageHead(buf, at, 2, kvSize);
  at = putKeyValue(buf, at, e.kv);
  if (e.prevKv) {
    at = putMessageHead(buf, at, 3, prevSize);
    putKeyValue(buf, at, e.prevKv);
  }
  return buf;
}

/** The `header` field (1) of a response: an etcdserverpb.ResponseHeader. */
export function encodeHeaderField(h: Header): Uint8Array {
  const body = intFieldSize(h.clusterId) + intFieldSize(h.memberId) + intFieldSize(h.revision) + intFieldSize(h.raftTerm);
  const buf = Buffer.allocUnsafe(messageFieldSize(body));
  let at = putMessageHead(buf, 0, 1, body);
  at = putIntField(buf, at, 1, h.clusterId);
  at = putIntField(buf, at, 2, h.memberId);
  at = putIntField(buf, at, 3, h.revision);
  putIntField(buf, at, 4, h.raftTerm);
  return buf;
}

/**
 * Encoded event fields, made once per event object: the hub hands the same
 * WatchEvent to every watcher of its key, so every stream after the first
 * finds the bytes here. Entries go with their events.
 */
const eventFields = new WeakMap<WatchEvent, Uint8Array>();

export function eventField(e: WatchEvent): Uint8Array {
  let bytes = eventFields.get(e);
  if (bytes === undefined) {
    bytes = encodeEventField(e);
    eventFields.set(e, bytes);
  }
  return bytes;
}

/**
 * A WatchResponse carrying events: header, watch_id, then each event's
 * shared bytes, written straight into the buffer of the write that carries
 * it (see stream-outbox.ts), so a message costs no buffer of its own.
 */
export class WatchEventsResponse extends Encodable {
  size: number;
  private readonly fields: Uint8Array[] = [];

  constructor(
    private headerField: Uint8Array,
    private readonly watchId: number,
    events: readonly WatchEvent[],
  ) {
    super();
    this.size = headerField.length + intFieldSize(watchId);
    this.addEvents(events);
  }

  /**
   * Adds a later revision's events, under that revision's header; returns
   * how many bytes the message grew by. Only while it is not written yet.
   */
  append(headerField: Uint8Array, events: readonly WatchEvent[]): number {
    const before = this.size;
    this.size += headerField.length - this.headerField.length;
    this.headerField = headerField;
    this.addEvents(events);
    return this.size - before;
  }

  private addEvents(events: readonly WatchEvent[]): void {
    for (const e of events) {
      const f = eventField(e);
      this.fields.push(f);
      this.size += f.length;
    }
  }

  writeTo(buf: Uint8Array, at: number): number {
    buf.set(this.headerField, at);
    at = putIntField(buf, at + this.headerField.length, 2, this.watchId);
    for (const f of this.fields) {
      buf.set(f, at);
      at += f.length;
    }
    return at;
  }
}

/**
 * The SnapshotResponses that carry `chunk`, cut into blobs of at most
 * `messageBytes`: header, remaining_bytes (2), blob (3), each framed for the
 * wire. They lie side by side in one buffer (from `allocate`, at least as
 * long as asked), so a chunk costs one allocation however many messages it
 * makes, and each blob is copied once.
 * `remainingAfter` is what the stream has left to send after the chunk.
 */
export function encodeSnapshotChunk(
  headerField: Uint8Array,
  remainingAfter: number,
  chunk: Uint8Array,
  messageBytes = Math.max(1, chunk.length),
  allocate: (bytes: number) => Buffer = Buffer.allocUnsafe,
): PreFramed[] {
  const count = Math.max(1, Math.ceil(chunk.length / messageBytes));
  const from = (i: number): number => i * messageBytes;
  const to = (i: number): number => Math.min(from(i + 1), chunk.length);
  const remaining = (i: number): number => remainingAfter + chunk.length - to(i);
  const frameBytes = (i: number): number => FRAME_PREFIX_BYTES + headerField.length + intFieldSize(remaining(i)) + bytesFieldSize(to(i) - from(i));
  let total = 0;
  for (let i = 0; i < count; i++) total += frameBytes(i);
  const buf = allocate(total);
  const messages: PreFramed[] = [];
  for (let i = 0, start = 0; i < count; start += frameBytes(i), i++) {
    buf.set(headerField, start + FRAME_PREFIX_BYTES);
    const at = putIntField(buf, start + FRAME_PREFIX_BYTES + headerField.length, 2, remaining(i));
    messages.push(new PreFramed(buf.subarray(start, putBytesField(buf, at, 3, chunk.subarray(from(i), to(i))))));
  }
  return messages;
}

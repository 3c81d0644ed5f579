// The wire form of a Raft Message: compact, versioned and canonical.
//
// Layout (version 1), integers as unsigned LEB128 varints below 2^53:
//   u8 version | u8 type | u8 flags (bit 0 reject, bit 1 snapshot present)
//   from to term index logTerm commit rejectHint hintTerm
//   contextLen context
//   entryCount { term index u8 type dataLen data }*
//   [snapshot: index term voterCount voters* learnerCount learners* dataLen data]
//
// Encoding is canonical (shortest varints, no unknown flag bits, no trailing
// bytes), so decode(bytes) succeeding implies encode(result) equals bytes.
// Decoded byte fields never alias the input: they are copied out (one
// allocation per message, small ones from a shared slab), so a retained entry
// does not pin a whole socket chunk.
import { EntryType, MessageType, type Entry, type Message, type Snapshot } from '../raft/types.js';
import { varintSize as unsignedVarintSize } from '../varint.js';

export const CODEC_VERSION = 1;

/** Malformed or unencodable input; the only error the codec throws. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const MAX_MESSAGE_TYPE = MessageType.ReadIndexResp;
const MAX_ENTRY_TYPE = EntryType.ConfChange;
const FIXED_HEADER = 3;
// The smallest possible entry (term, index, type, dataLen) and list member.
const MIN_ENTRY_BYTES = 4;
const MIN_ID_BYTES = 1;
const EMPTY = new Uint8Array(0);

// ---- sizes ---------------------------------------------------------------

function varintSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new CodecError(`cannot encode ${n}: not an integer in [0, 2^53)`);
  return unsignedVarintSize(n);
}

function bytesSize(b: Uint8Array): number {
  return varintSize(b.length) + b.length;
}

function idsSize(ids: readonly number[]): number {
  let size = varintSize(ids.length);
  for (const id of ids) size += varintSize(id);
  return size;
}

function snapshotSize(s: Snapshot): number {
  return varintSize(s.meta.index) + varintSize(s.meta.term) + idsSize(s.meta.conf.voters) + idsSize(s.meta.conf.learners) + bytesSize(s.data);
}

/** The exact number of bytes encodeMessage produces; throws CodecError on unencodable input. */
export function encodedSize(m: Message): number {
  if (!(m.type >= 0 && m.type <= MAX_MESSAGE_TYPE) || !Number.isInteger(m.type)) throw new CodecError(`cannot encode message type ${m.type}`);
  let size =
    FIXED_HEADER +
    varintSize(m.from) +
    varintSize(m.to) +
    varintSize(m.term) +
    varintSize(m.index) +
    varintSize(m.logTerm) +
    varintSize(m.commit) +
    varintSize(m.rejectHint) +
    varintSize(m.hintTerm) +
    bytesSize(m.context) +
    varintSize(m.entries.length);
  for (const e of m.entries) {
    if (!(e.type >= 0 && e.type <= MAX_ENTRY_TYPE) || !Number.isInteger(e.type)) throw new CodecError(`cannot encode entry type ${e.type}`);
    size += varintSize(e.term) + varintSize(e.index) + 1 + bytesSize(e.data);
  }
  if (m.snapshot) size += snapshotSize(m.snapshot);
  return size;
}

// ---- encoding ------------------------------------------------------------

// Callers have validated every number through encodedSize first.
function putVarint(buf: Uint8Array, pos: number, n: number): number {
  // Bitwise arithmetic is exact (and fast) only below 2^31.
  while (n >= 0x80000000) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

function putBytes(buf: Uint8Array, pos: number, b: Uint8Array): number {
  pos = putVarint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
}

function putIds(buf: Uint8Array, pos: number, ids: readonly number[]): number {
  pos = putVarint(buf, pos, ids.length);
  for (const id of ids) pos = putVarint(buf, pos, id);
  return pos;
}

/**
 * Writes m at buf[pos..pos+size) where size = encodedSize(m) (which the caller
 * has computed, and which validated m); returns the end position. Without
 * snapshot data, stops after the data's length prefix (see encodeMessageParts).
 */
export function encodeMessageInto(m: Message, buf: Uint8Array, pos: number, withSnapshotData = true): number {
  buf[pos++] = CODEC_VERSION;
  buf[pos++] = m.type;
  buf[pos++] = (m.reject ? FLAG_REJECT : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0);
  pos = putVarint(buf, pos, m.from);
  pos = putVarint(buf, pos, m.to);
  pos = putVarint(buf, pos, m.term);
  pos = putVarint(buf, pos, m.index);
  pos = putVarint(buf, pos, m.logTerm);
  pos = putVarint(buf, pos, m.commit);
  pos = putVarint(buf, pos, m.rejectHint);
  pos = putVarint(buf, pos, m.hintTerm);
  pos = putBytes(buf, pos, m.context);
  pos = putVarint(buf, pos, m.entries.length);
  for (const e of m.entries) {
    pos = putVarint(buf, pos, e.term);
    pos = putVarint(buf, pos, e.index);
    buf[pos++] = e.type;
    pos = putBytes(buf, pos, e.data);
  }
  const s = m.snapshot;
  if (s) {
    pos = putVarint(buf, pos, s.meta.index);
    pos = putVarint(buf, pos, s.meta.term);
    pos = putIds(buf, pos, s.meta.conf.voters);
    pos = putIds(buf, pos, s.meta.conf.learners);
    if (withSnapshotData) {
      pos = putBytes(buf, pos, s.data);
    } else {
      pos = putVarint(buf, pos, s.data.length);
    }
  }
  return pos;
}

export function encodeMessage(m: Message): Uint8Array {
  const out = new Uint8Array(encodedSize(m));
  encodeMessageInto(m, out, 0);
  return out;
}

/**
 * Encodes m as two parts whose concatenation is encodeMessage(m): everything
 * but the snapshot data, then the snapshot data itself (empty without a
 * snapshot), so a many-megabyte snapshot is sent without being copied.
 */
export function encodeMessageParts(m: Message): [Uint8Array, Uint8Array] {
  const data = m.snapshot?.data ?? EMPTY;
  const head = new Uint8Array(encodedSize(m) - data.length);
  encodeMessageInto(m, head, 0, false);
  return [head, data];
}

// ---- decoding ------------------------------------------------------------

/** A bounds-checked cursor; every failure is a CodecError naming the field. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly end: number,
    start: number,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  byte(field: string): number {
    if (this.pos >= this.end) throw new CodecError(`truncated message: missing ${field}`);
    return this.buf[this.pos++]!;
  }

  varint(field: string): number {
    let value = 0;
    let scale = 1;
    // 8 groups of 7 bits cover 53 bits.
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new CodecError(`truncated message: missing ${field}`);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) throw new CodecError(`non-canonical varint in ${field}`);
        if (value > Number.MAX_SAFE_INTEGER) throw new CodecError(`${field} exceeds 2^53`);
        return value;
      }
      scale *= 128;
    }
    throw new CodecError(`${field} exceeds 2^53`);
  }

  /** A length or count, which cannot exceed what is left when each item takes at least minItemBytes. */
  count(field: string, minItemBytes: number): number {
    const n = this.varint(field);
    if (n * minItemBytes > this.remaining) throw new CodecError(`${field} ${n} exceeds the ${this.remaining} bytes left`);
    return n;
  }

  /** Returns the [start, end) span of a length-prefixed byte field. */
  span(field: string): number {
    const len = this.count(`${field} length`, 1);
    const start = this.pos;
    this.pos += len;
    return start;
  }

  ids(field: string): number[] {
    const n = this.count(`${field} count`, MIN_ID_BYTES);
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) ids[i] = this.varint(field);
    return ids;
  }
}

export interface DecodeOptions {
  /**
   * Let byte fields share memory with the input instead of copying. Only for
   * callers that own the input exclusively (a buffer sized for one message).
   */
  alias?: boolean;
}

/** Decodes exactly one message spanning all of bytes; throws CodecError otherwise. */
export function decodeMessage(bytes: Uint8Array, options: DecodeOptions = {}): Message {
  const r = new Reader(bytes, bytes.length, 0);
  const version = r.byte('version');
  if (version !== CODEC_VERSION) throw new CodecError(`unsupported message encoding version ${version} (this build reads ${CODEC_VERSION})`);
  const type = r.byte('type');
  if (type > MAX_MESSAGE_TYPE) throw new CodecError(`unknown message type ${type}`);
  const flags = r.byte('flags');
  if ((flags & ~(FLAG_REJECT | FLAG_SNAPSHOT)) !== 0) throw new CodecError(`unknown flag bits 0x${flags.toString(16)}`);
  const from = r.varint('from');
  const to = r.varint('to');
  const term = r.varint('term');
  const index = r.varint('index');
  const logTerm = r.varint('logTerm');
  const commit = r.varint('commit');
  const rejectHint = r.varint('rejectHint');
  const hintTerm = r.varint('hintTerm');
  // Byte fields are recorded as spans first and materialized at the end,
  // so a copy needs one allocation for the whole message.
  const spans: number[] = [];
  const contextStart = r.span('context');
  spans.push(contextStart, r.pos);
  const entryCount = r.count('entry count', MIN_ENTRY_BYTES);
  const entries = new Array<Entry>(entryCount);
  for (let i = 0; i < entryCount; i++) {
    const eTerm = r.varint('entry term');
    const eIndex = r.varint('entry index');
    const eType = r.byte('entry type');
    if (eType > MAX_ENTRY_TYPE) throw new CodecError(`unknown entry type ${eType}`);
    const start = r.span('entry data');
    spans.push(start, r.pos);
    entries[i] = { term: eTerm, index: eIndex, type: eType, data: EMPTY };
  }
  let snapshot: Snapshot | undefined;
  if (flags & FLAG_SNAPSHOT) {
    const sIndex = r.varint('snapshot index');
    const sTerm = r.varint('snapshot term');
    const voters = r.ids('snapshot voters');
    const learners = r.ids('snapshot learners');
    const start = r.span('snapshot data');
    spans.push(start, r.pos);
    snapshot = { meta: { index: sIndex, term: sTerm, conf: { voters, learners } }, data: EMPTY };
  }
  if (r.remaining !== 0) throw new CodecError(`${r.remaining} trailing bytes after the message`);

  const views = materialize(bytes, spans, options.alias === true);
  const m: Message = {
    type,
    from,
    to,
    term,
    index,
    logTerm,
    entries,
    commit,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
    hintTerm,
    context: views[0]!,
  };
  for (let i = 0; i < entryCount; i++) entries[i]!.data = views[i + 1]!;
  if (snapshot) {
    snapshot.data = views[entryCount + 1]!;
    m.snapshot = snapshot;
  }
  return m;
}

function materialize(bytes: Uint8Array, spans: number[], alias: boolean): Uint8Array[] {
  const views = new Array<Uint8Array>(spans.length / 2);
  // Views of a plain Uint8Array are cheaper to make than Buffer views.
  const src = plainView(bytes, 0, bytes.length);
  if (alias) {
    for (let i = 0; i < views.length; i++) views[i] = src.subarray(spans[2 * i]!, spans[2 * i + 1]!);
    return views;
  }
  let total = 0;
  for (let i = 0; i < spans.length; i += 2) total += spans[i + 1]! - spans[i]!;
  const arena = allocate(total);
  let pos = 0;
  for (let i = 0; i < views.length; i++) {
    const start = spans[2 * i]!;
    const len = spans[2 * i + 1]! - start;
    if (len <= 16) {
      for (let j = 0; j < len; j++) arena[pos + j] = src[start + j]!;
    } else {
      arena.set(src.subarray(start, start + len), pos);
    }
    views[i] = arena.subarray(pos, pos + len);
    pos += len;
  }
  return views;
}

// Small messages take their bytes from a shared slab, as Buffer.allocUnsafe
// does from its pool: a fresh ArrayBuffer per heartbeat would dominate the
// cost of decoding. A retained small entry pins at most one slab.
const SLAB_BYTES = 16 * 1024;
const SLAB_MAX_ALLOCATION = 2 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

function allocate(n: number): Uint8Array {
  if (n > SLAB_MAX_ALLOCATION) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed += n;
  return out;
}

// A plain Uint8Array view, even when the input is a Buffer (whose slice
// semantics differ), so decoded messages look the same either way.
function plainView(bytes: Uint8Array, start: number, end: number): Uint8Array {
  if (bytes.constructor === Uint8Array && start === 0 && end === bytes.length) return bytes;
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}

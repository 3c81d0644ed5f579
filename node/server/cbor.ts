// A strict subset of CBOR (RFC 8949) for Raft entries: unsigned and negative
// integers, float64, byte strings, text strings, arrays, maps with text keys,
// true, false and null. CBOR is a published standard with decoders in every
// language, self-describing (a reader can skip or report fields it does not
// know), and needs no code generation; the subset keeps the decoder small
// and strict: definite lengths only, no tags, no half or single floats, no
// trailing bytes, integers within JavaScript's safe range unless the reader
// asks for bigints.
//
// Numbers are written as integers when they are safe integers and as float64
// otherwise, so every number reads back exactly as it was written. Bigints
// (lease IDs) are written as integers of up to 64 bits; a reader that takes
// bigints reads those beyond 2^53 as bigints (smaller ones as numbers). Object
// properties whose value is undefined are left out, as JSON does.

export type CborValue = null | boolean | number | bigint | string | Uint8Array | CborValue[] | { [key: string]: CborValue | undefined };

/**
 * Deep enough for a Txn nested to etcd's op limit (128 levels, about five
 * CBOR levels each: request, txn, branch array, op, txn), so every request
 * the API accepts can be written and read back; bounded so a corrupt entry
 * cannot recurse without end.
 */
const MAX_DEPTH = 1024;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** A head: major type and argument, in the shortest form. */
  head(major: number, arg: number): void {
    const m = major << 5;
    if (arg < 24) this.byte(m | arg);
    else if (arg < 0x100) {
      this.byte(m | 24);
      this.byte(arg);
    } else if (arg < 0x10000) {
      this.room(3);
      this.buf[this.length] = m | 25;
      this.view.setUint16(this.length + 1, arg);
      this.length += 3;
    } else if (arg < 0x100000000) {
      this.room(5);
      this.buf[this.length] = m | 26;
      this.view.setUint32(this.length + 1, arg);
      this.length += 5;
    } else {
      this.room(9);
      this.buf[this.length] = m | 27;
      this.view.setBigUint64(this.length + 1, BigInt(arg));
      this.length += 9;
    }
  }

  /** A head whose argument is a bigint below 2^64. */
  bigHead(major: number, arg: bigint): void {
    if (arg < 0n || arg >= 2n ** 64n) throw new Error(`cbor: integer argument ${arg} beyond 64 bits`);
    if (arg <= BigInt(Number.MAX_SAFE_INTEGER)) return this.head(major, Number(arg));
    this.room(9);
    this.buf[this.length] = (major << 5) | 27;
    this.view.setBigUint64(this.length + 1, arg);
    this.length += 9;
  }

  float64(n: number): void {
    this.room(9);
    this.buf[this.length] = 0xfb;
    this.view.setFloat64(this.length + 1, n);
    this.length += 9;
  }

  done(prefix: Uint8Array): Uint8Array {
    const out = new Uint8Array(prefix.length + this.length);
    out.set(prefix);
    out.set(this.buf.subarray(0, this.length), prefix.length);
    return out;
  }
}

function write(w: Writer, value: CborValue, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error('cbor: value nested too deeply');
  if (value === null) w.byte(0xf6);
  else if (value === true) w.byte(0xf5);
  else if (value === false) w.byte(0xf4);
  else if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
      if (value >= 0) w.head(0, value);
      else w.head(1, -1 - value);
    } else w.float64(value);
  } else if (typeof value === 'bigint') {
    if (value >= 0n) w.bigHead(0, value);
    else w.bigHead(1, -1n - value);
  } else if (typeof value === 'string') {
    const b = utf8.encode(value);
    w.head(3, b.length);
    w.bytes(b);
  } else if (value instanceof Uint8Array) {
    w.head(2, value.length);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.head(4, value.length);
    for (const v of value) {
      if (v === undefined) throw new Error('cbor: undefined in an array');
      write(w, v, depth + 1);
    }
  } else if (typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    w.head(5, keys.length);
    for (const k of keys) {
      write(w, k, depth + 1);
      write(w, value[k]!, depth + 1);
    }
  } else {
    throw new Error(`cbor: cannot encode a ${typeof value}`);
  }
}

/** Encodes `value` after `prefix` (the caller's own header bytes). */
export function encodeCbor(value: CborValue, prefix: Uint8Array = new Uint8Array()): Uint8Array {
  const w = new Writer();
  write(w, value, 0);
  return w.done(prefix);
}

export interface CborReadOptions {
  /** Integers beyond 2^53 read as bigints instead of being refused. */
  bigints?: boolean;
}

class Reader {
  at = 0;
  private readonly view: DataView;
  constructor(
    private readonly data: Uint8Array,
    private readonly bigints = false,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(n: number): void {
    if (this.at + n > this.data.length) throw new Error(`cbor: truncated at byte ${this.at}`);
  }

  private argument(info: number): number {
    const n = this.bigArgument(info);
    if (typeof n === 'bigint') throw new Error(`cbor: integer ${n} beyond 2^53`);
    return n;
  }

  /** An argument; beyond 2^53 a bigint when the reader takes them, else refused. */
  private bigArgument(info: number): number | bigint {
    if (info < 24) return info;
    let n: number;
    switch (info) {
      case 24:
        this.need(1);
        n = this.data[this.at]!;
        this.at += 1;
        return n;
      case 25:
        this.need(2);
        n = this.view.getUint16(this.at);
        this.at += 2;
        return n;
      case 26:
        this.need(4);
        n = this.view.getUint32(this.at);
        this.at += 4;
        return n;
      case 27: {
        this.need(8);
        const big = this.view.getBigUint64(this.at);
        this.at += 8;
        if (big <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(big);
        if (!this.bigints) throw new Error(`cbor: integer ${big} beyond 2^53`);
        return big;
      }
      default:
        throw new Error(`cbor: unsupported additional information ${info} at byte ${this.at - 1}`);
    }
  }

  read(depth: number): CborValue {
    if (depth > MAX_DEPTH) throw new Error('cbor: value nested too deeply');
    this.need(1);
    const first = this.data[this.at++]!;
    const major = first >> 5;
    const info = first & 0x1f;
    switch (major) {
      case 0:
        return this.bigArgument(info);
      case 1: {
        const n = this.bigArgument(info);
        // -1 - n stays a safe integer for n up to 2^53-2; past it, a bigint.
        if (typeof n === 'number' && n < Number.MAX_SAFE_INTEGER) return -1 - n;
        if (!this.bigints) throw new Error(`cbor: integer -1-${n} beyond 2^53`);
        return -1n - BigInt(n);
      }
      case 2: {
        const n = this.argument(info);
        this.need(n);
        // A view into the entry: whoever keeps the bytes copies them (as with puts).
        const b = this.data.subarray(this.at, this.at + n);
        this.at += n;
        return b;
      }
      case 3: {
        const n = this.argument(info);
        this.need(n);
        const s = utf8Strict.decode(this.data.subarray(this.at, this.at + n));
        this.at += n;
        return s;
      }
      case 4: {
        const n = this.argument(info);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.read(depth + 1));
        return out;
      }
      case 5: {
        const n = this.argument(info);
        const out: Record<string, CborValue> = {};
        for (let i = 0; i < n; i++) {
          const key = this.read(depth + 1);
          if (typeof key !== 'string') throw new Error('cbor: a map key is not a text string');
          if (key === '__proto__' || Object.hasOwn(out, key)) throw new Error(`cbor: map key ${JSON.stringify(key)} repeated or reserved`);
          out[key] = this.read(depth + 1);
        }
        return out;
      }
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 27) {
          this.need(8);
          const f = this.view.getFloat64(this.at);
          this.at += 8;
          return f;
        }
        throw new Error(`cbor: unsupported simple value ${info}`);
      default:
        throw new Error(`cbor: unsupported major type ${major} (tags are not used)`);
    }
  }
}

/** Decodes exactly one value filling `data`. */
export function decodeCbor(data: Uint8Array, options: CborReadOptions = {}): CborValue {
  const r = new Reader(data, options.bigints === true);
  const value = r.read(0);
  if (r.at !== data.length) throw new Error(`cbor: ${data.length - r.at} bytes after the value`);
  return value;
}

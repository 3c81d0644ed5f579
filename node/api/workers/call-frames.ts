// The channel between a member's client workers and its core process: the
// worker sends each hot unary call (the raw request body, the metadata the
// auth check reads), the core sends back the encoded response or a gRPC
// status. Frames are batched per event-loop turn in both directions, so a
// busy channel costs one pipe write per turn, not one per call.
//
// Every frame: u32 length of what follows, u8 kind, u32 call id, then by kind
//   CALL    u8 method index, u8 entry count, entries (u8 key length, key,
//           u16 value length, value), the request body (the rest)
//   CANCEL  nothing (the client went away)
//   MESSAGE the encoded response message (the rest)
//   STATUS  u8 gRPC code, the details in UTF-8 (the rest)
// The worker opens with HELLO (id = CHANNEL_VERSION); the core refuses
// another version, since both sides come from one build only by design.
import type { Socket } from 'node:net';

export const CHANNEL_VERSION = 1;

export const enum FrameKind {
  Hello = 0,
  Call = 1,
  Cancel = 2,
  Message = 3,
  Status = 4,
}

const HEAD_BYTES = 4 + 1 + 4;

export interface CallFrame {
  id: number;
  method: number;
  metadata: [string, string][];
  body: Buffer;
}

/** Writes frames, gathering those of one event-loop turn into a single write. */
export class FrameWriter {
  private parts: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly socket: Socket) {}

  hello(): void {
    this.push(head(FrameKind.Hello, CHANNEL_VERSION, 0));
  }

  call(frame: CallFrame): void {
    let entryBytes = 2;
    const entries = frame.metadata.map(([k, v]) => {
      const key = Buffer.from(k, 'latin1');
      const value = Buffer.from(v, 'utf8');
      if (key.length > 0xff || value.length > 0xffff) throw new Error(`metadata ${k} is too long to pass to the member`);
      entryBytes += 3 + key.length + value.length;
      return [key, value] as const;
    });
    const h = head(FrameKind.Call, frame.id, entryBytes + frame.body.length, entryBytes);
    let at = HEAD_BYTES;
    h[at++] = frame.method;
    h[at++] = entries.length;
    for (const [key, value] of entries) {
      h[at++] = key.length;
      at += key.copy(h, at);
      h.writeUInt16BE(value.length, at);
      at += 2 + value.copy(h, at + 2);
    }
    this.push(h, frame.body);
  }

  cancel(id: number): void {
    this.push(head(FrameKind.Cancel, id, 0));
  }

  message(id: number, message: Buffer): void {
    this.push(head(FrameKind.Message, id, message.length), message);
  }

  status(id: number, code: number, details: string): void {
    const text = Buffer.from(details, 'utf8');
    const h = head(FrameKind.Status, id, 1 + text.length, 1);
    h[HEAD_BYTES] = code;
    this.push(h, text);
  }

  private push(...parts: Buffer[]): void {
    for (const p of parts) {
      if (p.length === 0) continue;
      this.parts.push(p);
      this.bytes += p.length;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const parts = this.parts;
    this.parts = [];
    const bytes = this.bytes;
    this.bytes = 0;
    if (this.socket.destroyed) return;
    this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes));
  }
}

/** A frame's head with room for `extra` bytes of fixed fields; `payload` counts those and what follows. */
function head(kind: FrameKind, id: number, payload: number, extra = 0): Buffer {
  const h = Buffer.allocUnsafe(HEAD_BYTES + extra);
  h.writeUInt32BE(1 + 4 + payload, 0);
  h[4] = kind;
  h.writeUInt32BE(id >>> 0, 5);
  return h;
}

export interface FrameHandlers {
  hello?(version: number): void;
  call?(frame: CallFrame): void;
  cancel?(id: number): void;
  message?(id: number, message: Buffer): void;
  status?(id: number, code: number, details: string): void;
}

/** Cuts the byte stream into frames, however the reads split them. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private total = 0;

  constructor(private readonly on: FrameHandlers) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.total += chunk.length;
    for (;;) {
      if (this.total < 4) return;
      let first = this.chunks[0]!;
      if (first.length < 4) first = this.join();
      const need = 4 + first.readUInt32BE(0);
      if (this.total < need) return;
      if (first.length < need) first = this.join();
      const frame = first.subarray(4, need);
      if (first.length === need) this.chunks.shift();
      else this.chunks[0] = first.subarray(need);
      this.total -= need;
      this.dispatch(frame);
    }
  }

  private join(): Buffer {
    const all = Buffer.concat(this.chunks, this.total);
    this.chunks = [all];
    return all;
  }

  private dispatch(f: Buffer): void {
    if (f.length < 5) throw new Error(`channel frame of ${f.length} bytes is too short`);
    const kind = f[0] as FrameKind;
    const id = f.readUInt32BE(1);
    const rest = f.subarray(5);
    switch (kind) {
      case FrameKind.Hello:
        return this.on.hello?.(id);
      case FrameKind.Call: {
        const method = rest[0]!;
        const count = rest[1]!;
        let at = 2;
        const metadata: [string, string][] = [];
        for (let i = 0; i < count; i++) {
          const keyLength = rest[at]!;
          const key = rest.toString('latin1', at + 1, at + 1 + keyLength);
          at += 1 + keyLength;
          const valueLength = rest.readUInt16BE(at);
          metadata.push([key, rest.toString('utf8', at + 2, at + 2 + valueLength)]);
          at += 2 + valueLength;
        }
        return this.on.call?.({ id, method, metadata, body: rest.subarray(at) });
      }
      case FrameKind.Cancel:
        return this.on.cancel?.(id);
      case FrameKind.Message:
        return this.on.message?.(id, rest);
      case FrameKind.Status:
        return this.on.status?.(id, rest[0]!, rest.toString('utf8', 1));
      default:
        throw new Error(`unknown channel frame kind ${String(kind)}`);
    }
  }
}

// Framing on a peer stream: [u32 big-endian length][u8 kind][payload], where
// length counts the kind byte and the payload. Messages are framed one each
// but written in batches, so many small messages cost one socket write.
import type { Message } from '../raft/types.js';
import { CodecError, encodeMessageInto, encodedSize } from './codec.js';
import { FillingBuffer } from './filling-buffer.js';

export enum FrameKind {
  Message = 1,
  /** Payload: u32 sequence number; answered with a Pong carrying the same number. */
  Ping = 2,
  Pong = 3,
}

const LENGTH_BYTES = 4;
const HEADER_BYTES = LENGTH_BYTES + 1;

/** Encodes messages, given their frame sizes from messageFrameSize, as consecutive frames in one buffer. */
export function encodeMessageFrames(messages: readonly Message[], frameSizes: readonly number[], count: number): Buffer {
  let total = 0;
  for (let i = 0; i < count; i++) total += frameSizes[i]!;
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const frameEnd = pos + frameSizes[i]!;
    out.writeUInt32BE(frameSizes[i]! - LENGTH_BYTES, pos);
    out[pos + LENGTH_BYTES] = FrameKind.Message;
    pos = encodeMessageInto(messages[i]!, out, pos + HEADER_BYTES);
    if (pos !== frameEnd) throw new CodecError('message changed between sizing and encoding');
  }
  return out;
}

/** Size of one message frame, validating the message (throws CodecError). */
export function messageFrameSize(m: Message): number {
  return HEADER_BYTES + encodedSize(m);
}

export function encodeControlFrame(kind: FrameKind.Ping | FrameKind.Pong, seq: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + 4);
  out.writeUInt32BE(5, 0);
  out[LENGTH_BYTES] = kind;
  out.writeUInt32BE(seq >>> 0, HEADER_BYTES);
  return out;
}

/** A broken stream: bad length, unknown kind. The connection should be closed. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/**
 * Reassembles frames from arbitrary socket chunks. A frame lying inside one
 * chunk is handed over as a view (no copy); a frame spanning chunks is
 * collected into a buffer that grows with what arrives, not with what the
 * length prefix claims.
 */
export class FrameReader {
  private readonly lengthBytes = Buffer.alloc(LENGTH_BYTES);
  private lengthFill = 0;
  private frame: FillingBuffer | undefined;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onFrame: (kind: number, payload: Buffer) => void,
  ) {}

  /** Feeds a chunk; throws FrameError on a corrupt stream. */
  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.frame) {
        pos += this.frame.append(chunk, pos);
        if (this.frame.complete) {
          const frame = this.frame.bytes();
          this.frame = undefined;
          this.deliver(frame);
        }
        continue;
      }
      let length: number;
      if (this.lengthFill === 0 && chunk.length - pos >= LENGTH_BYTES) {
        length = chunk.readUInt32BE(pos);
        pos += LENGTH_BYTES;
      } else {
        const n = Math.min(LENGTH_BYTES - this.lengthFill, chunk.length - pos);
        chunk.copy(this.lengthBytes, this.lengthFill, pos, pos + n);
        this.lengthFill += n;
        pos += n;
        if (this.lengthFill < LENGTH_BYTES) return;
        this.lengthFill = 0;
        length = this.lengthBytes.readUInt32BE(0);
      }
      if (length === 0 || length > this.maxFrameBytes) throw new FrameError(`frame length ${length} outside [1, ${this.maxFrameBytes}]`);
      if (chunk.length - pos >= length) {
        this.deliver(chunk.subarray(pos, pos + length));
        pos += length;
      } else {
        this.frame = new FillingBuffer(length);
      }
    }
  }

  private deliver(frame: Buffer): void {
    this.onFrame(frame[0]!, frame.subarray(1));
  }
}

// A server stream's responses written to its HTTP/2 stream many at a time.
//
// One revision sends a response to every watcher of its keys, one message
// each, as etcd does. Through grpc-js every message is its own trip through
// two Writables, a copy into a framed buffer and a native HTTP/2 write with
// its own DATA frame and completion callback; at a hundred watchers on a
// stream that per-message toll was most of a member's CPU. The outbox frames
// the messages (gRPC's 5-byte prefix) into one buffer and hands it to the
// HTTP/2 stream once per turn of the event loop: the same messages in the
// same order, in fewer, fuller frames.
//
// A stream busy with fan-out also spaces its writes (see FAN_OUT_PACING): a
// watcher's response waiting in the outbox can still take later revisions
// (see epoch), so its client gets fewer, fuller responses, as etcd's
// overflowing send channel gives them. (The socket takes a write at once on
// loopback or a fast network, long before the client has read it, so
// waiting for the socket would not space them.)
//
// It reaches under grpc-js (its server call's HTTP/2 stream and serializer),
// checked once per call; when they do not match, every message goes through
// call.write as before.
import { Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import type { Duplex } from 'node:stream';
import { Encodable, FRAME_PREFIX_BYTES, PreEncoded, writeFramePrefix } from './pre-encoded.js';
import { grpcServerCallClass } from './grpc-internals.js';
import { COUNT_SENT } from '../grpc-metrics.js';

/** The parts of grpc-js's BaseServerInterceptingCall the outbox uses. */
interface BaseCall {
  stream: Duplex & { closed?: boolean };
  handler: { serialize: (value: unknown) => Buffer };
  maxSendMessageSize: number;
}

/** The call's grpc-js internals when they are the shape the outbox knows (no interceptors, an HTTP/2 stream). */
function baseCallOf(call: ServerDuplexStream<unknown, unknown>): BaseCall | undefined {
  const type = grpcServerCallClass();
  const inner = (call as unknown as { call?: unknown }).call;
  if (type === null || !(inner instanceof type)) return undefined;
  const base = inner as Partial<BaseCall>;
  const stream = base.stream;
  if (!stream || typeof stream.write !== 'function' || typeof base.handler?.serialize !== 'function' || typeof base.maxSendMessageSize !== 'number') return undefined;
  return base as BaseCall;
}

/** What a generic message counts for when it goes through call.write unserialized (its size is unknown). */
const GENERIC_MESSAGE_BYTES = 64;

/** When a stream's writes are spaced (see StreamOutbox's `pacing`). */
export interface OutboxPacing {
  /** A write of at least this many messages makes the stream busy... */
  busyMessages: number;
  /** ...and its next write waits until this long after it. */
  gapMs: number;
}

/**
 * A stream busy with fan-out: a write of 64 messages or more holds the
 * stream's next write for 25 ms, and a watcher's response waiting out the
 * gap takes the revisions that commit meanwhile. A hundred watchers on one
 * stream then get a response per 25 ms at most, each with several
 * revisions, about as many events per response as etcd sends such a stream
 * (its slow watchers are batched once its send buffer of 128 overflows).
 * A stream with a few watchers, however fast its revisions come, is never
 * held; a busy one's events are late by at most the gap.
 */
export const FAN_OUT_PACING: OutboxPacing = { busyMessages: 64, gapMs: 25 };

export class StreamOutbox {
  private readonly base: BaseCall | undefined;
  private messages: (Uint8Array | Encodable)[] = [];
  private bytes = 0;
  private flushScheduled = false;
  /** When the last write went, and whether it made the stream busy (pacing). */
  private lastWriteAt = 0;
  private lastWriteBusy = false;
  private pacingTimer: NodeJS.Timeout | undefined;
  private headersSent = false;
  /** A message was too large: grpc-js fails the call, and nothing may follow the lost message. */
  private failed = false;
  private epochs = 0;

  constructor(
    private readonly call: ServerDuplexStream<unknown, unknown>,
    /** Runs when the transport has taken `bytes` of messages queued by send(). */
    private readonly taken: (bytes: number) => void = () => {},
    /** Spaces a busy stream's writes; none: every turn's messages go at once. */
    private readonly pacing?: OutboxPacing,
  ) {
    this.base = baseCallOf(call);
  }

  /** Whether the messages go straight to HTTP/2 (false: through call.write). */
  get direct(): boolean {
    return this.base !== undefined;
  }

  /** Queues one response; returns its size in bytes (what taken() will be told). */
  send(msg: unknown): number {
    const base = this.base;
    if (base === undefined) {
      const size = msg instanceof PreEncoded ? msg.bytes.length : msg instanceof Encodable ? msg.size : GENERIC_MESSAGE_BYTES;
      this.call.write(msg, () => this.taken(size));
      return size;
    }
    if (this.failed) return 0;
    const queued = msg instanceof Encodable ? msg : msg instanceof PreEncoded ? msg.bytes : base.handler.serialize(msg);
    const size = queued instanceof Encodable ? queued.size : queued.length;
    if (base.maxSendMessageSize !== -1 && size > base.maxSendMessageSize) {
      // grpc-js fails the call with RESOURCE_EXHAUSTED; let it, after what came before.
      this.flush();
      this.failed = true;
      this.call.write(msg);
      return 0;
    }
    if (!(queued instanceof Encodable)) this.epochs++;
    this.messages.push(queued);
    this.bytes += FRAME_PREFIX_BYTES + size;
    if (!this.flushScheduled && this.pacingTimer === undefined) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flushWhenDue());
    }
    return size;
  }

  /**
   * Changes whenever a queued message may no longer change: at each write,
   * and when a generic message is queued behind it (a response may grow
   * only while nothing it could overtake follows it).
   */
  get epoch(): number {
    return this.epochs;
  }

  /** A queued Encodable grew by `bytes` (same epoch). */
  grew(bytes: number): void {
    this.bytes += bytes;
  }

  /** True while the transport holds more than it wants (wait for onDrain). */
  get needDrain(): boolean {
    return this.base === undefined ? this.call.writableNeedDrain : this.base.stream.writableNeedDrain;
  }

  onceDrain(listener: () => void): void {
    if (this.base === undefined) this.call.once('drain', listener);
    else this.base.stream.once('drain', listener);
  }

  /** Writes everything queued now, as one HTTP/2 write, even within a busy stream's gap. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pacingTimer !== undefined) {
      clearTimeout(this.pacingTimer);
      this.pacingTimer = undefined;
    }
    this.epochs++;
    const base = this.base;
    if (base === undefined || this.messages.length === 0) return;
    const messages = this.messages;
    const total = this.bytes;
    this.messages = [];
    this.bytes = 0;
    const stream = base.stream;
    if (stream.destroyed || stream.closed === true || stream.writableEnded) return;
    if (!this.headersSent) {
      // grpc-js sends the response headers before its first message; so must we (a no-op once sent).
      this.call.sendMetadata(new Metadata());
      this.headersSent = true;
    }
    const buf = Buffer.allocUnsafe(total);
    let at = 0;
    for (const m of messages) {
      const size = m instanceof Encodable ? m.size : m.length;
      at = writeFramePrefix(buf, at, size);
      if (m instanceof Encodable) {
        at = m.writeTo(buf, at);
      } else {
        buf.set(m, at);
        at += size;
      }
    }
    const payload = total - messages.length * FRAME_PREFIX_BYTES;
    // These bypass call.write, where the gRPC metrics count sent messages.
    (this.call as { [COUNT_SENT]?: (messages: number) => void })[COUNT_SENT]?.(messages.length);
    if (this.pacing !== undefined) {
      this.lastWriteAt = performance.now();
      this.lastWriteBusy = messages.length >= this.pacing.busyMessages;
    }
    stream.write(buf, () => this.taken(payload));
  }

  /** The write of what send() queued, once due: not within a busy stream's gap (a timer comes back at its end). */
  private flushWhenDue(): void {
    this.flushScheduled = false;
    if (this.pacingTimer !== undefined || this.messages.length === 0) return;
    if (this.pacing !== undefined && this.lastWriteBusy) {
      const wait = this.lastWriteAt + this.pacing.gapMs - performance.now();
      if (wait > 0) {
        this.pacingTimer = setTimeout(() => {
          this.pacingTimer = undefined;
          this.flushWhenDue();
        }, wait);
        return;
      }
    }
    this.flush();
  }
}

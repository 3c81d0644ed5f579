// A bounded FIFO of outgoing messages with their encoded frame sizes. Bounds
// are both a count and a byte total, so a burst of large appends cannot use
// unbounded memory while a peer is slow. A ring buffer: no shifting, no
// allocation per message.
import type { Message } from '../raft/types.js';

export class MessageQueue {
  private readonly items: (Message | undefined)[];
  private readonly sizes: Float64Array;
  private head = 0;
  private count = 0;
  private bytes = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {
    this.items = new Array<Message | undefined>(maxMessages).fill(undefined);
    this.sizes = new Float64Array(maxMessages);
  }

  get length(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.bytes;
  }

  /** Appends unless a bound would be exceeded; returns whether it did. */
  push(m: Message, size: number): boolean {
    if (this.count === this.maxMessages || this.bytes + size > this.maxBytes) return false;
    const slot = (this.head + this.count) % this.maxMessages;
    this.items[slot] = m;
    this.sizes[slot] = size;
    this.count++;
    this.bytes += size;
    return true;
  }

  /**
   * Moves messages from the front into out/outSizes until maxBytes of frames
   * are taken (always at least one); returns how many were taken.
   */
  take(out: Message[], outSizes: number[], maxBytes: number): number {
    let n = 0;
    let taken = 0;
    while (this.count > 0) {
      const size = this.sizes[this.head]!;
      if (n > 0 && taken + size > maxBytes) break;
      out[n] = this.items[this.head]!;
      outSizes[n] = size;
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.maxMessages;
      this.count--;
      this.bytes -= size;
      taken += size;
      n++;
    }
    return n;
  }

  /** Empties the queue; returns how many messages were dropped. */
  clear(): number {
    const dropped = this.count;
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
    return dropped;
  }
}

// A buffer of a size announced by the peer (a frame or snapshot length),
// filled as bytes arrive. Memory follows what actually arrived, doubling as
// needed, so a peer that announces gigabytes and sends nothing costs nothing.
const INITIAL_BYTES = 64 * 1024;

export class FillingBuffer {
  private buf: Buffer;
  private filled = 0;

  constructor(readonly expected: number) {
    this.buf = Buffer.allocUnsafe(Math.min(expected, INITIAL_BYTES));
  }

  get length(): number {
    return this.filled;
  }

  get complete(): boolean {
    return this.filled === this.expected;
  }

  /** Copies as much of chunk[start, end) as still fits; returns how many bytes it took. */
  append(chunk: Buffer, start = 0, end = chunk.length): number {
    const n = Math.min(end - start, this.expected - this.filled);
    if (this.filled + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.expected, Math.max(this.buf.length * 2, this.filled + n)));
      this.buf.copy(grown, 0, 0, this.filled);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.filled, start, start + n);
    this.filled += n;
    return n;
  }

  /** The bytes so far (all of them once complete). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.filled);
  }
}

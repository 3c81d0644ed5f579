// SHA-256 of a large stream computed on a worker thread, so the thread that
// produces and sends the bytes (the member's event loop, for a backup) does
// not also spend about a third of its time hashing them. Each update copies
// the bytes into a buffer that moves to the worker and comes back once
// hashed: the caller may reuse its own memory at once, a few buffers serve
// the whole stream, and at most MAX_IN_FLIGHT wait on the worker (update
// waits for one to come back), so a slow worker slows the stream rather
// than piling it up in memory.
import { Worker } from 'node:worker_threads';
import type { FromHasher, ToHasher } from './sha256-worker.js';

const MAX_IN_FLIGHT = 4;

export class OffThreadSha256 {
  private readonly worker = new Worker(new URL('./sha256-worker.js', import.meta.url));
  private readonly spare: ArrayBuffer[] = [];
  private inFlight = 0;
  private waiting: (() => void) | undefined;
  private digestWanted: { resolve: (digest: Uint8Array) => void; reject: (err: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(private readonly bufferBytes: number) {
    // An abandoned stream must not keep the process alive.
    this.worker.unref();
    this.worker.on('message', (msg: FromHasher) => {
      if ('returned' in msg) {
        this.inFlight--;
        if (msg.returned.byteLength === this.bufferBytes) this.spare.push(msg.returned);
        this.wake();
      } else {
        this.digestWanted?.resolve(msg.digest);
      }
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the hashing thread exited (${code})`)));
  }

  /** Queues `bytes` for hashing; the caller may overwrite them once this resolves. */
  async update(bytes: Uint8Array): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((resolve) => (this.waiting = resolve));
    if (this.failure) throw this.failure;
    const buffer = bytes.length <= this.bufferBytes ? (this.spare.pop() ?? new ArrayBuffer(this.bufferBytes)) : new ArrayBuffer(bytes.length);
    new Uint8Array(buffer).set(bytes);
    this.inFlight++;
    this.worker.postMessage({ bytes: buffer, length: bytes.length } satisfies ToHasher, [buffer]);
  }

  /** The digest of everything queued. */
  digest(): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.digestWanted = { resolve, reject };
      this.worker.postMessage({ digest: true } satisfies ToHasher);
    });
  }

  /** Stops the worker (also when the stream is abandoned). */
  async close(): Promise<void> {
    this.failure ??= new Error('the hashing thread was closed');
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
    this.digestWanted?.reject(this.failure);
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}

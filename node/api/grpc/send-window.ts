// How much one Watch stream may have queued for its client before its
// watchers pause.
//
// gRPC's stream says "full" after 16 queued messages whatever their size.
// One revision sends a message to every watcher of its keys, so a stream
// with a hundred watchers was "full" after a single put: watchers paused and
// replayed the same events from history right after, which cost more than
// delivering them. Like etcd, which lets a stream queue responses before it
// treats a watcher as slow, the bound here is in bytes: messages queue until
// `limitBytes` are waiting, the watcher that crosses it pauses (its message
// is still sent), and every paused watcher resumes once the client has
// taken the queue down to half.

export class SendWindow {
  private queuedBytes = 0;
  private readonly paused = new Set<number>();

  constructor(
    private readonly limitBytes: number,
    /** Restarts delivery to a paused watcher (it catches up from history). */
    private readonly resume: (watchId: number) => void,
  ) {}

  /** Bytes sent but not yet taken by the transport. */
  get queued(): number {
    return this.queuedBytes;
  }

  /**
   * Counts a message of `bytes` for `watchId` as queued; returns whether the
   * watcher must pause. Call taken(bytes) once the transport has taken it.
   */
  enqueue(watchId: number, bytes: number): boolean {
    this.queuedBytes += bytes;
    const pause = this.queuedBytes > this.limitBytes;
    if (pause) this.paused.add(watchId);
    return pause;
  }

  /** The transport took `bytes` of queued messages (one message or many). */
  taken(bytes: number): void {
    this.queuedBytes -= bytes;
    if (this.paused.size === 0 || this.queuedBytes > this.limitBytes / 2) return;
    const ids = [...this.paused];
    this.paused.clear();
    for (const id of ids) this.resume(id);
  }

  /** Forgets a watcher (canceled or its stream closed). */
  forget(watchId: number): void {
    this.paused.delete(watchId);
  }
}

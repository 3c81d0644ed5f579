// The leader's view of one peer's log: how far it matches, what to send next,
// and how hard to push (probe one message at a time, stream optimistically
// within an in-flight window, or wait for a snapshot).

export enum ProgressState {
  /** Unsure where the peer's log ends: one append in flight at a time. */
  Probe = 'probe',
  /** The peer is in step: appends are pipelined up to the in-flight limit. */
  Replicate = 'replicate',
  /** The peer needs a snapshot; nothing else is sent until it lands. */
  Snapshot = 'snapshot',
}

/** A bounded window of the last indexes of appends sent but not yet acknowledged. */
export class Inflights {
  private readonly lastIndexes: number[] = [];
  constructor(readonly capacity: number) {}

  add(lastIndex: number): void {
    if (this.full()) throw new Error('raft: in-flight window is full');
    this.lastIndexes.push(lastIndex);
  }

  /** Frees every in-flight append acknowledged by a response up to `index`. */
  freeUpTo(index: number): void {
    let n = 0;
    while (n < this.lastIndexes.length && this.lastIndexes[n]! <= index) n++;
    if (n > 0) this.lastIndexes.splice(0, n);
  }

  /** Frees the oldest slot: a heartbeat response proves the peer is alive even if appends were lost. */
  freeFirst(): void {
    this.lastIndexes.shift();
  }

  full(): boolean {
    return this.lastIndexes.length >= this.capacity;
  }

  count(): number {
    return this.lastIndexes.length;
  }

  reset(): void {
    this.lastIndexes.length = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** In Probe: an append is outstanding; cleared by any response or heartbeat response. */
  probeSent = false;
  /** In Snapshot: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the leader last checked quorum. */
  recentActive = true;
  /**
   * Heard from in the check-quorum window before the current one. Reported
   * with recentActive, so a peer that answers every heartbeat never looks
   * inactive in the instant after the check resets recentActive.
   */
  activeLastWindow = true;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, public isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the peer holds at least the snapshot's index.
    const from = this.state === ProgressState.Snapshot ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.resetState(ProgressState.Probe);
    this.next = from;
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement up to `index`; returns whether match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** After sending entries up to `lastIndex`. */
  sentEntries(lastIndex: number, count: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    }
  }

  /**
   * Handles a rejection of the append that followed `rejected`. `hint` is the
   * highest index the peer might share with us. Returns false for a stale
   * rejection that should be ignored.
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /**
   * The peer reports that its log ends at `last`, below what it acknowledged:
   * it lost entries (a disk that dropped synced writes, a tail cut too far).
   * Probe again from where its log really ends. Lowering match only delays
   * commitment, so a late copy of such a report costs a resend, never safety.
   */
  maybeLostEntries(last: number): boolean {
    if (last >= this.match) return false;
    this.match = last;
    this.resetState(ProgressState.Probe);
    this.next = last + 1;
    return true;
  }

  /** Whether sending more appends must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }
}

// An in-memory LogStorage, used by the simulator and by tests. It keeps a
// sentinel at position 0 of its array standing for the snapshot's last entry,
// so term(firstIndex - 1) is always answerable.
import { bootstrapEntries } from './confchange.js';
import { CompactedError, UnavailableError, entriesWithin, type LogStorage } from './storage.js';
import { EntryType, type ConfState, type Entry, type HardState, type Snapshot } from './types.js';

export class MemoryStorage implements LogStorage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array() };
  /** ents[0] is the sentinel for snap.meta.index. */
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array() }];

  /** A storage for a founding member of a new cluster with the given initial voters. */
  static bootstrap(voters: number[]): MemoryStorage {
    const s = new MemoryStorage();
    const entries = bootstrapEntries(voters.map((id) => ({ id })));
    s.append(entries);
    s.hardState = { term: 1, vote: 0, commit: entries.length };
    return s;
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hardState }, conf: cloneConf(this.snap.meta.conf) };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    return entriesWithin(this.ents, lo - offset, hi - offset, maxBytes);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError(i, offset + 1);
    if (i - offset >= this.ents.length) throw new UnavailableError(i, this.lastIndex());
    return this.ents[i - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Installs a snapshot received from the leader, dropping the whole log. */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index) return;
    this.snap = snap;
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, type: EntryType.Normal, data: new Uint8Array() }];
  }

  /** Records a snapshot of the application's state at `index` (which must be applied). */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) return this.snap;
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    this.snap = { meta: { index, term: this.term(index), conf: cloneConf(conf) }, data };
    return this.snap;
  }

  /** Discards entries up to and including `index`. */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) return;
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    const sentinel = this.ents[index - offset]!;
    this.ents = [{ term: sentinel.term, index: sentinel.index, type: EntryType.Normal, data: new Uint8Array() }, ...this.ents.slice(index - offset + 1)];
  }

  /** Appends entries, replacing any existing suffix they conflict with. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    // Entries already folded into the snapshot are not needed again.
    const fresh = entries.filter((e) => e.index >= first);
    if (fresh.length === 0) return;
    const at = fresh[0]!.index - this.ents[0]!.index;
    if (at > this.ents.length) throw new Error(`raft: missing log entries before ${fresh[0]!.index} (last index ${this.lastIndex()})`);
    this.ents = this.ents.slice(0, at).concat(fresh);
  }
}

export function cloneConf(conf: ConfState): ConfState {
  return { voters: [...conf.voters], learners: [...conf.learners] };
}

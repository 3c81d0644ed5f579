// The watch hub: delivers each watcher the events of its key range in
// revision order, first from history, then live as revisions commit.
//
// Every watcher is in one of three states, as in etcd's watchable store:
//
//  - synced: it has seen everything up to the current revision and gets each
//    new revision's events the moment the store commits it;
//  - unsynced: it is behind (it started in the past); a scheduled catch-up
//    task replays the store's retained history to it in bounded batches until
//    it reaches the current revision, then it becomes synced;
//  - paused: its consumer returned `false` from the callback ("I am full").
//    It gets nothing until resume(), then catches up like an unsynced one.
//
// Memory: a watcher never queues events. A watcher that falls behind only
// remembers the next revision it needs and reads it from the store's history
// later, so a slow consumer costs one integer, not a growing buffer. The price
// is the same as etcd's: if compaction overtakes a lagging watcher, it is
// canceled with `compactRevision` and the client must re-list.
//
// Each batch holds whole revisions, so one txn's events always arrive together.
// A watcher is canceled for compaction when its next revision is *below* the
// compact revision, as etcd does; the compact revision itself stays readable.

import { type History, historyKey } from './key-index.js';
import { type ByteString, type KeyRange, keyRange, rangeContains } from './keys.js';
import type { MvccStore } from './store.js';
import type { WatchEvent } from './types.js';
import { watchEventDropper } from '../failpoints.js';

export type WatchFilter = 'NOPUT' | 'NODELETE';

/** etcdserverpb.WatchCreateRequest, less the stream-level fields. */
export interface WatchRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  /** 0 / absent: only revisions after the current one. */
  startRevision?: number;
  prevKv?: boolean;
  filters?: WatchFilter[];
  progressNotify?: boolean;
}

/** One delivery to a watcher: etcdserverpb.WatchResponse less the stream-level fields. */
export interface WatchBatch {
  watchId: number;
  header: { revision: number };
  /** Read only: one array may go to every watcher of a key. */
  events: readonly WatchEvent[];
  /** A progress notification: no events, and the header revision is current. */
  progressNotify?: boolean;
  /** The final batch of a canceled watch. */
  canceled?: boolean;
  /** Set when canceled because the next revision needed was compacted. */
  compactRevision?: number;
  cancelReason?: string;
}

/** Receives batches; returning `false` pauses delivery until resume(). */
export type WatchCallback = (batch: WatchBatch) => boolean | void;

export interface WatchHubOptions {
  /** A catch-up batch closes once it holds this many events (whole revisions). Default 1000. */
  maxEventsPerBatch?: number;
  /** How catch-up work is deferred. Default setImmediate. */
  schedule?: (task: () => void) => void;
}

/** Revisions a catch-up task scans before yielding to other work. */
const REVISIONS_PER_TASK = 10_000;

type WatcherState = 'synced' | 'unsynced' | 'paused' | 'canceled';

/** What a consumer holds for one watch. */
export interface Watch {
  readonly id: number;
  /** Stops delivery. No batch follows, not even a canceled one. */
  cancel(): void;
  /** Restarts delivery after the callback returned false. */
  resume(): void;
  /** Sends a progress notification now if the watch is caught up; returns whether it did. */
  requestProgress(): boolean;
  /** True when every event up to the store's current revision has been handed to the consumer. */
  readonly synced: boolean;
}

/** The hub's bookkeeping for one watch. */
class Watcher implements Watch {
  state: WatcherState = 'unsynced';

  constructor(
    private readonly hub: WatchHub,
    readonly id: number,
    readonly range: KeyRange,
    /** The first revision this watcher has not been given yet. */
    public nextRevision: number,
    readonly options: { prevKv: boolean; noPut: boolean; noDelete: boolean; progressNotify: boolean },
    readonly callback: WatchCallback,
  ) {}

  cancel(): void {
    this.hub.remove(this);
  }

  resume(): void {
    this.hub.resume(this);
  }

  requestProgress(): boolean {
    return this.hub.sendProgress(this);
  }

  get synced(): boolean {
    return this.state === 'synced';
  }

  wants(event: WatchEvent): boolean {
    return event.type === 'PUT' ? !this.options.noPut : !this.options.noDelete;
  }
}

export class WatchHub {
  private readonly watchers = new Map<number, Watcher>();
  /**
   * The watchers of one exact key, by key, and those of a range: a revision
   * visits the watchers of the keys it changed and every range watcher,
   * not every watcher.
   */
  private readonly byKey = new Map<ByteString, Set<Watcher>>();
  private readonly ranged = new Set<Watcher>();
  /**
   * The revision after the last one delivered live. A synced watcher has
   * seen everything before it, even one whose nextRevision is older (live
   * delivery only moves the nextRevision of watchers it visits).
   */
  private liveNext = 0;
  private nextId = 1;
  private catchUpScheduled = false;
  private readonly maxEventsPerBatch: number;
  private readonly schedule: (task: () => void) => void;
  private readonly unsubscribe: (() => void)[];
  /** Test builds only (node/failpoints.ts): a deliberately broken hub that loses one event. */
  private readonly dropEvent = watchEventDropper();

  constructor(
    private readonly store: MvccStore,
    options: WatchHubOptions = {},
  ) {
    this.maxEventsPerBatch = options.maxEventsPerBatch ?? 1000;
    this.schedule = options.schedule ?? ((task) => void setImmediate(task));
    this.unsubscribe = [
      store.onCommit((revision, changed) => this.deliverLive(revision, changed)),
      store.onCompact(() => this.scheduleCatchUp()),
      store.onRestore(() => this.resynchronise()),
    ];
  }

  get size(): number {
    return this.watchers.size;
  }

  /** The revision a progress notification reports: everything up to it has been committed. */
  progressRevision(): number {
    return this.store.revision;
  }

  watch(request: WatchRequest, callback: WatchCallback): Watch {
    const start = request.startRevision ?? 0;
    const filters = request.filters ?? [];
    const watcher = new Watcher(
      this,
      this.nextId++,
      keyRange(request.key, request.rangeEnd),
      start > 0 ? start : this.store.revision + 1,
      {
        prevKv: request.prevKv ?? false,
        noPut: filters.includes('NOPUT'),
        noDelete: filters.includes('NODELETE'),
        progressNotify: request.progressNotify ?? false,
      },
      callback,
    );
    this.watchers.set(watcher.id, watcher);
    this.index(watcher);
    if (watcher.nextRevision > this.store.revision) watcher.state = 'synced';
    else this.scheduleCatchUp();
    return watcher;
  }

  /** Sends a progress notification to every caught-up watcher that asked for them. */
  notifyProgress(): void {
    for (const watcher of [...this.watchers.values()]) {
      if (watcher.options.progressNotify) this.sendProgress(watcher);
    }
  }

  /** Detaches from the store and drops every watcher. */
  close(): void {
    for (const stop of this.unsubscribe) stop();
    for (const watcher of this.watchers.values()) watcher.state = 'canceled';
    this.watchers.clear();
    this.byKey.clear();
    this.ranged.clear();
  }

  // remove/resume/sendProgress back the Watch handle's methods.

  /** @internal */
  remove(watcher: Watcher): void {
    watcher.state = 'canceled';
    this.watchers.delete(watcher.id);
    if (!watcher.range.single) {
      this.ranged.delete(watcher);
      return;
    }
    const exact = this.byKey.get(watcher.range.start);
    exact?.delete(watcher);
    if (exact?.size === 0) this.byKey.delete(watcher.range.start);
  }

  private index(watcher: Watcher): void {
    if (!watcher.range.single) {
      this.ranged.add(watcher);
      return;
    }
    let exact = this.byKey.get(watcher.range.start);
    if (exact === undefined) this.byKey.set(watcher.range.start, (exact = new Set()));
    exact.add(watcher);
  }

  /** A synced watcher about to fall behind: its nextRevision is where it really stands. */
  private leaveSynced(watcher: Watcher): void {
    if (watcher.nextRevision < this.liveNext) watcher.nextRevision = this.liveNext;
  }

  /** @internal */
  resume(watcher: Watcher): void {
    if (watcher.state !== 'paused') return;
    watcher.state = 'unsynced';
    this.scheduleCatchUp();
  }

  /** @internal */
  sendProgress(watcher: Watcher): boolean {
    if (watcher.state !== 'synced') return false;
    const revision = this.store.revision;
    this.deliver(watcher, { watchId: watcher.id, header: { revision }, events: [], progressNotify: true });
    return true;
  }

  // ---- live delivery -----------------------------------------------------

  private deliverLive(revision: number, changed: readonly History[]): void {
    const keys = changed.map(historyKey);
    // Build each event at most once, and only if some watcher wants it.
    const plain: (WatchEvent | undefined)[] = [];
    const withPrev: (WatchEvent | undefined)[] = [];
    const eventAt = (i: number, prevKv: boolean): WatchEvent | undefined => {
      const cache = prevKv ? withPrev : plain;
      if (!(i in cache)) cache[i] = this.store.eventsOf(revision, [changed[i]!], null, prevKv)[0];
      return cache[i];
    };

    // Iterating the live sets is safe: a watcher canceled by a callback is
    // skipped, and one added by a callback starts after this revision.
    // A revision changes a key at most once, so an exact-key watcher gets one
    // event, in an array shared by every such watcher of the key.
    for (let i = 0; i < keys.length; i++) {
      const exact = this.byKey.get(keys[i]!);
      if (exact === undefined) continue;
      let plainEvents: readonly WatchEvent[] | undefined;
      let prevEvents: readonly WatchEvent[] | undefined;
      for (const watcher of exact) {
        if (watcher.state !== 'synced' || watcher.nextRevision > revision) continue;
        watcher.nextRevision = revision + 1;
        const prevKv = watcher.options.prevKv;
        const event = eventAt(i, prevKv);
        if (event === undefined || !watcher.wants(event) || this.dropEvent?.()) continue;
        const events = prevKv ? (prevEvents ??= [event]) : (plainEvents ??= [event]);
        this.deliver(watcher, { watchId: watcher.id, header: { revision }, events });
      }
    }
    for (const watcher of this.ranged) {
      if (watcher.state !== 'synced' || watcher.nextRevision > revision) continue;
      watcher.nextRevision = revision + 1;
      let events: WatchEvent[] | undefined;
      for (let i = 0; i < keys.length; i++) {
        if (!rangeContains(watcher.range, keys[i]!)) continue;
        const event = eventAt(i, watcher.options.prevKv);
        if (event !== undefined && watcher.wants(event) && !this.dropEvent?.()) (events ??= []).push(event);
      }
      if (events !== undefined) this.deliver(watcher, { watchId: watcher.id, header: { revision }, events });
    }
    if (revision + 1 > this.liveNext) this.liveNext = revision + 1;
  }

  // ---- catching up from history ------------------------------------------

  /** After the store's state was replaced wholesale, every caught-up watcher re-checks against history. */
  private resynchronise(): void {
    for (const watcher of this.watchers.values()) {
      if (watcher.state !== 'synced') continue;
      this.leaveSynced(watcher);
      watcher.state = 'unsynced';
    }
    this.scheduleCatchUp();
  }

  private scheduleCatchUp(): void {
    if (this.catchUpScheduled) return;
    this.catchUpScheduled = true;
    this.schedule(() => {
      this.catchUpScheduled = false;
      this.catchUp();
    });
  }

  private catchUp(): void {
    // Each behind watcher gets an equal share of the task's scan budget, so
    // one watcher replaying a long history cannot starve the others.
    const behind = [...this.watchers.values()].filter((w) => w.state === 'unsynced');
    if (behind.length === 0) return;
    const share = Math.max(1, Math.floor(REVISIONS_PER_TASK / behind.length));
    for (const watcher of behind) {
      if (watcher.state === 'unsynced') this.catchUpOne(watcher, share);
    }
    if ([...this.watchers.values()].some((w) => w.state === 'unsynced')) this.scheduleCatchUp();
  }

  /** Replays up to `budget` revisions of history to one watcher. */
  private catchUpOne(watcher: Watcher, budget: number): void {
    let scanned = 0;
    while (watcher.state === 'unsynced' && scanned < budget) {
      if (watcher.nextRevision < this.store.compactRevision) {
        const compactRevision = this.store.compactRevision;
        this.remove(watcher);
        this.invoke(watcher, {
          watchId: watcher.id,
          header: { revision: this.store.revision },
          events: [],
          canceled: true,
          // Like etcd, no cancelReason: clients turn compactRevision into ErrCompacted.
          compactRevision,
        });
        break;
      }
      const current = this.store.revision;
      const events: WatchEvent[] = [];
      let rev = watcher.nextRevision;
      for (; rev <= current && events.length < this.maxEventsPerBatch && scanned < budget; rev++, scanned++) {
        for (const event of this.store.eventsAt(rev, watcher.range, watcher.options.prevKv)) {
          if (watcher.wants(event)) events.push(event);
        }
      }
      watcher.nextRevision = rev;
      if (rev > current) watcher.state = 'synced';
      if (events.length > 0) this.deliver(watcher, { watchId: watcher.id, header: { revision: current }, events });
    }
  }

  // ---- calling consumers -------------------------------------------------

  /** Hands a batch over; a `false` answer pauses the watcher. */
  private deliver(watcher: Watcher, batch: WatchBatch): void {
    if (this.invoke(watcher, batch) === false && watcher.state !== 'canceled') {
      if (watcher.state === 'synced') this.leaveSynced(watcher);
      watcher.state = 'paused';
    }
  }

  /**
   * Calls the consumer. Live batches are delivered from inside the store's
   * apply, so a throwing consumer must not escape: it loses its watch instead.
   */
  private invoke(watcher: Watcher, batch: WatchBatch): boolean | void {
    try {
      return watcher.callback(batch);
    } catch (err) {
      const wasActive = watcher.state !== 'canceled';
      this.remove(watcher);
      if (wasActive) {
        try {
          watcher.callback({
            watchId: watcher.id,
            header: { revision: this.store.revision },
            events: [],
            canceled: true,
            cancelReason: `watch callback failed: ${err instanceof Error ? err.message : String(err)}`,
          });
        } catch {
          // The consumer is already gone; nothing more to tell it.
        }
      }
      return undefined;
    }
  }
}

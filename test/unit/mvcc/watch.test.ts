import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WatchHub } from '../../../node/mvcc/index.js';
import type { WatchBatch, WatchCallback, WatchRequest } from '../../../node/mvcc/index.js';
import { Driver, FROM_KEY, bytes, prefixEnd, text } from './helpers.js';

/** Runs deferred catch-up work only when the test says so. */
class ManualScheduler {
  private tasks: (() => void)[] = [];
  readonly schedule = (task: () => void): void => {
    this.tasks.push(task);
  };
  runOne(): void {
    this.tasks.shift()?.();
  }
  runAll(): void {
    for (let guard = 0; this.tasks.length > 0; guard++) {
      assert.ok(guard < 10_000, 'catch-up never settles');
      this.tasks.shift()!();
    }
  }
}

function setup(maxEventsPerBatch?: number) {
  const d = new Driver();
  const scheduler = new ManualScheduler();
  const hub = new WatchHub(d.store, { schedule: scheduler.schedule, maxEventsPerBatch });
  return { d, scheduler, hub };
}

/** Collects batches; events are summarised as "TYPE key=value@rev[<prev]". */
function recorder(answer: () => boolean | void = () => undefined) {
  const batches: WatchBatch[] = [];
  const callback: WatchCallback = (batch) => {
    batches.push(batch);
    return answer();
  };
  const events = () =>
    batches.flatMap((b) =>
      b.events.map((e) => {
        const prev = e.prevKv ? `<${text(e.prevKv.value)}` : '';
        return `${e.type} ${text(e.kv.key)}=${text(e.kv.value)}@${e.kv.modRevision}${prev}`;
      }),
    );
  return { batches, callback, events };
}

const prefix = (p: string, extra: Partial<WatchRequest> = {}): WatchRequest => ({
  key: bytes(p),
  rangeEnd: prefixEnd(p),
  ...extra,
});

describe('watch', () => {
  it('delivers live events of its range as revisions commit', () => {
    const { d, hub } = setup();
    const r = recorder();
    hub.watch(prefix('a/'), r.callback);
    d.put('a/1', 'x');
    d.put('b/1', 'ignored');
    d.put('a/2', 'y');
    d.del('a/1');
    assert.deepEqual(r.events(), ['PUT a/1=x@2', 'PUT a/2=y@4', 'DELETE a/1=@5']);
    assert.deepEqual(r.batches.map((b) => b.header.revision), [2, 4, 5]);
  });

  it('gives DELETE events a kv with only the key and deleting revision', () => {
    const { d, hub } = setup();
    const r = recorder();
    d.grant(1);
    d.put('k', 'v', { lease: 1n });
    hub.watch({ key: bytes('k') }, r.callback);
    d.del('k');
    const kv = r.batches[0]!.events[0]!.kv;
    assert.deepEqual(
      { key: text(kv.key), createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease, value: kv.value.length },
      { key: 'k', createRevision: 0, modRevision: 3, version: 0, lease: 0n, value: 0 },
    );
  });

  it('replays history from startRevision, then continues live without gaps or duplicates', () => {
    const { d, hub, scheduler } = setup();
    d.put('a', '1'); // 2
    d.put('b', '1'); // 3
    d.put('a', '2'); // 4
    const r = recorder();
    hub.watch({ key: bytes('a'), rangeEnd: FROM_KEY, startRevision: 3 }, r.callback);
    assert.deepEqual(r.events(), [], 'history arrives from the scheduled catch-up');
    d.put('c', '1'); // 5: committed while the watcher is still behind
    scheduler.runAll();
    assert.deepEqual(r.events(), ['PUT b=1@3', 'PUT a=2@4', 'PUT c=1@5']);
    d.put('a', '3'); // 6
    assert.deepEqual(r.events().slice(3), ['PUT a=3@6']);
  });

  it('cancels with the compact revision when history it needs is compacted', () => {
    const { d, hub, scheduler } = setup();
    for (let i = 0; i < 5; i++) d.put('k', String(i)); // revisions 2..6
    d.compact(5);
    const old = recorder();
    hub.watch({ key: bytes('k'), startRevision: 4 }, old.callback);
    const atCompact = recorder();
    hub.watch({ key: bytes('k'), startRevision: 5 }, atCompact.callback);
    scheduler.runAll();
    assert.equal(old.batches.length, 1);
    assert.equal(old.batches[0]!.canceled, true);
    assert.equal(old.batches[0]!.compactRevision, 5);
    assert.deepEqual(atCompact.events(), ['PUT k=3@5', 'PUT k=4@6']);
    assert.equal(hub.size, 1);
    d.put('k', 'after');
    assert.equal(old.batches.length, 1, 'a canceled watcher hears nothing more');
  });

  it('a watch starting at the compact revision sees a delete made there (as etcd since its fix for issue 18089)', () => {
    const { d, hub, scheduler } = setup();
    d.put('gone', '1'); // 2
    d.put('kept', '1'); // 3
    d.txn({
      success: [
        { requestDeleteRange: { key: bytes('gone') } },
        { requestPut: { key: bytes('kept'), value: bytes('2') } },
      ],
    }); // 4
    d.compact(4);
    const r = recorder();
    hub.watch({ key: FROM_KEY, rangeEnd: FROM_KEY, startRevision: 4 }, r.callback);
    scheduler.runAll();
    assert.deepEqual(r.events(), ['DELETE gone=@4', 'PUT kept=2@4']);
    // The next compaction takes the tombstone: a watch from there has nothing at 4 to miss.
    d.put('other', '1'); // 5
    d.compact(5);
    const after = recorder();
    hub.watch({ key: FROM_KEY, rangeEnd: FROM_KEY, startRevision: 5 }, after.callback);
    scheduler.runAll();
    assert.deepEqual(after.events(), ['PUT other=1@5']);
    assert.equal(d.get('gone'), undefined);
  });

  it('filters out puts or deletes', () => {
    const { d, hub } = setup();
    const noPut = recorder();
    const noDelete = recorder();
    hub.watch({ key: bytes('k'), filters: ['NOPUT'] }, noPut.callback);
    hub.watch({ key: bytes('k'), filters: ['NODELETE'] }, noDelete.callback);
    d.put('k', '1');
    d.del('k');
    assert.deepEqual(noPut.events(), ['DELETE k=@3']);
    assert.deepEqual(noDelete.events(), ['PUT k=1@2']);
    assert.equal(noPut.batches.length, 1, 'a fully filtered revision sends nothing');
  });

  it('attaches prevKv for updates and deletes, live and from history', () => {
    const { d, hub, scheduler } = setup();
    const live = recorder();
    hub.watch({ key: bytes('k'), prevKv: true }, live.callback);
    const plain = recorder();
    hub.watch({ key: bytes('k') }, plain.callback);
    d.put('k', '1');
    d.put('k', '2');
    d.del('k');
    d.put('k', '3');
    const expected = ['PUT k=1@2', 'PUT k=2@3<1', 'DELETE k=@4<2', 'PUT k=3@5'];
    assert.deepEqual(live.events(), expected);
    assert.deepEqual(plain.events(), ['PUT k=1@2', 'PUT k=2@3', 'DELETE k=@4', 'PUT k=3@5']);
    const replay = recorder();
    hub.watch({ key: bytes('k'), prevKv: true, startRevision: 1 }, replay.callback);
    scheduler.runAll();
    assert.deepEqual(replay.events(), expected);
  });

  it('delivers the events of one txn together, in write order, live and from history', () => {
    const { d, hub, scheduler } = setup(1);
    const live = recorder();
    hub.watch({ key: FROM_KEY, rangeEnd: FROM_KEY }, live.callback);
    d.put('x', '0');
    d.txn({
      success: [
        { requestPut: { key: bytes('c'), value: bytes('1') } },
        { requestPut: { key: bytes('a'), value: bytes('1') } },
        { requestDeleteRange: { key: bytes('x') } },
      ],
    });
    assert.deepEqual(live.batches.map((b) => b.events.length), [1, 3]);
    assert.deepEqual(live.events().slice(1), ['PUT c=1@3', 'PUT a=1@3', 'DELETE x=@3']);

    const replay = recorder();
    hub.watch({ key: FROM_KEY, rangeEnd: FROM_KEY, startRevision: 2 }, replay.callback);
    scheduler.runAll();
    // maxEventsPerBatch is 1, yet the txn's three events stay in one batch.
    assert.deepEqual(replay.batches.map((b) => b.events.length), [1, 3]);
    assert.deepEqual(replay.events(), live.events());
  });

  it('delivers a lease revoke as one batch', () => {
    const { d, hub } = setup();
    d.grant(9);
    d.put('a', '1', { lease: 9n });
    d.put('b', '1', { lease: 9n });
    const r = recorder();
    hub.watch({ key: FROM_KEY, rangeEnd: FROM_KEY }, r.callback);
    d.revoke(9);
    assert.equal(r.batches.length, 1);
    assert.deepEqual(r.events(), ['DELETE a=@4', 'DELETE b=@4']);
  });

  it('stops after cancel', () => {
    const { d, hub } = setup();
    const r = recorder();
    const watcher = hub.watch({ key: bytes('k') }, r.callback);
    d.put('k', '1');
    watcher.cancel();
    d.put('k', '2');
    assert.deepEqual(r.events(), ['PUT k=1@2']);
    assert.equal(hub.size, 0);
  });

  it('pauses a consumer that reports it is full and catches it up on resume', () => {
    const { d, hub, scheduler } = setup();
    let full = true;
    const r = recorder(() => !full);
    const watcher = hub.watch({ key: bytes('k') }, r.callback);
    d.put('k', '1');
    d.put('k', '2');
    d.put('k', '3');
    assert.deepEqual(r.events(), ['PUT k=1@2'], 'nothing is queued for a paused watcher');
    full = false;
    watcher.resume();
    scheduler.runAll();
    d.put('k', '4');
    assert.deepEqual(r.events(), ['PUT k=1@2', 'PUT k=2@3', 'PUT k=3@4', 'PUT k=4@5']);
  });

  it('cancels a paused watcher that compaction overtook, once it resumes', () => {
    const { d, hub, scheduler } = setup();
    const r = recorder(() => false);
    const watcher = hub.watch({ key: bytes('k') }, r.callback);
    d.put('k', '1'); // 2, delivered, then paused
    d.put('k', '2'); // 3
    d.put('k', '3'); // 4
    d.compact(4);
    watcher.resume();
    scheduler.runAll();
    const last = r.batches.at(-1)!;
    assert.equal(last.canceled, true);
    assert.equal(last.compactRevision, 4);
  });

  it('an exact-key watcher is visited only by revisions of its key, and shares the event with the key\'s other watchers', () => {
    const { d, hub } = setup();
    const a1 = recorder();
    const a2 = recorder();
    const b = recorder();
    const range = recorder();
    hub.watch({ key: bytes('a') }, a1.callback);
    hub.watch({ key: bytes('a') }, a2.callback);
    hub.watch({ key: bytes('b') }, b.callback);
    hub.watch(prefix('a'), range.callback);
    d.txn({ success: [{ requestPut: { key: bytes('a'), value: bytes('1') } }, { requestPut: { key: bytes('b'), value: bytes('2') } }] }); // 2
    d.put('c', '3'); // 3
    assert.deepEqual(a1.events(), ['PUT a=1@2']);
    assert.deepEqual(b.events(), ['PUT b=2@2']);
    assert.deepEqual(range.events(), ['PUT a=1@2']);
    assert.equal(a1.batches[0]!.events, a2.batches[0]!.events, 'one array for every watcher of the key');
  });

  it('a synced watcher whose key is quiet stays caught up through compaction and a restore', () => {
    const { d, hub, scheduler } = setup();
    const quiet = recorder();
    hub.watch({ key: bytes('quiet') }, quiet.callback);
    for (let i = 0; i < 5; i++) d.put('busy', String(i)); // 2..6
    d.compact(6);
    // A restore re-checks every synced watcher against history: the quiet
    // one has seen everything up to 6, so compaction at 6 must not cancel it.
    d.store.restoreSnapshot(d.store.snapshot());
    scheduler.runAll();
    d.put('quiet', 'x');
    assert.deepEqual(quiet.events(), ['PUT quiet=x@7']);
    assert.equal(quiet.batches.some((b) => b.canceled), false);
  });

  it('a quiet watcher paused by a progress notification catches up from where it really stands', () => {
    const { d, hub, scheduler } = setup();
    let full = false;
    const r = recorder(() => !full);
    const watcher = hub.watch({ key: bytes('k'), progressNotify: true }, r.callback);
    for (let i = 0; i < 5; i++) d.put('other', String(i)); // 2..6
    d.compact(6);
    full = true;
    assert.equal(watcher.requestProgress(), true);
    full = false;
    watcher.resume();
    scheduler.runAll();
    d.put('k', 'v'); // 7
    assert.equal(r.batches.some((b) => b.canceled), false, 'not canceled for a compaction it had no events in');
    assert.deepEqual(r.events(), ['PUT k=v@7']);
  });

  it('waits for a future start revision', () => {
    const { d, hub } = setup();
    const r = recorder();
    hub.watch({ key: bytes('k'), startRevision: 4 }, r.callback);
    d.put('k', '1'); // 2
    d.put('k', '2'); // 3
    d.put('k', '3'); // 4
    assert.deepEqual(r.events(), ['PUT k=3@4']);
  });

  it('sends progress notifications only to caught-up watchers that asked', () => {
    const { d, hub, scheduler } = setup();
    d.put('k', '1');
    const wants = recorder();
    const watcher = hub.watch({ key: bytes('k'), progressNotify: true }, wants.callback);
    const silent = recorder();
    hub.watch({ key: bytes('k') }, silent.callback);
    const behind = recorder();
    const behindWatcher = hub.watch({ key: bytes('k'), startRevision: 1, progressNotify: true }, behind.callback);
    assert.equal(behindWatcher.requestProgress(), false);
    hub.notifyProgress();
    assert.equal(wants.batches.length, 1);
    assert.deepEqual(wants.batches[0], { watchId: watcher.id, header: { revision: 2 }, events: [], progressNotify: true });
    assert.equal(silent.batches.length, 0);
    assert.equal(behind.batches.length, 0);
    assert.equal(hub.progressRevision(), 2);
    scheduler.runAll();
    assert.equal(behindWatcher.requestProgress(), true);
    assert.equal(behind.batches.at(-1)!.progressNotify, true);
  });

  it('cancels a watcher whose callback throws without failing the apply', () => {
    const { d, hub } = setup();
    const seen: WatchBatch[] = [];
    hub.watch({ key: bytes('k') }, (batch) => {
      seen.push(batch);
      if (!batch.canceled) throw new Error('consumer broke');
    });
    assert.doesNotThrow(() => d.put('k', '1'));
    assert.equal(d.get('k')!.version, 1);
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.canceled, true);
    assert.match(seen[1]!.cancelReason!, /consumer broke/);
    assert.equal(hub.size, 0);
  });

  it('catches up with the default scheduler', async () => {
    const d = new Driver();
    const hub = new WatchHub(d.store);
    d.put('k', '1');
    const r = recorder();
    hub.watch({ key: bytes('k'), startRevision: 1 }, r.callback);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(r.events(), ['PUT k=1@2']);
    hub.close();
    d.put('k', '2');
    assert.equal(r.batches.length, 1);
  });

  it('replays a long history in bounded batches without losing events', () => {
    const { d, hub, scheduler } = setup(100);
    for (let i = 0; i < 25_000; i++) d.put(`k${i % 10}`, String(i));
    const r = recorder();
    hub.watch({ key: bytes('k'), rangeEnd: prefixEnd('k'), startRevision: 1 }, r.callback);
    scheduler.runAll();
    assert.equal(r.events().length, 25_000);
    assert.ok(r.batches.every((b) => b.events.length <= 100));
    const revisions = r.batches.flatMap((b) => b.events.map((e) => e.kv.modRevision));
    assert.ok(revisions.every((rev, i) => rev === i + 2));
  });

  it('shares catch-up work between watchers that are behind', () => {
    const { d, hub, scheduler } = setup(100);
    for (let i = 0; i < 30_000; i++) d.put('k', String(i));
    const first = recorder();
    const second = recorder();
    hub.watch({ key: bytes('k'), startRevision: 1 }, first.callback);
    hub.watch({ key: bytes('k'), startRevision: 1 }, second.callback);
    scheduler.runOne();
    const progress = [first.events().length, second.events().length];
    assert.ok(progress.every((n) => n > 0 && n < 30_000), `both advance a little: ${progress}`);
    scheduler.runAll();
    assert.deepEqual(first.events(), second.events());
    assert.equal(first.events().length, 30_000);
  });
});

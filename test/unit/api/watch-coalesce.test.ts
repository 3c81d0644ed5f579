// A watcher's events response that is still unwritten takes the events of
// later revisions committed in the same turn, or while a stream busy with
// fan-out waits out its gap (fewer, larger responses, as etcd sends a
// watcher behind by several revisions). Over real gRPC: every
// event arrives once, in revision order, a txn's events together, and no
// response or progress notification reports a revision below one already
// seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessCluster } from '../server/in-process-cluster.js';
import { watchClient } from './watch-fixture.js';

const TXNS = 60;
const KEYS_PER_TXN = 3;
const GROUP = 10;

// 20 watchers: responses coalesce only within an apply turn. 100: the
// stream is busy with fan-out (FAN_OUT_PACING), so its writes are spaced and
// responses may also coalesce across turns (how many depends on timing, so
// only the guarantees are asserted), with progress requests in between.
for (const WATCHERS of [20, 100]) {
test(`${WATCHERS} watchers on a stream: coalesced responses keep every event once, in order, whole revisions, monotonic headers`, async (t) => {
  const cluster = new InProcessCluster(1, { limits: { quotaBytes: 2 ** 31, requestTimeoutMs: 60_000, maxTxnOps: 128 } });
  t.after(() => cluster.close());
  await cluster.startAll();
  const server = (await cluster.waitForLeader()).server;

  const openWatch = await watchClient(t, server);

  type Msg = { watch_id: string; created: boolean; header: { revision: string }; events: { kv: { key: Buffer; mod_revision: string } }[] };
  const stream = openWatch();
  stream.on('error', () => {}); // the status event carries the outcome
  const perWatcher = new Map<string, { revisions: number[]; lastHeader: number }>();
  let coalesced = 0;
  let created = 0;
  let responses = 0;
  let lastProgress = 0;
  let maxSeen = 0;
  const allCreated = new Promise<void>((resolve) => {
    stream.on('data', (msg: Msg) => {
      const header = Number(msg.header.revision);
      if (msg.created) {
        if (++created === WATCHERS) resolve();
        return;
      }
      if (msg.watch_id === '-1') {
        assert.ok(header >= maxSeen, `progress at ${header} after an event at ${maxSeen}`);
        lastProgress = header;
        return;
      }
      responses++;
      const w = perWatcher.get(msg.watch_id) ?? { revisions: [], lastHeader: 0 };
      perWatcher.set(msg.watch_id, w);
      assert.ok(header >= w.lastHeader && header >= lastProgress, `header ${header} went back`);
      w.lastHeader = header;
      const before = w.revisions[w.revisions.length - 1] ?? 0;
      assert.ok(Number(msg.events[0]!.kv.mod_revision) > before, 'a revision split over two responses');
      if (new Set(msg.events.map((e) => e.kv.mod_revision)).size > 1) coalesced++;
      for (const e of msg.events) {
        const rev = Number(e.kv.mod_revision);
        assert.ok(rev <= header, `event at ${rev} under header ${header}`);
        w.revisions.push(rev);
        maxSeen = Math.max(maxSeen, rev);
      }
    });
  });
  for (let i = 0; i < WATCHERS; i++) stream.write({ create_request: { key: Buffer.from('c/'), range_end: Buffer.from('c0') } });
  await allCreated;

  // Concurrent txns commit several revisions per apply turn; progress requests land between the groups.
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const revisions: number[] = [];
  for (let g = 0; g < TXNS / GROUP; g++) {
    const commits: Promise<{ header: { revision: number } }>[] = [];
    for (let r = g * GROUP; r < (g + 1) * GROUP; r++) {
      const success = Array.from({ length: KEYS_PER_TXN }, (_, k) => ({ requestPut: { key: enc(`c/${r}/${k}`), value: enc('v') } }));
      commits.push(server.txn({ success }));
    }
    stream.write({ progress_request: {} });
    for (const res of await Promise.all(commits)) revisions.push(res.header.revision);
  }
  revisions.sort((a, b) => a - b);
  const want = revisions.flatMap((rev) => Array<number>(KEYS_PER_TXN).fill(rev));
  const deadline = Date.now() + 10_000;
  while ([...perWatcher.values()].reduce((n, w) => n + w.revisions.length, 0) < WATCHERS * want.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const ended = new Promise((resolve) => stream.on('status', resolve));
  stream.end();
  await ended;
  assert.equal(perWatcher.size, WATCHERS);
  for (const [id, w] of perWatcher) assert.deepEqual(w.revisions, want, `watcher ${id}`);
  assert.ok(responses <= WATCHERS * TXNS, `${responses} responses for ${WATCHERS * TXNS} watcher-revisions`);
  assert.ok(coalesced > 0, "no response carried several revisions: the test no longer exercises coalescing");
  t.diagnostic(`${responses} responses, ${coalesced} of them with several revisions`);
});
}

// A follower that was down while the leader's log outgrew its memory budget
// catches up from entries the leader reads back out of its WAL (committed
// payloads past the budget are not kept in memory: node/storage/README.md),
// and ends with the same state as the leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessCluster } from './in-process-cluster.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

test('a follower catches up on entries the leader spilled to its WAL, and ends with the same keys', async (t) => {
  // 64 KiB of payloads in memory against ~600 KB written while the follower is down;
  // no snapshot meanwhile, so the leader must send every entry from its log.
  const cluster = new InProcessCluster(3, { logMemoryBytes: 64 * 1024, snapshotCount: 1_000_000, walSegmentBytes: 256 * 1024 });
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const follower = [...cluster.members].find(([, m]) => m !== leader)![0];
  await cluster.stop(follower);
  const value = 'v'.repeat(250);
  for (let i = 0; i < 2000; i++) await cluster.putThroughLeader(`key/${String(i).padStart(5, '0')}`, `${value}${i}`);
  const now = await cluster.waitForLeader();
  const held = now.storage.retainedLog();
  assert.ok(held.entries >= 2000, `the leader retains ${held.entries} entries`);
  assert.ok(held.bytes <= 64 * 1024 + 2 * 256 * 1024, `the leader holds ${held.bytes} bytes of payload in memory`);

  const back = await cluster.start(follower);
  const target = now.server.store.revision;
  const deadline = Date.now() + 20_000;
  while (back.server.store.revision < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(back.server.store.revision, target, 'the follower reached the leader\'s revision');
  for (const i of [0, 1, 999, 1998, 1999]) {
    const key = `key/${String(i).padStart(5, '0')}`;
    const got = back.server.store.range({ key: bytes(key) });
    assert.equal(Buffer.from(got.kvs[0]!.value).toString(), `${value}${i}`, key);
  }
  assert.equal(back.server.store.keyCount, now.server.store.keyCount);
});

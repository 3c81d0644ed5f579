import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessCluster, bytes } from './in-process-cluster.js';

function bytesUnder(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

test('Defragment snapshots the state at once, so deleted and compacted data leaves the disk with the WAL it covered', async (t) => {
  const cluster = new InProcessCluster(1, { snapshotCount: 1_000_000, snapshotCatchUpEntries: 10, walSegmentBytes: 256 * 1024 });
  t.after(() => cluster.close());
  await cluster.startAll();
  const member = await cluster.waitForLeader();
  const dataDir = cluster.config('m1').dataDir;
  const onDisk = (): number => bytesUnder(join(dataDir, 'wal')) + bytesUnder(join(dataDir, 'snap'));

  const value = new Uint8Array(8 * 1024).fill(0x5a);
  for (let i = 0; i < 400; i++) await member.server.put({ key: bytes(`big/${String(i).padStart(3, '0')}`), value });
  const deleted = await member.server.deleteRange({ key: bytes('big/'), rangeEnd: bytes('big0') });
  assert.equal(deleted.deleted, 400);
  await member.server.compact(deleted.header.revision, true);
  const before = onDisk();
  assert.ok(before > 400 * 8 * 1024, `the WAL holds what was written (${before} bytes)`);
  assert.equal(member.storage.snapshot().meta.index, 0, 'no snapshot yet (--snapshot-count was not reached)');

  const result = await member.server.defragment();
  assert.equal(result.snapshotIndex, member.node.applied, 'a snapshot of the applied state');
  assert.equal(member.storage.snapshot().meta.index, result.snapshotIndex, 'it is the member’s durable snapshot');
  const after = onDisk();
  t.diagnostic(`WAL + snapshot files: ${before} bytes before Defragment, ${after} after (snapshot ${result.snapshotBytes} bytes)`);
  assert.ok(after < before / 4, `disk use went from ${before} to ${after} bytes`);
  assert.ok(result.snapshotBytes! < 64 * 1024, `the snapshot holds no deleted data (${result.snapshotBytes} bytes)`);

  // Nothing applied since: a second defragment has nothing to do.
  assert.deepEqual(await member.server.defragment(), {});
  assert.equal((await member.server.range({ key: bytes('big/'), rangeEnd: bytes('big0') })).count, 0);

  // The member restarts from what defragment left.
  await cluster.stop('m1');
  const again = await cluster.start('m1');
  await cluster.waitForLeader();
  await again.server.put({ key: bytes('after'), value: bytes('restart') });
  assert.equal((await again.server.range({ key: bytes('after') })).count, 1);
  assert.equal(again.server.store.compactRevision, deleted.header.revision);
});

test('a snapshot many encoding chunks long is written whole, though its chunks are filled again as it goes', async (t) => {
  const cluster = new InProcessCluster(1, { snapshotCount: 1_000_000 });
  t.after(() => cluster.close());
  await cluster.startAll();
  const member = await cluster.waitForLeader();
  // About 3 MiB of state: some fifty 64 KiB chunks, each distinct.
  for (let i = 0; i < 3000; i++) {
    await member.server.put({ key: bytes(`k/${String(i).padStart(4, '0')}`), value: new Uint8Array(1024).fill(i % 251) });
  }
  const before = await member.server.hashKv(0);
  const result = await member.server.defragment();
  assert.ok(result.snapshotBytes! > 3000 * 1024, `the snapshot holds the keys (${result.snapshotBytes} bytes)`);

  // The member restarts from that snapshot alone: the WAL it covered is gone.
  await cluster.stop('m1');
  const again = await cluster.start('m1');
  await cluster.waitForLeader();
  assert.equal(again.storage.snapshot().meta.index, result.snapshotIndex);
  assert.deepEqual(await again.server.hashKv(0), before, 'the same keys, values and revisions');
  const last = await again.server.range({ key: bytes('k/2999') });
  assert.deepEqual(last.kvs[0]!.value, new Uint8Array(1024).fill(2999 % 251));
});

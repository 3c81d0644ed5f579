// The fault switches of the chaos CLI, the weighted pick, and the torn WAL
// tail the nemesis writes (a member must cut it away and keep every whole
// record before it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskStorage } from '../../node/storage/raft-storage.js';
import { Rng } from '../sim/rng.js';
import { entries, silentLogger, withTempDir } from '../unit/storage/helpers.js';
import { FAULT_KINDS, parseFaults, pickFault, type FaultKind } from './faults.js';
import { tearWalTail } from './wal-tear.js';

test('--faults: all, none, a list; an unknown kind is an error naming the known ones', () => {
  assert.deepEqual(parseFaults('all'), [...FAULT_KINDS]);
  assert.deepEqual(parseFaults('none'), []);
  assert.deepEqual(parseFaults('kill, partition,kill'), ['kill', 'partition']);
  assert.throws(() => parseFaults('kill,fire'), /unknown fault "fire" \(known: kill, kill-all, stop/);
});

test('the pick covers every kind switched on, never one switched off, and leaves room for quiet spells', () => {
  const rng = new Rng(5);
  const on: FaultKind[] = ['kill', 'membership', 'delay'];
  const seen = new Map<FaultKind | undefined, number>();
  for (let i = 0; i < 2000; i++) {
    const k = pickFault(on, rng.next());
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].filter((k) => k !== undefined).sort(), [...on].sort());
  assert.ok((seen.get(undefined) ?? 0) > 100, 'quiet spells');
  assert.equal(pickFault([], 0.3), undefined);
});

test('a torn tail written after kill -9 is cut away on open; every whole record before it stays', async () => {
  await withTempDir(async (dir) => {
    const options = { memberId: 1, clusterId: 7, logger: silentLogger };
    const storage = await DiskStorage.open(dir, options);
    await storage.save({ term: 2, vote: 1, commit: 10 }, entries(1, 10, 2));
    await storage.close();
    const segment = (await readdir(join(dir, 'wal'))).sort().pop()!;
    const before = (await stat(join(dir, 'wal', segment))).size;
    const torn = await tearWalTail(dir, 0.5);
    assert.ok(torn, 'a segment to tear');
    assert.equal(torn.offset, before);
    assert.ok(torn.bytes > 0);
    assert.equal((await stat(join(dir, 'wal', segment))).size, before + torn.bytes);
    const reopened = await DiskStorage.open(dir, options);
    try {
      assert.equal(reopened.lastIndex(), 10);
      assert.equal(reopened.initialState().hardState.commit, 10);
    } finally {
      await reopened.close();
    }
    assert.equal((await stat(join(dir, 'wal', segment))).size, before, 'the partial record was truncated away');
  });
});

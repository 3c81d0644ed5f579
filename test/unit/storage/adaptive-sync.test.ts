// Where WAL fsyncs run: on the calling thread while they are fast, in the
// thread pool while they are slow or after a stall.
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { adaptiveSync } from '../../../node/storage/adaptive-sync.js';
import { syncFileDataHere, type SyncFile } from '../../../node/storage/durable-fs.js';
import { withTempDir } from './helpers.js';

/** A clock the test moves, and fsyncs that take as long as the test says. */
function rig(): { clock: { t: number }; calls: string[]; took: { here: number }; here: SyncFile; pool: SyncFile } {
  const clock = { t: 0 };
  const calls: string[] = [];
  const took = { here: 0.5 };
  return {
    clock,
    calls,
    took,
    here: async () => {
      calls.push('here');
      clock.t += took.here;
    },
    pool: async () => {
      calls.push('pool');
    },
  };
}

const FILE = {} as FileHandle;
const options = { slowAverageMs: 2, stallMs: 10, stallHoldMs: 1000, probeEvery: 4 };

test('fsyncs run here while fast; a slow average moves them to the pool, where probes bring them back once fast', async () => {
  const r = rig();
  const a = adaptiveSync({ ...options, here: r.here, pool: r.pool, now: () => r.clock.t });
  for (let i = 0; i < 3; i++) await a.sync(FILE);
  assert.deepEqual(r.calls.splice(0), ['here', 'here', 'here']);
  // A disk whose flushes take 5 ms: each is below a stall, but the average
  // passes 2 ms after a few of them.
  r.took.here = 5;
  let slow = 0;
  while (r.calls.at(-1) !== 'pool' && slow < 20) {
    await a.sync(FILE);
    slow += 1;
  }
  assert.ok(slow > 1 && slow < 10, `moved to the pool after ${slow} slow fsyncs`);
  r.calls.splice(0);
  // In the pool, one fsync in four (counting the one above) is a probe
  // made here; while probes stay slow, so does the choice.
  for (let i = 0; i < 8; i++) await a.sync(FILE);
  assert.deepEqual(r.calls.splice(0), ['pool', 'pool', 'here', 'pool', 'pool', 'pool', 'here', 'pool']);
  // The disk is fast again: fast probes pull the average under 1 ms, and fsyncs return here.
  r.took.here = 0.2;
  for (let i = 0; i < 200 && !(r.calls.length >= 3 && r.calls.slice(-3).every((c) => c === 'here')); i++) await a.sync(FILE);
  assert.deepEqual(r.calls.slice(-3), ['here', 'here', 'here']);
  const { here, pool } = a.counts();
  assert.equal(here + pool, 3 + slow + 8 + r.calls.length);
});

test('one stalled fsync sends every fsync to the pool, probes included, until the hold ends', async () => {
  const r = rig();
  const a = adaptiveSync({ ...options, here: r.here, pool: r.pool, now: () => r.clock.t });
  await a.sync(FILE);
  r.took.here = 12;
  await a.sync(FILE);
  r.took.here = 0.5;
  for (let i = 0; i < 6; i++) {
    r.clock.t += 100;
    await a.sync(FILE);
  }
  r.clock.t += 1000;
  await a.sync(FILE);
  assert.deepEqual(r.calls, ['here', 'here', 'pool', 'pool', 'pool', 'pool', 'pool', 'pool', 'here']);
});

test('a failed fsync here rejects (never throws synchronously) and is still timed', async () => {
  const r = rig();
  let fail = true;
  const here: SyncFile = async (file) => {
    await r.here(file);
    if (fail) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
  };
  r.took.here = 50;
  const a = adaptiveSync({ ...options, here, pool: r.pool, now: () => r.clock.t });
  await assert.rejects(a.sync(FILE), /EIO/);
  fail = false;
  await a.sync(FILE);
  assert.deepEqual(r.calls, ['here', 'pool']);
});

test('syncFileDataHere flushes a real file and reports a bad descriptor as a rejection', async () => {
  await withTempDir(async (dir) => {
    const file = await open(join(dir, 'f'), 'w');
    await file.write(Buffer.from('durable'));
    await syncFileDataHere(file);
    await file.close();
    // A descriptor number that names no open file.
    const closedFd = openSync(join(dir, 'g'), 'w');
    closeSync(closedFd);
    const rejected = syncFileDataHere({ fd: closedFd } as FileHandle);
    assert.ok(rejected instanceof Promise, 'returns a promise even when the fsync fails');
    await assert.rejects(rejected, (err: NodeJS.ErrnoException) => err.code === 'EBADF');
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import {
  ackBeforeFsyncDelayMs,
  backendCommitStall,
  FailpointError,
  failpointsFromEnv,
  localReads,
  parseFailpoints,
  setFailpoints,
  watchEventDropper,
  withFsyncFailpoint,
} from '../../node/failpoints.js';

test('failpoints are honoured only with KVORUM_TEST_FAILPOINTS=1', () => {
  assert.equal(failpointsFromEnv({ KVORUM_FAILPOINTS: 'local-read=on' }).size, 0);
  assert.deepEqual([...failpointsFromEnv({ KVORUM_TEST_FAILPOINTS: '1', KVORUM_FAILPOINTS: 'local-read=on, wal-fsync=delay:50' })], [
    ['local-read', 'on'],
    ['wal-fsync', 'delay:50'],
  ]);
});

test('an unknown failpoint or a missing action is an error naming it', () => {
  assert.throws(() => parseFailpoints('wal-fsnyc=fail'), (err: unknown) => err instanceof FailpointError && /unknown failpoint "wal-fsnyc"/.test(err.message));
  assert.throws(() => parseFailpoints('local-read'), /needs an action/);
});

test('wal-fsync: delay stalls each fsync, fail-after:N fails from the N+1th on with EIO', async (t) => {
  t.after(() => setFailpoints(undefined));
  let synced = 0;
  const base = async (): Promise<void> => {
    synced++;
  };
  const handle = {} as FileHandle;
  setFailpoints(new Map());
  assert.equal(withFsyncFailpoint(base), base, 'off: the fsync is untouched');

  setFailpoints(parseFailpoints('wal-fsync=delay:60'));
  const started = performance.now();
  await withFsyncFailpoint(base)(handle);
  assert.ok(performance.now() - started >= 55, 'the fsync was delayed');
  assert.equal(synced, 1);

  setFailpoints(parseFailpoints('wal-fsync=fail-after:2'));
  const failing = withFsyncFailpoint(base);
  await failing(handle);
  await failing(handle);
  await assert.rejects(failing(handle), (err: unknown) => (err as { code?: string }).code === 'EIO');
  assert.equal(synced, 3);

  setFailpoints(parseFailpoints('wal-fsync=sometimes'));
  assert.throws(() => withFsyncFailpoint(base), /expected delay:MS, fail or fail-after:N/);
});

test('the broken-member failpoints: ack-before-fsync, local-read, drop-watch-event', (t) => {
  t.after(() => setFailpoints(undefined));
  setFailpoints(new Map());
  assert.equal(ackBeforeFsyncDelayMs(), undefined);
  assert.equal(localReads(), false);
  assert.equal(watchEventDropper(), undefined);

  setFailpoints(parseFailpoints('ack-before-fsync=delay:200,local-read=on,drop-watch-event=3'));
  assert.equal(ackBeforeFsyncDelayMs(), 200);
  assert.equal(localReads(), true);
  const drop = watchEventDropper()!;
  assert.deepEqual([drop(), drop(), drop(), drop(), drop()], [false, false, true, false, false]);
});

test('backend-commit: delay holds the caller MS; off, there is nothing to call', (t) => {
  t.after(() => setFailpoints(undefined));
  setFailpoints(new Map());
  assert.equal(backendCommitStall(), undefined);

  setFailpoints(parseFailpoints('backend-commit=delay:60'));
  const stall = backendCommitStall()!;
  const started = performance.now();
  stall();
  assert.ok(performance.now() - started >= 55, 'the commit was held');

  setFailpoints(parseFailpoints('backend-commit=slow'));
  assert.throws(() => backendCommitStall(), /backend-commit=slow: expected delay:MS/);
});

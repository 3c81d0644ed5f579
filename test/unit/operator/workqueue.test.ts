import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue } from '../../../operator/runtime/workqueue.js';

test('a key added several times while waiting is handed out once', async () => {
  const q = new WorkQueue();
  q.add('ns/a');
  q.add('ns/b');
  q.add('ns/a');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'ns/a');
  assert.equal(await q.get(), 'ns/b');
  assert.equal(q.length, 0);
});

test('a key added while it is processed is not handed to a second worker, but comes back after done', async () => {
  const q = new WorkQueue();
  q.add('ns/a');
  const k = await q.get();
  q.add('ns/a');
  assert.equal(q.length, 0, 'not queued while processing');
  let second: string | undefined;
  void q.get().then((v) => (second = v));
  await new Promise((r) => setImmediate(r));
  assert.equal(second, undefined);
  q.done(k as string);
  await new Promise((r) => setImmediate(r));
  assert.equal(second, 'ns/a');
});

test('failures back off exponentially up to the cap, forget resets', () => {
  const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
  assert.deepEqual([1, 2, 3, 4].map(() => q.addRateLimited('k')), [10, 20, 40, 50]);
  assert.equal(q.failureCount('k'), 4);
  q.forget('k');
  assert.equal(q.addRateLimited('k'), 10);
  q.shutDown();
});

test('addAfter delivers the key later; the earliest of two delays wins', async () => {
  const q = new WorkQueue();
  const keepAlive = setTimeout(() => {}, 1000); // the queue's own timers do not hold the process open
  q.addAfter('k', 200);
  q.addAfter('k', 20);
  const t0 = Date.now();
  assert.equal(await q.get(), 'k');
  const waited = Date.now() - t0;
  assert.ok(waited >= 15 && waited < 150, `waited ${waited} ms`);
  clearTimeout(keepAlive);
  q.shutDown();
});

test('shutDown wakes waiting workers with undefined', async () => {
  const q = new WorkQueue();
  const p = q.get();
  q.shutDown();
  assert.equal(await p, undefined);
});

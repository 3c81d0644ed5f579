import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerError } from '../../../node/server/errors.js';
import { RequestIds } from '../../../node/server/ids.js';
import { Waiters } from '../../../node/server/waiters.js';

const SELF = 7;

test('a waiter gets the result of its own request, and only from entries this member proposed', async () => {
  let ok = 0;
  const waiters = new Waiters(SELF, { onSucceeded: () => ok++ });
  const answer = waiters.wait(42, 1, Date.now() + 10_000);
  waiters.settle(8, 42, 'another member’s request 42');
  assert.equal(waiters.size, 1, 'an entry from another member settles nothing here');
  waiters.settle(SELF, 42, 'mine');
  assert.equal(await answer, 'mine');
  assert.equal(ok, 1);
  waiters.settle(SELF, 42, 'again');
  assert.equal(waiters.size, 0);
});

test('waiters fail on their deadline, after a later term applied (past a grace), and when the member stops', async () => {
  let failed = 0;
  const waiters = new Waiters(SELF, { onFailed: () => failed++ });
  const now = Date.now();
  const early = waiters.wait(1, 1, now + 10);
  const underOld = waiters.wait(2, 1, now + 1000);
  const underNew = waiters.wait(3, 2, now + 1000);
  const lateButApplied = waiters.wait(4, 1, now + 1000);
  waiters.expire(now + 20);
  await assert.rejects(early, (err: unknown) => err instanceof ServerError && err.code === 'DEADLINE_EXCEEDED' && err.message === 'etcdserver: request timed out');
  waiters.newTermApplied(2, now + 20, 100);
  waiters.expire(now + 50);
  assert.equal(waiters.size, 3, 'within the grace, requests of the old term may still apply');
  waiters.settle(SELF, 4, 'forwarded to the new leader and applied');
  assert.equal(await lateButApplied, 'forwarded to the new leader and applied');
  waiters.newTermApplied(2, now + 60, 100);
  waiters.expire(now + 121);
  await assert.rejects(underOld, (err: unknown) => err instanceof ServerError && err.code === 'UNAVAILABLE' && err.message === 'etcdserver: leader changed');
  assert.equal(waiters.size, 1, 'the request proposed in the new term still waits');
  waiters.failAll(new ServerError('UNAVAILABLE', 'etcdserver: server stopped'));
  await assert.rejects(underNew, /server stopped/);
  assert.equal(failed, 2, 'deadline and leader change count as failed proposals');
});

test('request IDs increase, stay exact as numbers, and a later run starts above an earlier one even after many requests', () => {
  const start = Date.UTC(2025, 5, 1);
  const first = new RequestIds(start);
  let last = 0;
  for (let i = 0; i < 100_000; i++) {
    const id = first.next();
    assert.ok(id > last);
    last = id;
  }
  // 100,000 requests, then a restart 100 ms later: the new run's first ID is above them all.
  const second = new RequestIds(start + 100);
  assert.ok(second.next() > last, 'a restart never reuses an ID');
  assert.ok(Number.isSafeInteger(new RequestIds(Date.UTC(2150, 0, 1)).next()), 'still below 2^53 in 2150');
});

test('as etcd counts proposals: one applied with an error answer committed; one Raft dropped failed', async () => {
  let committed = 0;
  let failed = 0;
  const waiters = new Waiters(SELF, { onSucceeded: () => committed++, onFailed: () => failed++ });
  const compacted = waiters.wait(1, 1, Date.now() + 10_000);
  const dropped = waiters.wait(2, 1, Date.now() + 10_000);
  waiters.settle(SELF, 1, undefined, new ServerError('OUT_OF_RANGE', 'etcdserver: mvcc: required revision has been compacted'));
  await assert.rejects(compacted, /compacted/);
  waiters.drop(2, new ServerError('UNAVAILABLE', 'etcdserver: raft proposal dropped'));
  await assert.rejects(dropped, /proposal dropped/);
  assert.deepEqual({ committed, failed }, { committed: 1, failed: 1 });
  waiters.drop(2, new ServerError('UNAVAILABLE', 'again'));
  assert.equal(failed, 1, 'a waiter already answered is not counted twice');
});

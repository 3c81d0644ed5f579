// The lock and election recipes over an in-memory store and watch hub: the
// order contenders get their turn, what a lost lease or a canceled caller
// does to the queue, and the leader's view through Leader and Observe.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WatchHub } from '../../../node/mvcc/watch.js';
import type { KeyValue } from '../../../node/mvcc/types.js';
import { prefixEnd, waitDeletes, type Keyspace } from '../../../node/api/grpc/key-queue.js';
import { ERR_SESSION_EXPIRED, lock } from '../../../node/api/grpc/lock-service.js';
import { ERR_NOT_LEADER, ERR_NO_LEADER, campaign, currentLeader, observe, proclaim, resign } from '../../../node/api/grpc/election-service.js';
import { CallCancelled } from '../../../node/api/grpc/recipe-call.js';
import { Driver, bytes, text } from '../mvcc/helpers.js';

function memoryKeyspace(): { d: Driver; ks: Keyspace } {
  const d = new Driver();
  const hub = new WatchHub(d.store);
  let nextLease = 0x100n;
  const ks: Keyspace = {
    range: (r) => Promise.resolve(d.store.range(r)),
    txn: (t) => Promise.resolve().then(() => d.txn(t)),
    deleteRange: (r) => Promise.resolve().then(() => d.apply({ deleteRange: r })),
    leaseGrant: (ttl) => {
      const id = nextLease++;
      d.grant(id, ttl);
      return Promise.resolve({ id });
    },
    watch: (r, cb) => hub.watch(r, cb),
  };
  return { d, ks };
}

const never = new AbortController().signal;
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

test('prefixEnd: the next prefix, without changing the caller\'s bytes', () => {
  const p = Buffer.from('L/');
  assert.deepEqual(Buffer.from(prefixEnd(p)), Buffer.from('L0'));
  assert.equal(p.toString(), 'L/', 'the prefix is untouched (Buffer.slice would be a view)');
  assert.deepEqual([...prefixEnd(Uint8Array.of(0x61, 0xff))], [0x62]);
  assert.deepEqual([...prefixEnd(Uint8Array.of(0xff, 0xff))], [0]);
});

test('lock: the second locker waits until the first unlocks, the third until the second', async () => {
  const { d, ks } = memoryKeyspace();
  d.grant(1);
  d.grant(2);
  d.grant(3);
  const order: string[] = [];
  const a = await lock(ks, bytes('L'), 1n, never);
  assert.equal(text(a.key), 'L/1');
  const b = lock(ks, bytes('L'), 2n, never).then((r) => order.push(`b:${text(r.key)}`));
  const c = lock(ks, bytes('L'), 3n, never).then((r) => order.push(`c:${text(r.key)}`));
  await tick();
  assert.deepEqual(order, [], 'both wait while the first holds the lock');
  d.del('L/1');
  await b;
  await tick();
  assert.deepEqual(order, ['b:L/2'], 'only the next in line gets it');
  d.del('L/2');
  await c;
  assert.deepEqual(order, ['b:L/2', 'c:L/3']);
});

test('lock: the same lease asking again keeps its key and its place', async () => {
  const { d, ks } = memoryKeyspace();
  d.grant(1);
  const first = await lock(ks, bytes('L'), 1n, never);
  const created = d.get('L/1')!.createRevision;
  const again = await lock(ks, bytes('L'), 1n, never);
  assert.equal(text(again.key), text(first.key));
  assert.equal(d.get('L/1')!.createRevision, created);
});

test('lock: a lease revoked while waiting ends the wait with etcd\'s "session is expired"; the next waiter is unaffected', async () => {
  const { d, ks } = memoryKeyspace();
  for (const id of [1, 2, 3]) d.grant(id);
  await lock(ks, bytes('L'), 1n, never);
  const waiting = lock(ks, bytes('L'), 2n, never);
  let thirdHolds = false;
  const third = lock(ks, bytes('L'), 3n, never).then(() => (thirdHolds = true));
  await tick();
  d.revoke(2);
  await assert.rejects(waiting, (err: Error) => err.message === ERR_SESSION_EXPIRED);
  await tick();
  assert.equal(thirdHolds, false, 'the holder still holds it');
  d.revoke(1);
  await third;
  assert.equal(thirdHolds, true, 'revoking the holder\'s lease releases the lock');
});

test('lock: a canceled caller leaves the queue', async () => {
  const { d, ks } = memoryKeyspace();
  d.grant(1);
  d.grant(2);
  await lock(ks, bytes('L'), 1n, never);
  const abort = new AbortController();
  const waiting = lock(ks, bytes('L'), 2n, abort.signal);
  await tick();
  assert.ok(d.get('L/2'), 'queued');
  abort.abort(new CallCancelled('context canceled'));
  await assert.rejects(waiting, CallCancelled);
  await tick();
  assert.equal(d.get('L/2'), undefined, 'its key is deleted');
});

test('lock: lease 0 gets a fresh session lease; an unknown lease is refused and writes nothing', async () => {
  const { d, ks } = memoryKeyspace();
  const held = await lock(ks, bytes('Z'), 0n, never);
  assert.equal(text(held.key), 'Z/100');
  assert.equal(d.get('Z/100')!.lease, 0x100n);
  const before = d.store.revision;
  await assert.rejects(lock(ks, bytes('Z'), 999n, never), /requested lease not found/);
  assert.equal(d.store.revision, before);
});

test('waitDeletes: waits only for keys created at or below the given revision', async () => {
  const { d, ks } = memoryKeyspace();
  d.put('p/a', '1');
  d.put('p/b', '2');
  const a = d.get('p/a')!.createRevision;
  const none = await waitDeletes(ks, bytes('p/'), a - 1, never);
  assert.equal(none.kvs.length, 0, 'nothing older than p/a');
  let over = false;
  const waiting = waitDeletes(ks, bytes('p/'), d.get('p/b')!.createRevision - 1, never).then(() => (over = true));
  await tick();
  assert.equal(over, false, 'p/a is still there');
  d.put('p/a', 'changed');
  await tick();
  assert.equal(over, false, 'a put is no deletion');
  d.del('p/a');
  await waiting;
  assert.ok(d.get('p/b'), 'its own key is no predecessor');
});

test('election: campaign, leader, proclaim, resign and the next candidate', async () => {
  const { d, ks } = memoryKeyspace();
  d.grant(1);
  d.grant(2);
  await assert.rejects(currentLeader(ks, bytes('E')), (err: Error) => err.message === ERR_NO_LEADER);
  const alice = await campaign(ks, bytes('E'), 1n, bytes('alice'), never);
  assert.equal(text(alice.leader.key), 'E/1');
  assert.equal(alice.leader.rev, d.get('E/1')!.createRevision);
  let bobLeads = false;
  const bob = campaign(ks, bytes('E'), 2n, bytes('bob'), never).then((r) => ((bobLeads = true), r));
  assert.equal(text((await currentLeader(ks, bytes('E'))).kv.value), 'alice');
  await proclaim(ks, alice.leader, bytes('alice-2'));
  assert.equal(text((await currentLeader(ks, bytes('E'))).kv.value), 'alice-2');
  await assert.rejects(proclaim(ks, { ...alice.leader, rev: 1 }, bytes('x')), (err: Error) => err.message === ERR_NOT_LEADER);
  await tick();
  assert.equal(bobLeads, false);
  await resign(ks, { ...alice.leader, rev: 1 });
  assert.ok(d.get('E/1'), 'a resign for another term deletes nothing');
  await resign(ks, alice.leader);
  const b = await bob;
  assert.equal(text(b.leader.key), 'E/2');
  assert.equal(text((await currentLeader(ks, bytes('E'))).kv.value), 'bob');
  await assert.rejects(proclaim(ks, alice.leader, bytes('late')), (err: Error) => err.message === ERR_NOT_LEADER);
});

test('election: observe reports the leader, its new values, and the next leader after a resign', async () => {
  const { d, ks } = memoryKeyspace();
  d.grant(1);
  d.grant(2);
  const seen: string[] = [];
  const abort = new AbortController();
  const done = observe(ks, bytes('E'), abort.signal, (_rev: number, kv: KeyValue) => seen.push(`${text(kv.key)}=${text(kv.value)}`));
  await tick();
  const alice = await campaign(ks, bytes('E'), 1n, bytes('a1'), never);
  const bob = campaign(ks, bytes('E'), 2n, bytes('b1'), never);
  await tick();
  await proclaim(ks, alice.leader, bytes('a2'));
  await tick();
  await resign(ks, alice.leader);
  await bob;
  await tick();
  abort.abort(new CallCancelled('context canceled'));
  await done;
  assert.deepEqual(seen, ['E/1=a1', 'E/1=a2', 'E/2=b1']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessCluster, bytes, text } from './in-process-cluster.js';
import { ServerError } from '../../../node/server/errors.js';
import { decodeEntry } from '../../../node/server/entry.js';
import { EntryType } from '../../../node/raft/types.js';

test('a 3-member cluster on disk: writes through any member, linearizable reads, restart from disk', async (t) => {
  const cluster = new InProcessCluster(3);
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const follower = [...cluster.members.values()].find((m) => m !== leader)!;

  const put = await follower.server.put({ key: bytes('greeting'), value: bytes('hello') });
  assert.equal(put.header.revision, 2, 'the first write makes revision 2');
  for (const m of cluster.members.values()) {
    const r = await m.server.range({ key: bytes('greeting') });
    assert.equal(text(r.kvs[0]!.value), 'hello', 'every member reads its own write linearizably');
  }
  const txn = await leader.server.txn({
    compare: [{ key: bytes('greeting'), target: 'VALUE', result: 'EQUAL', value: bytes('hello') }],
    success: [{ requestPut: { key: bytes('greeting'), value: bytes('bye') } }],
  });
  assert.equal(txn.succeeded, true);

  // The members published their names once a leader was known.
  const members = await leader.server.memberList();
  assert.deepEqual(members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);

  // Restart a follower from its data dir: its state comes back.
  const name = [...cluster.members.entries()].find(([, m]) => m === follower)![0];
  await cluster.stop(name);
  await leader.server.put({ key: bytes('while-down'), value: bytes('1') });
  const again = await cluster.start(name);
  const r = await again.server.range({ key: bytes('while-down') });
  assert.equal(text(r.kvs[0]!.value), '1', 'the restarted member caught up');
  assert.equal(text((await again.server.range({ key: bytes('greeting') })).kvs[0]!.value), 'bye');
});

test('leader failure: a new leader is elected and acknowledged writes survive', async (t) => {
  const cluster = new InProcessCluster(3);
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  for (let i = 0; i < 20; i++) await leader.server.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) });
  const leaderName = [...cluster.members.entries()].find(([, m]) => m === leader)![0];
  await cluster.stop(leaderName);
  const next = await cluster.waitForLeader();
  assert.notEqual(next.memberId, leader.memberId);
  const all = await next.server.range({ key: bytes('k'), rangeEnd: bytes('l') });
  assert.equal(all.count, 20, 'every acknowledged write is on the new leader');
  await next.server.put({ key: bytes('after'), value: bytes('x') });
});

test('leases: grant, keep-alive, time-to-live, revoke deletes attached keys', async (t) => {
  const cluster = new InProcessCluster(3);
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const follower = [...cluster.members.values()].find((m) => m !== leader)!;
  const grant = await follower.server.leaseGrant(30);
  assert.ok(grant.id > 0);
  await follower.server.put({ key: bytes('leased'), value: bytes('v'), lease: grant.id });
  assert.equal(await follower.server.leaseKeepAlive(grant.id), 30);
  const ttl = await leader.server.leaseTimeToLive(grant.id, true);
  assert.equal(ttl.grantedTtl, 30);
  assert.ok(ttl.ttl > 25 && ttl.ttl <= 30);
  assert.deepEqual(ttl.keys.map(text), ['leased']);
  await follower.server.leaseRevoke(grant.id);
  assert.equal((await leader.server.range({ key: bytes('leased') })).count, 0);
  await assert.rejects(follower.server.leaseKeepAlive(grant.id), (err: unknown) => err instanceof ServerError && /lease not found/.test(err.message));
});

test('an expired lease is revoked by the leader through the log', async (t) => {
  const cluster = new InProcessCluster(3, { electionMs: 100 });
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const grant = await leader.server.leaseGrant(1);
  await leader.server.put({ key: bytes('ephemeral'), value: bytes('v'), lease: grant.id });
  const deadline = Date.now() + 5000;
  let count = 1;
  while (Date.now() < deadline && count > 0) {
    await new Promise((r) => setTimeout(r, 100));
    count = (await leader.server.range({ key: bytes('ephemeral') })).count;
  }
  assert.equal(count, 0, 'the key went away with its lease');
});

test('errors: compacted revisions, unknown leases, bad txn, and nothing changes', async (t) => {
  const cluster = new InProcessCluster(1);
  t.after(() => cluster.close());
  await cluster.startAll();
  const m = await cluster.waitForLeader();
  for (let i = 0; i < 5; i++) await m.server.put({ key: bytes('a'), value: bytes(String(i)) });
  await m.server.compact(4);
  await assert.rejects(m.server.range({ key: bytes('a'), revision: 2 }), /required revision has been compacted/);
  await assert.rejects(m.server.put({ key: bytes('x'), value: bytes('y'), lease: 12345n }), /requested lease not found/);
  await assert.rejects(
    m.server.txn({ success: [{ requestPut: { key: bytes('d'), value: bytes('1') } }, { requestPut: { key: bytes('d'), value: bytes('2') } }] }),
    /duplicate key given in txn request/,
  );
  assert.equal((await m.server.range({ key: bytes('d') })).count, 0);
  assert.equal((await m.server.range({ key: bytes('x') })).count, 0);
});

test('membership: add a learner, refuse promoting it before it exists, remove it', async (t) => {
  const cluster = new InProcessCluster(3);
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const { member } = await leader.server.memberAdd(['http://m4:2380'], true);
  assert.equal(member.isLearner, true);
  assert.equal((await leader.server.memberList()).length, 4);
  await assert.rejects(leader.server.memberAdd(['http://m4:2380'], false), /Peer URLs already exists/);
  await assert.rejects(leader.server.memberPromote(member.id), /in sync with leader/);
  await leader.server.memberRemove(member.id);
  assert.equal((await leader.server.memberList()).length, 3);
  await assert.rejects(leader.server.memberRemove(member.id), /member was removed/);
});

test('snapshots: a member restarts from its snapshot, and one that was down catches up by snapshot', async (t) => {
  const cluster = new InProcessCluster(3, { snapshotCount: 20, snapshotCatchUpEntries: 5 });
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const lagging = [...cluster.members.entries()].find(([, m]) => m !== leader)![0];
  await cluster.stop(lagging);
  for (let i = 0; i < 60; i++) await cluster.putThroughLeader(`s${i}`, `${i}`);
  const current = await cluster.waitForLeader();
  assert.ok(current.storage.snapshot().meta.index > 0, 'the leader took a snapshot');
  const back = await cluster.start(lagging);
  const r = await back.server.range({ key: bytes('s'), rangeEnd: bytes('t') });
  assert.equal(r.count, 60);
  assert.ok(back.storage.snapshot().meta.index > 0, 'the returning member installed a snapshot');
  assert.equal(back.server.store.revision, current.server.store.revision);
  assert.deepEqual(back.server.store.hash(), current.server.store.hash(), 'identical state');
});

test('the leader answers keep-alives without a log entry and shares them with followers in one batched entry', async (t) => {
  const cluster = new InProcessCluster(3);
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const follower = [...cluster.members.values()].find((m) => m !== leader)!;
  const grant = await leader.server.leaseGrant(30);
  const indexBefore = leader.storage.lastIndex();
  for (let i = 0; i < 20; i++) assert.equal(await leader.server.leaseKeepAlive(grant.id), 30);
  // The lease check (every 500 ms) proposes one entry for all of them.
  await new Promise((r) => setTimeout(r, 1300));
  const kinds = leader.storage
    .entries(indexBefore + 1, leader.storage.lastIndex() + 1)
    .filter((e) => e.type === EntryType.Normal && e.data.length > 0)
    .map((e) => Object.keys(decodeEntry(e.data).request)[0]);
  assert.equal(kinds.filter((k) => k === 'leaseRenew').length, 0, 'a keep-alive on the leader went through the log');
  assert.equal(kinds.filter((k) => k === 'leaseRenewBatch').length, 1, `expected one batched renewal, log holds ${kinds.join(',')}`);
  const ttl = await follower.server.leaseTimeToLive(grant.id, false);
  assert.ok(ttl.ttl > 27 && ttl.ttl <= 30, `follower TTL ${ttl.ttl}`);
});

test('a member whose storage fails stops for good and says so once (its process exits to be restarted)', async (t) => {
  const fatal: Error[] = [];
  const cluster = new InProcessCluster(1, { onFatal: (err) => fatal.push(err) });
  t.after(() => cluster.close());
  await cluster.startAll();
  const member = await cluster.waitForLeader();
  await member.server.put({ key: bytes('before'), value: bytes('1') });
  member.storage.save = () => Promise.reject(new Error('EIO: disk went away'));
  await assert.rejects(member.server.put({ key: bytes('after'), value: bytes('2') }));
  assert.equal(fatal.length, 1, 'reported once');
  assert.match(fatal[0]!.message, /EIO/);
  assert.equal(member.node.fatalError, fatal[0]);
  await assert.rejects(member.server.put({ key: bytes('later'), value: bytes('3') }), /storage failed|stopped/);
});

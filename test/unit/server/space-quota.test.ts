import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessCluster, bytes } from './in-process-cluster.js';

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('the NOSPACE alarm enters the replicated state only by applying its entry; the leader refuses writes from the moment it proposes it', async (t) => {
  const cluster = new InProcessCluster(3, { limits: { quotaBytes: 24 * 1024, requestTimeoutMs: 3000, maxTxnOps: 128 } });
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const members = [...cluster.members.values()];
  const value = new Uint8Array(16 * 1024);

  await leader.server.put({ key: bytes('a'), value });
  assert.deepEqual(leader.server.alarmList(), [], 'below the quota');
  await leader.server.put({ key: bytes('b'), value });
  // That write crossed the quota: the leader proposed the alarm, which has not applied yet.
  assert.deepEqual(leader.server.alarmList(), [], 'no member holds the alarm before its entry applies');
  await assert.rejects(leader.server.put({ key: bytes('c'), value: bytes('x') }), /etcdserver: mvcc: database space exceeded/);

  await until('every member applied the alarm', () => members.every((m) => m.server.alarmList().length === 1));
  for (const m of members) assert.deepEqual(m.server.alarmList(), [{ memberId: leader.memberId, alarm: 'NOSPACE' }]);
  const follower = members.find((m) => m !== leader)!;
  await assert.rejects(follower.server.put({ key: bytes('c'), value: bytes('x') }), /database space exceeded/, 'followers refuse writes too');

  // Freeing space and disarming lets writes in again, and the alarm is not raised anew.
  await leader.server.deleteRange({ key: bytes('a'), rangeEnd: bytes('c') });
  const { header } = await leader.server.range({ key: bytes('a') });
  await leader.server.compact(header.revision, true);
  await leader.server.alarmDeactivate(leader.memberId, 'NOSPACE');
  await until('every member applied the disarm', () => members.every((m) => m.server.alarmList().length === 0));
  await leader.server.put({ key: bytes('c'), value: bytes('x') });
  assert.deepEqual(leader.server.alarmList(), []);
});

// A linearizable read whose read index answer is lost on the way (a reset
// peer connection, with the leader unchanged) is sent again, not left
// waiting for ever: nothing else would release or fail it until the next
// leader change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType } from '../../../node/raft/types.js';
import { InProcessCluster, bytes, text } from './in-process-cluster.js';

test('a read whose read index answer was lost is retried and served', { timeout: 20_000 }, async (t) => {
  const cluster = new InProcessCluster(3);
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const follower = [...cluster.members.values()].find((m) => m !== leader)!;
  await leader.server.put({ key: bytes('k'), value: bytes('v') });
  let dropped = 0;
  cluster.dropIf = (m) => m.type === MessageType.ReadIndexResp && m.to === follower.memberId && dropped++ === 0;
  const read = follower.server.range({ key: bytes('k') });
  const outcome = await Promise.race([read.then((r) => text(r.kvs[0]!.value)), new Promise<string>((r) => setTimeout(() => r('still waiting after 3 s'), 3000))]);
  assert.equal(dropped >= 1, true, 'the first answer was dropped');
  assert.equal(outcome, 'v');
  assert.equal(leader.memberId, cluster.leader()?.memberId, 'the leader did not change (that would have failed the read instead)');
});

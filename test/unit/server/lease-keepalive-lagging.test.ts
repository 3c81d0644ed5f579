// A keep-alive answered by a member that has not yet applied the lease's
// grant must not say "not found": the grant was acknowledged before the
// keep-alive was sent. Found by the chaos harness's lease profile (seed 21):
// a keep-alive right after a grant came back with TTL 0 from a lagging
// member, and a read afterwards still saw a key attached to the lease.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType } from '../../../node/raft/types.js';
import { InProcessCluster } from './in-process-cluster.js';

test('a keep-alive on a member that lags behind the grant waits for it instead of answering "not found"', { timeout: 20_000 }, async (t) => {
  const cluster = new InProcessCluster(3);
  t.after(() => cluster.close());
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  const lagging = [...cluster.members.values()].find((m) => m !== leader)!;
  // The lagging member gets no entries (heartbeats still, so no election): the grant commits with the other two.
  cluster.dropIf = (m) => m.to === lagging.memberId && (m.type === MessageType.App || m.type === MessageType.Snap);
  const grant = await leader.server.leaseGrant(30);
  assert.equal(lagging.server.store.lease(grant.id), undefined, 'the lagging member has not applied the grant yet');
  const keepAlive = lagging.server.leaseKeepAlive(grant.id);
  setTimeout(() => {
    cluster.dropIf = undefined;
  }, 150);
  assert.equal(await keepAlive, 30, 'the keep-alive found the lease once the member caught up');
  // A lease that really is gone is still "not found".
  await leader.server.leaseRevoke(grant.id);
  await assert.rejects(lagging.server.leaseKeepAlive(grant.id), /lease not found/);
});

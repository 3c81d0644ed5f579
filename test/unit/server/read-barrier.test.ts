import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../node/raft/raft.js';
import { ServerError } from '../../../node/server/errors.js';
import { ReadBarrier } from '../../../node/server/read-barrier.js';

function barrier(): { reads: ReadBarrier; contexts: Uint8Array[] } {
  let n = 0;
  const contexts: Uint8Array[] = [];
  const reads = new ReadBarrier(() => {
    const ctx = new Uint8Array([++n]);
    contexts.push(ctx);
    return ctx;
  });
  return { reads, contexts };
}

test('reads queued together share one round and are released once the confirmed index is applied', async () => {
  const { reads, contexts } = barrier();
  const a = reads.wait();
  const b = reads.wait();
  const asked: Uint8Array[] = [];
  reads.startRound((ctx) => asked.push(ctx));
  assert.equal(asked.length, 1, 'one round for both');
  assert.equal(reads.hasQueued, false);
  reads.confirmed([{ index: 7, context: contexts[0]! }]);
  let released = false;
  void Promise.all([a, b]).then(() => (released = true));
  reads.applied(6);
  await new Promise((r) => setImmediate(r));
  assert.equal(released, false, 'not before index 7 is applied');
  reads.applied(7);
  assert.deepEqual(await Promise.all([a, b]), [7, 7]);
});

test('a round the core refuses fails with "no leader"; a leader change fails the rounds in flight', async () => {
  const { reads } = barrier();
  const refused = reads.wait();
  reads.startRound(() => {
    throw new ProposalDroppedError('no leader');
  });
  await assert.rejects(refused, (err: unknown) => err instanceof ServerError && err.code === 'UNAVAILABLE' && err.message === 'etcdserver: no leader');

  reads.leaderChanged(2);
  const inFlight = reads.wait();
  reads.startRound(() => undefined);
  reads.leaderChanged(2);
  reads.leaderChanged(3);
  await assert.rejects(inFlight, (err: unknown) => err instanceof ServerError && err.message === 'etcdserver: leader changed');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../node/raft/raft.js';
import type { ServerRequest } from '../../../node/server/entry.js';
import { errNoLeader } from '../../../node/server/errors.js';
import { Proposer } from '../../../node/server/proposals.js';
import type { RaftNode } from '../../../node/server/raft-node.js';
import { Waiters } from '../../../node/server/waiters.js';

const SELF = 7;

/** Just what Proposer asks of a Raft node; `leaderId` 0 is a member without a leader. */
function fakeNode(leaderId: number, propose: (data: Uint8Array, onDropped: (err: ProposalDroppedError) => void) => void): RaftNode {
  return {
    leaderId,
    term: 3,
    propose,
    whenLeader: (ms: number) => (leaderId !== 0 ? Promise.resolve() : new Promise((_, reject) => setTimeout(() => reject(errNoLeader()), ms))),
  } as unknown as RaftNode;
}

test('failed proposals as etcd counts them: a write that gave up waiting for a leader, and one Raft dropped', async () => {
  let failed = 0;
  const counted = { onFailed: () => failed++ };
  const put: ServerRequest = { mvcc: { put: { key: new Uint8Array([1]), value: new Uint8Array([2]) } } };

  const leaderless = new Proposer({ memberId: SELF, node: fakeNode(0, () => assert.fail('nothing is proposed without a leader')), waiters: new Waiters(SELF, counted), requestTimeoutMs: 5000, leaderWaitMs: 20, onNoLeader: counted.onFailed, entryFormat: () => 1 });
  await assert.rejects(leaderless.propose(put), /no leader/);
  assert.equal(failed, 1, 'the write that found no leader failed');
  await assert.rejects(leaderless.readBarrier(), /no leader/);
  assert.equal(failed, 1, 'a read is not a proposal');

  const waiters = new Waiters(SELF, counted);
  const dropping = new Proposer({ memberId: SELF, node: fakeNode(2, (_data, onDropped) => queueMicrotask(() => onDropped(new ProposalDroppedError('leadership transfer in progress')))), waiters, requestTimeoutMs: 5000, leaderWaitMs: 20, onNoLeader: counted.onFailed, entryFormat: () => 1 });
  await assert.rejects(dropping.propose(put), /leadership transfer in progress/);
  assert.equal(failed, 2, 'the dropped proposal failed');
  assert.equal(waiters.size, 0);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProposalDroppedError } from '../../../node/raft/raft.js';
import { decodeEntry, type ServerRequest } from '../../../node/server/entry.js';
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

test('a write Raft dropped for want of a leader is proposed again once a leader is known, under the same request ID', async () => {
  const put: ServerRequest = { mvcc: { put: { key: new Uint8Array([1]), value: new Uint8Array([2]) } } };
  const waiters = new Waiters(SELF);
  const proposed: Uint8Array[] = [];
  let leader = 2;
  let leaderKnown: () => void = () => undefined;
  const node = {
    get leaderId() {
      return leader;
    },
    term: 3,
    // The first proposal meets an election that started after the leader check.
    propose: (data: Uint8Array, onDropped: (err: ProposalDroppedError) => void) => {
      proposed.push(data);
      if (proposed.length === 1) {
        leader = 0;
        queueMicrotask(() => onDropped(new ProposalDroppedError('no leader')));
      }
    },
    whenLeader: () => (leader !== 0 ? Promise.resolve() : new Promise<void>((resolve) => (leaderKnown = resolve))),
  } as unknown as RaftNode;
  const proposer = new Proposer({ memberId: SELF, node, waiters, requestTimeoutMs: 5000, leaderWaitMs: 1000, entryFormat: () => 1 });
  const answer = proposer.propose(put);
  await new Promise((r) => setImmediate(r));
  assert.equal(proposed.length, 1, 'nothing is proposed again before a leader is known');
  leader = 4;
  leaderKnown();
  await new Promise((r) => setImmediate(r));
  assert.equal(proposed.length, 2, 'proposed again once the leader is known');
  assert.deepEqual(proposed[1], proposed[0], 'the same entry, so the same request ID');
  // The entry applies: the one waiter answers.
  const { requestId } = decodeEntry(proposed[1]!);
  waiters.settle(SELF, requestId, 'applied');
  assert.equal(await answer, 'applied');
});

test('a dropped write is not proposed again past its resubmits, for another reason, or when its client stopped waiting', async () => {
  const put: ServerRequest = { mvcc: { put: { key: new Uint8Array([1]), value: new Uint8Array([2]) } } };
  // Always dropped for want of a leader: it fails after a few tries.
  let tries = 0;
  const always = new Proposer({ memberId: SELF, node: fakeNode(2, (_d, onDropped) => { tries++; queueMicrotask(() => onDropped(new ProposalDroppedError('no leader'))); }), waiters: new Waiters(SELF), requestTimeoutMs: 5000, leaderWaitMs: 20, entryFormat: () => 1 });
  await assert.rejects(always.propose(put), /etcdserver: no leader/);
  assert.equal(tries, 4, 'the first proposal and three more');
  // Another reason: at once, no retry.
  tries = 0;
  const transfer = new Proposer({ memberId: SELF, node: fakeNode(2, (_d, onDropped) => { tries++; queueMicrotask(() => onDropped(new ProposalDroppedError('a membership change is still pending'))); }), waiters: new Waiters(SELF), requestTimeoutMs: 5000, leaderWaitMs: 20, entryFormat: () => 1 });
  await assert.rejects(transfer.propose(put), /membership change is still pending/);
  assert.equal(tries, 1);
  // The client's deadline passed while no leader was known: nothing more is proposed.
  tries = 0;
  const waiters = new Waiters(SELF);
  let leaderKnown: () => void = () => undefined;
  const node = {
    leaderId: 2,
    term: 3,
    propose: (_d: Uint8Array, onDropped: (err: ProposalDroppedError) => void) => {
      tries++;
      queueMicrotask(() => onDropped(new ProposalDroppedError('no leader')));
    },
    whenLeader: () => new Promise<void>((resolve) => (leaderKnown = resolve)),
  } as unknown as RaftNode;
  const late = new Proposer({ memberId: SELF, node, waiters, requestTimeoutMs: 1, leaderWaitMs: 1000, entryFormat: () => 1 });
  const answer = late.propose(put);
  await new Promise((r) => setTimeout(r, 5));
  waiters.expire(Date.now());
  await assert.rejects(answer, /request timed out/);
  leaderKnown();
  await new Promise((r) => setImmediate(r));
  assert.equal(tries, 1, 'a request whose client stopped waiting is not proposed again');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights, Progress, ProgressState } from '../../../node/raft/progress.js';

test('inflights: bounded window freed by acknowledgements in order', () => {
  const w = new Inflights(3);
  w.add(5);
  w.add(8);
  w.add(12);
  assert.equal(w.full(), true);
  assert.throws(() => w.add(13), /full/);
  w.freeUpTo(8);
  assert.equal(w.count(), 1);
  w.freeFirst();
  assert.equal(w.count(), 0);
});

test('probe sends one append at a time; replicate pipelines up to the window', () => {
  const pr = new Progress(6, 2, false);
  assert.equal(pr.state, ProgressState.Probe);
  pr.sentEntries(7, 2);
  assert.equal(pr.isPaused(), true, 'probe waits for the answer');
  assert.equal(pr.maybeUpdate(7), true);
  pr.becomeReplicate();
  assert.equal(pr.next, 8);
  pr.sentEntries(9, 2);
  pr.sentEntries(11, 2);
  assert.equal(pr.next, 12, 'optimistically advanced');
  assert.equal(pr.isPaused(), true, 'window of 2 is full');
  pr.inflights.freeUpTo(9);
  assert.equal(pr.isPaused(), false);
});

test('rejections: stale ones are ignored, fresh ones back off using the hint', () => {
  const pr = new Progress(11, 4, false);
  pr.match = 3;
  assert.equal(pr.maybeDecreaseTo(7, 2), false, 'rejection of an append we did not send last');
  assert.equal(pr.maybeDecreaseTo(10, 5), true);
  assert.equal(pr.next, 6, 'jumps to the hint + 1');
  pr.becomeReplicate();
  assert.equal(pr.maybeDecreaseTo(2, 0), false, 'below match: stale');
  assert.equal(pr.maybeDecreaseTo(8, 0), true);
  assert.equal(pr.next, 4, 'replicate falls back to match + 1');
});

test('a peer that lost entries it acknowledged is probed again from its real end', () => {
  const pr = new Progress(11, 4, false);
  pr.match = 10;
  pr.becomeReplicate();
  assert.equal(pr.maybeLostEntries(10), false, 'the peer still holds everything it acknowledged');
  assert.equal(pr.maybeLostEntries(7), true);
  assert.equal(pr.match, 7, 'match follows the peer\'s real last index');
  assert.equal(pr.next, 8);
  assert.equal(pr.state, ProgressState.Probe);
});

test('snapshot state pauses until the snapshot lands, then probes after it', () => {
  const pr = new Progress(2, 4, false);
  pr.becomeSnapshot(100);
  assert.equal(pr.isPaused(), true);
  pr.becomeProbe();
  assert.equal(pr.next, 101);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { majority, quorumIndex } from '../../../node/raft/quorum.js';

test('a majority is more than half of the voters', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(majority), [1, 2, 2, 3, 3, 4, 4]);
});

test('the quorum index is the highest index a majority of voters holds', () => {
  assert.equal(quorumIndex([]), 0);
  assert.equal(quorumIndex([7]), 7);
  assert.equal(quorumIndex([5, 9]), 5, 'two voters: both must hold it');
  assert.equal(quorumIndex([3, 9, 5]), 5);
  assert.equal(quorumIndex([1, 8, 8, 2]), 2, 'four voters need three');
  assert.equal(quorumIndex([4, 4, 9, 1, 6]), 4);
  const matches = [3, 1, 2];
  quorumIndex(matches);
  assert.deepEqual(matches, [3, 1, 2], 'the caller’s array is left as it was');
});

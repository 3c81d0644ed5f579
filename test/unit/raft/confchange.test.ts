import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapEntries, decodeConfChange, encodeConfChange } from '../../../node/raft/confchange.js';
import { ConfChangeType, EntryType } from '../../../node/raft/types.js';

test('conf changes round-trip, including 53-bit member IDs and context', () => {
  for (const nodeId of [1, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER]) {
    const cc = { type: ConfChangeType.AddLearner, nodeId, context: new TextEncoder().encode('{"peerURLs":["http://a:2380"]}') };
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  }
});

test('malformed conf change entries are refused clearly', () => {
  assert.throws(() => decodeConfChange(new Uint8Array(3)), /shorter than its 9-byte header/);
  const bad = encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1, context: new Uint8Array() });
  bad[0] = 42;
  assert.throws(() => decodeConfChange(bad), /unknown conf change type 42/);
});

test('bootstrap entries add every initial voter at term 1', () => {
  const entries = bootstrapEntries([{ id: 3 }, { id: 9 }]);
  assert.deepEqual(entries.map((e) => [e.index, e.term, e.type]), [[1, 1, EntryType.ConfChange], [2, 1, EntryType.ConfChange]]);
  assert.deepEqual(entries.map((e) => decodeConfChange(e.data).nodeId), [3, 9]);
});

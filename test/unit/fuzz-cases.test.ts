// The wire fuzzer's case generator (test/integration/fuzz-cases.ts): a seed
// and a case number must give the same bytes every time (or a printed case
// could not be replayed), the cases must reach every method and route, and
// the hand-encoded deep txn must be the message it claims to be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWire, raiseProtobufNestingLimit } from '../../node/api/proto/strict-wire.js';
import { etcdSchema } from '../../node/api/proto/json.js';
import { GATEWAY_PATHS, GRPC_METHODS, etcdMethod, makeCase, nestedTxn, type FuzzCase } from '../integration/fuzz-cases.js';

const bytesOf = (c: FuzzCase): string => `${c.target === 'grpc' ? c.method : c.path} ${c.body.toString('hex')} ${c.how.join(',')}`;

test('a seed and a case number always give the same case, and other case numbers give others', () => {
  const a = Array.from({ length: 200 }, (_, n) => bytesOf(makeCase(7, n, 0.35)));
  const b = Array.from({ length: 200 }, (_, n) => bytesOf(makeCase(7, n, 0.35)));
  assert.deepEqual(a, b);
  assert.ok(new Set(a).size > 190, `${new Set(a).size} distinct cases of 200`);
  assert.notDeepEqual(a, Array.from({ length: 200 }, (_, n) => bytesOf(makeCase(8, n, 0.35))), 'another seed gives other cases');
});

test('500 cases reach every gRPC method and gateway route, valid and broken', () => {
  const seen = new Set<string>();
  let unmutated = 0;
  for (let n = 0; n < 500; n++) {
    const c = makeCase(13, n, 0.35);
    seen.add(c.target === 'grpc' ? c.method : c.path);
    if (c.how.length === 0) unmutated++;
  }
  assert.deepEqual([...seen].sort(), [...GRPC_METHODS, ...GATEWAY_PATHS].sort());
  assert.ok(unmutated > 20 && unmutated < 250, `${unmutated} of 500 cases are sent as generated`);
});

test('a hand-encoded nested txn is a TxnRequest of that depth around one put', () => {
  raiseProtobufNestingLimit();
  const bytes = nestedTxn(40, 'k');
  checkWire(etcdSchema(), 'etcdserverpb.TxnRequest', bytes);
  type Txn = { success: { request_txn?: Txn; request_put?: { key: Buffer } }[] };
  let txn = etcdMethod('KV/Txn').requestDeserialize(bytes) as Txn;
  let depth = 1;
  while (txn.success[0]?.request_txn) {
    txn = txn.success[0].request_txn;
    depth++;
  }
  assert.equal(depth, 40);
  assert.equal(txn.success[0]?.request_put?.key.toString(), 'k');
});

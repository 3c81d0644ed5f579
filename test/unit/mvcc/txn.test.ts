import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Compare, CompareResult, CompareTarget, TxnRequest } from '../../../node/mvcc/index.js';
import { isReadOnlyTxn, validateTxn } from '../../../node/mvcc/index.js';
import {
  COMPACTED,
  DUPLICATE_KEY,
  Driver,
  FROM_KEY,
  FUTURE,
  LEASE_NOT_FOUND,
  assertMvccError,
  bytes,
  text,
} from './helpers.js';

const put = (key: string, value: string) => ({ requestPut: { key: bytes(key), value: bytes(value) } });
const del = (key: string, rangeEnd?: string) => ({
  requestDeleteRange: { key: bytes(key), ...(rangeEnd === undefined ? {} : { rangeEnd: bytes(rangeEnd) }) },
});
const get = (key: string) => ({ requestRange: { key: bytes(key) } });

function cmp(key: string, target: CompareTarget, result: CompareResult, operand: number | string): Compare {
  const c: Compare = { key: bytes(key), target, result };
  if (target === 'VALUE') c.value = bytes(String(operand));
  if (target === 'VERSION') c.version = Number(operand);
  if (target === 'CREATE') c.createRevision = Number(operand);
  if (target === 'MOD') c.modRevision = Number(operand);
  if (target === 'LEASE') c.lease = BigInt(operand);
  return c;
}

/** k: create 2, mod 3, version 2, value "m", lease 9. */
function fixture(): Driver {
  const d = new Driver();
  d.grant(9);
  d.put('k', 'a');
  d.put('k', 'm', { lease: 9n });
  return d;
}

function holds(d: Driver, compare: Compare): boolean {
  return d.txn({ compare: [compare] }).succeeded;
}

describe('txn compares', () => {
  const cases: [CompareTarget, number | string, number | string, number | string][] = [
    // target, equal operand, smaller operand, larger operand
    ['VERSION', 2, 1, 3],
    ['CREATE', 2, 1, 3],
    ['MOD', 3, 2, 4],
    ['VALUE', 'm', 'a', 'z'],
    ['LEASE', 9, 8, 10],
  ];
  for (const [target, equal, smaller, larger] of cases) {
    it(`${target} with EQUAL, NOT_EQUAL, GREATER and LESS`, () => {
      const d = fixture();
      assert.equal(holds(d, cmp('k', target, 'EQUAL', equal)), true);
      assert.equal(holds(d, cmp('k', target, 'EQUAL', smaller)), false);
      assert.equal(holds(d, cmp('k', target, 'NOT_EQUAL', smaller)), true);
      assert.equal(holds(d, cmp('k', target, 'NOT_EQUAL', equal)), false);
      assert.equal(holds(d, cmp('k', target, 'GREATER', smaller)), true);
      assert.equal(holds(d, cmp('k', target, 'GREATER', equal)), false);
      assert.equal(holds(d, cmp('k', target, 'LESS', larger)), true);
      assert.equal(holds(d, cmp('k', target, 'LESS', equal)), false);
    });
  }

  it('compares a missing key as zero values, except VALUE which always fails', () => {
    const d = fixture();
    assert.equal(holds(d, cmp('missing', 'VERSION', 'EQUAL', 0)), true);
    assert.equal(holds(d, cmp('missing', 'CREATE', 'EQUAL', 0)), true);
    assert.equal(holds(d, cmp('missing', 'MOD', 'LESS', 1)), true);
    assert.equal(holds(d, cmp('missing', 'LEASE', 'EQUAL', 0)), true);
    assert.equal(holds(d, cmp('missing', 'VALUE', 'EQUAL', '')), false);
    assert.equal(holds(d, cmp('missing', 'VALUE', 'NOT_EQUAL', 'x')), false);
  });

  it('requires every key in a compare range to pass', () => {
    const d = new Driver();
    d.put('p/1', 'a');
    d.put('p/2', 'a');
    const range = (result: CompareResult, value: string): Compare => ({
      ...cmp('p/', 'VALUE', result, value),
      rangeEnd: bytes('p0'),
    });
    assert.equal(holds(d, range('EQUAL', 'a')), true);
    d.put('p/3', 'b');
    assert.equal(holds(d, range('EQUAL', 'a')), false);
    assert.equal(holds(d, { ...cmp('p/', 'VERSION', 'GREATER', 0), rangeEnd: FROM_KEY }), true);
  });

  it('needs all compares to hold and runs failure ops otherwise', () => {
    const d = fixture();
    const r = d.txn({
      compare: [cmp('k', 'VERSION', 'EQUAL', 2), cmp('k', 'VALUE', 'EQUAL', 'nope')],
      success: [put('s', '1')],
      failure: [put('f', '1'), get('k')],
    });
    assert.equal(r.succeeded, false);
    assert.equal(r.responses.length, 2);
    assert.ok(r.responses[0]!.responsePut);
    assert.equal(text(r.responses[1]!.responseRange!.kvs[0]!.value), 'm');
    assert.equal(d.get('s'), undefined);
    assert.equal(text(d.get('f')!.value), '1');
  });
});

describe('txn execution', () => {
  it('takes exactly one revision for all its writes', () => {
    const d = new Driver();
    d.put('x', '0');
    const r = d.txn({ success: [put('a', '1'), put('b', '2'), del('x')] });
    assert.equal(r.header.revision, 3);
    assert.equal(d.store.revision, 3);
    for (const k of ['a', 'b']) assert.equal(d.get(k)!.modRevision, 3);
    assert.equal(r.responses[0]!.responsePut!.header.revision, 3);
    assert.equal(r.responses[2]!.responseDeleteRange!.deleted, 1);
  });

  it('does not bump the revision when it writes nothing', () => {
    const d = new Driver();
    d.put('a', '1');
    const r = d.txn({ success: [get('a'), del('nothing')] });
    assert.equal(r.header.revision, 2);
    assert.equal(d.store.revision, 2);
  });

  it('lets reads see earlier writes of the same txn', () => {
    const d = new Driver();
    d.put('a', 'old');
    d.put('b', 'doomed');
    const r = d.txn({
      success: [get('a'), put('a', 'new'), get('a'), get('b'), del('b'), get('b')],
    });
    const values = [0, 2, 3, 5].map((i) => r.responses[i]!.responseRange!.kvs.map((kv) => text(kv.value)));
    assert.deepEqual(values, [['old'], ['new'], ['doomed'], []]);
    // A txn read's header shows the revision it read at.
    assert.equal(r.responses[0]!.responseRange!.header.revision, 3);
    assert.equal(r.responses[2]!.responseRange!.header.revision, 4);
    assert.equal(r.header.revision, 4);
  });

  it('runs nested txns, deciding their compares on the state before the txn', () => {
    const d = new Driver();
    d.put('flag', 'off');
    const r = d.txn({
      success: [
        put('flag', 'on'),
        {
          requestTxn: {
            compare: [cmp('flag', 'VALUE', 'EQUAL', 'off')],
            success: [put('inner', 'saw-off')],
            failure: [put('inner', 'saw-on')],
          },
        },
      ],
    });
    assert.equal(r.succeeded, true);
    const inner = r.responses[1]!.responseTxn!;
    assert.equal(inner.succeeded, true);
    assert.equal(text(d.get('inner')!.value), 'saw-off');
    assert.equal(d.get('inner')!.modRevision, d.get('flag')!.modRevision);
  });

  it('serves a read-only txn without the log', () => {
    const d = fixture();
    const request: TxnRequest = { compare: [cmp('k', 'VERSION', 'EQUAL', 2)], success: [get('k')] };
    assert.equal(isReadOnlyTxn(request), true);
    const r = d.store.readTxn(request);
    assert.equal(text(r.responses[0]!.responseRange!.kvs[0]!.value), 'm');
    assert.equal(isReadOnlyTxn({ failure: [{ requestTxn: { success: [put('a', 'b')] } }] }), false);
    assert.throws(() => d.store.readTxn({ success: [put('a', 'b')] }));
    assert.equal(d.get('a'), undefined);
  });
});

describe('txn rejection leaves the state untouched', () => {
  function assertRejected(d: Driver, request: TxnRequest, code: Parameters<typeof assertMvccError>[1], message: string) {
    const hashBefore = d.store.hash().hash;
    const revision = d.store.revision;
    const keysBefore = d.dump();
    assertMvccError(() => d.txn(request), code, message);
    assert.equal(d.store.revision, revision);
    assert.deepEqual(d.dump(), keysBefore);
    assert.equal(d.store.hash().hash, hashBefore);
  }

  it('rejects putting one key twice', () => {
    const d = fixture();
    assertRejected(d, { success: [put('a', '1'), put('b', '1'), put('a', '2')] }, 'INVALID_ARGUMENT', DUPLICATE_KEY);
    assert.equal(d.get('a'), undefined);
    assert.equal(d.get('b'), undefined);
  });

  it('rejects putting a key that the same txn deletes, even through a range', () => {
    const d = fixture();
    assertRejected(d, { success: [put('b', '1'), del('a', 'c')] }, 'INVALID_ARGUMENT', DUPLICATE_KEY);
    assertRejected(d, { success: [del('k'), put('k', '1')] }, 'INVALID_ARGUMENT', DUPLICATE_KEY);
    assertRejected(d, { success: [del('a', '\0'), put('zz', '1')] }, 'INVALID_ARGUMENT', DUPLICATE_KEY);
  });

  it('checks nested txns against their parents and siblings', () => {
    const d = fixture();
    const nested = (success: ReturnType<typeof put>[], failure: ReturnType<typeof put>[] = []) => ({
      requestTxn: { success, failure },
    });
    assertRejected(d, { success: [put('a', '1'), nested([put('a', '2')])] }, 'INVALID_ARGUMENT', DUPLICATE_KEY);
    assertRejected(d, { success: [nested([put('a', '1')]), nested([put('a', '2')])] }, 'INVALID_ARGUMENT', DUPLICATE_KEY);
    assertRejected(d, { failure: [del('a'), nested([put('a', '2')])] }, 'INVALID_ARGUMENT', DUPLICATE_KEY);
    // The two branches of one nested txn exclude each other, so they may share keys.
    const ok = d.txn({ success: [nested([put('a', 'then')], [put('a', 'else')])] });
    assert.equal(ok.succeeded, true);
    assert.equal(text(d.get('a')!.value), 'then');
    // Deletes may overlap each other.
    assert.equal(d.txn({ success: [del('a'), del('a', 'z')] }).responses[1]!.responseDeleteRange!.deleted, 1);
  });

  it('rejects a put with an unknown lease before any write', () => {
    const d = fixture();
    const request = { success: [put('a', '1'), { requestPut: { key: bytes('b'), lease: 77n } }] };
    assertRejected(d, request, 'NOT_FOUND', LEASE_NOT_FOUND);
  });

  it('rejects ignoreValue on a missing key before any write', () => {
    const d = fixture();
    const request = { success: [put('a', '1'), { requestPut: { key: bytes('nope'), ignoreValue: true } }] };
    assertRejected(d, request, 'INVALID_ARGUMENT', 'etcdserver: key not found');
  });

  it('rejects reads at a future or compacted revision before any write', () => {
    const d = fixture();
    d.compact(3);
    const at = (revision: number) => ({ success: [put('a', '1'), { requestRange: { key: bytes('k'), revision } }] });
    assertRejected(d, at(99), 'OUT_OF_RANGE', FUTURE);
    assertRejected(d, at(2), 'OUT_OF_RANGE', COMPACTED);
  });

  it('checks only the branch that runs', () => {
    const d = fixture();
    const r = d.txn({
      compare: [cmp('k', 'VERSION', 'EQUAL', 2)],
      success: [put('a', '1')],
      failure: [{ requestPut: { key: bytes('b'), lease: 77n } }],
    });
    assert.equal(r.succeeded, true);
  });

  it('enforces max txn ops and empty keys', () => {
    const d = fixture();
    const many = Array.from({ length: 129 }, (_, i) => put(`k${i}`, 'v'));
    assertRejected(d, { success: many }, 'INVALID_ARGUMENT', 'etcdserver: too many operations in txn request');
    assertRejected(d, { compare: [cmp('', 'VERSION', 'EQUAL', 0)] }, 'INVALID_ARGUMENT', 'etcdserver: key is not provided');
    assertRejected(d, { success: [{}] }, 'INVALID_ARGUMENT', 'etcdserver: key not found');
    assert.doesNotThrow(() => validateTxn({ success: many.slice(0, 128) }));
  });
});

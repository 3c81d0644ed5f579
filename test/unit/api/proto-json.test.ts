import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeBase64Strict,
  fromGatewayJson,
  GatewayJsonError,
  quoteLargeIntegers,
  stringifyGatewayJson,
  toGatewayJson,
  toGatewayStreamChunk,
} from '../../../node/api/proto/json.js';
import { loadEtcdProtos } from '../../../node/api/proto/load.js';
import type { LeaseTimeToLiveRequest, RangeRequest, TxnRequest, WatchRequest } from '../../../node/api/proto/messages.js';
import { method } from './etcd3-reference.js';

const defs = loadEtcdProtos().packageDefinition;
const b = (s: string) => Buffer.from(s);

/** A RangeResponse as the gRPC layer would decode it (defaults filled in). */
function decodedRangeResponse() {
  const range = method(defs, 'KV', 'Range');
  return range.responseDeserialize(
    range.responseSerialize({
      header: { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '5', raft_term: '2' },
      kvs: [{ key: b('foo'), create_revision: '2', mod_revision: '5', version: '4', value: b('bar') }],
      count: '1',
    }),
  ) as object;
}

test('json: a RangeResponse prints exactly as etcd gateway prints it', () => {
  assert.equal(
    stringifyGatewayJson('etcdserverpb.RangeResponse', decodedRangeResponse()),
    '{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"5","raft_term":"2"},' +
      '"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"5","version":"4","value":"YmFy"}],"count":"1"}',
  );
});

test('json: defaults are left out, set oneof members are kept, enums print by name', () => {
  assert.deepEqual(toGatewayJson('etcdserverpb.PutResponse', { header: { revision: '0' }, prev_kv: null }), { header: {} });
  const txn = method(defs, 'KV', 'Txn');
  const decoded = txn.requestDeserialize(
    txn.requestSerialize({
      compare: [{ target: 'VERSION', key: b('a'), version: '0' }, { result: 'NOT_EQUAL', target: 'VALUE', key: b('b'), value: b('x') }],
      success: [{ request_range: {} }],
    }),
  ) as object;
  assert.deepEqual(toGatewayJson('etcdserverpb.TxnRequest', decoded), {
    compare: [
      { key: 'YQ==', version: '0' },
      { result: 'NOT_EQUAL', target: 'VALUE', key: 'Yg==', value: 'eA==' },
    ],
    success: [{ request_range: {} }],
  });
  const watch = method(defs, 'Watch', 'Watch');
  const ev = watch.responseDeserialize(
    watch.responseSerialize({ watch_id: '1', events: [{ type: 'DELETE', kv: { key: b('k'), mod_revision: '9' } }, { type: 'PUT', kv: { key: b('k') } }] }),
  ) as object;
  assert.deepEqual(toGatewayJson('etcdserverpb.WatchResponse', ev), {
    watch_id: '1',
    events: [{ type: 'DELETE', kv: { key: 'aw==', mod_revision: '9' } }, { kv: { key: 'aw==' } }],
  });
  // 32-bit integers are numbers, 64-bit ones strings; mixed-case names kept.
  assert.deepEqual(toGatewayJson('etcdserverpb.HashKVResponse', { hash: 4294967295, compact_revision: 3 }), { hash: 4294967295, compact_revision: '3' });
  assert.deepEqual(toGatewayJson('etcdserverpb.MemberAddResponse', { member: { ID: '1', isLearner: true, peerURLs: ['http://a:2380'] } }), {
    member: { ID: '1', peerURLs: ['http://a:2380'], isLearner: true },
  });
});

test('json: parsing yields exactly what the gRPC decoder yields for the same message', () => {
  const range = method(defs, 'KV', 'Range');
  const viaJson = fromGatewayJson<RangeRequest>(
    'etcdserverpb.RangeRequest',
    '{"key":"Zm9v","range_end":"Zm9w","limit":10,"revision":"-3","sort_order":"DESCEND","sortTarget":2,"keysOnly":true,"min_mod_revision":"0"}',
  );
  const viaGrpc = range.requestDeserialize(
    range.requestSerialize({ key: b('foo'), range_end: b('fop'), limit: '10', revision: '-3', sort_order: 'DESCEND', sort_target: 'CREATE', keys_only: true }),
  );
  assert.deepEqual(viaJson, viaGrpc);
  assert.equal(viaJson.sort_target, 'CREATE', 'enum numbers become names');
  assert.equal(viaJson.limit, '10', 'int64 numbers become decimal strings');
});

test('json: oneofs, nested messages and the docs example of a txn', () => {
  const txn = fromGatewayJson<TxnRequest>(
    'etcdserverpb.TxnRequest',
    '{"compare":[{"target":"CREATE","key":"Zm9v","createRevision":"2"}],"success":[{"requestPut":{"key":"Zm9v","value":"YmFy"}}],"failure":[{"request_range":{"key":"Zm9v"}}]}',
  );
  const c = txn.compare[0]!;
  assert.equal(c.target_union, 'create_revision');
  assert.equal(c.target_union === 'create_revision' && c.create_revision, '2');
  assert.equal('version' in c, false);
  const op = txn.success[0]!;
  assert.equal(op.request, 'request_put');
  assert.equal(op.request === 'request_put' && op.request_put.value.toString(), 'bar');
  // The parsed object serialises for gRPC unchanged.
  const m = method(defs, 'KV', 'Txn');
  assert.deepEqual(m.requestDeserialize(m.requestSerialize(txn)), txn);

  const w = fromGatewayJson<WatchRequest>('etcdserverpb.WatchRequest', '{"create_request": {"key":"Zm9v", "filters": ["NOPUT", 1]} }');
  assert.equal(w.request_union, 'create_request');
  assert.deepEqual(w.request_union === 'create_request' && w.create_request.filters, ['NOPUT', 'NODELETE']);
});

test('json: round trip object -> JSON -> object for representative messages', () => {
  const cases: Array<[string, string, 'request' | 'response', object]> = [
    ['etcdserverpb.RangeResponse', 'KV/Range', 'response', decodedRangeResponse()],
    ['etcdserverpb.StatusResponse', 'Maintenance/Status', 'response', { header: { revision: '3' }, version: '3.5.0', dbSize: '100', leader: '18446744073709551615', errors: ['x'], isLearner: true }],
    ['etcdserverpb.LeaseTimeToLiveResponse', 'Lease/LeaseTimeToLive', 'response', { ID: '7587862072907233406', TTL: '-1', keys: [b('a'), b('')] }],
    ['etcdserverpb.AlarmResponse', 'Maintenance/Alarm', 'response', { alarms: [{ memberID: '2', alarm: 'NOSPACE' }] }],
    ['etcdserverpb.SnapshotResponse', 'Maintenance/Snapshot', 'response', { remaining_bytes: '10', blob: Buffer.from([0, 255, 128]) }],
  ];
  for (const [type, path, side, value] of cases) {
    const [svc, name] = path.split('/') as [string, string];
    const m = method(defs, svc, name);
    const [enc, dec] = side === 'request' ? [m.requestSerialize, m.requestDeserialize] : [m.responseSerialize, m.responseDeserialize];
    const decoded = dec(enc(value));
    const json = JSON.stringify(toGatewayJson(type, decoded as object));
    assert.deepEqual(fromGatewayJson(type, json), decoded, `${type} via ${json}`);
  }
});

test('json: large integers are read exactly, whether quoted or not', () => {
  const r = fromGatewayJson<LeaseTimeToLiveRequest>('etcdserverpb.LeaseTimeToLiveRequest', '{"ID": 7587862072907233406, "keys": true}');
  assert.equal(r.ID, '7587862072907233406');
  assert.equal(quoteLargeIntegers('{"a":"12345678901234567890","b":-12345678901234567890,"c":1.5e300,"d":[1,22]}'), '{"a":"12345678901234567890","b":"-12345678901234567890","c":1.5e300,"d":[1,22]}');
  assert.equal(quoteLargeIntegers('{"s":"\\" 99999999999999999"}'), '{"s":"\\" 99999999999999999"}', 'numbers inside strings are untouched');
  const m = fromGatewayJson<{ ID: string }>('etcdserverpb.MemberRemoveRequest', '{"ID":"18446744073709551615"}');
  assert.equal(m.ID, '18446744073709551615');
});

test('json: empty body, null fields and unknown fields', () => {
  assert.deepEqual(fromGatewayJson('etcdserverpb.StatusRequest', ''), {});
  const r = fromGatewayJson<RangeRequest>('etcdserverpb.RangeRequest', '{"key":null,"future_field":1}');
  assert.equal(r.key.length, 0);
  assert.throws(() => fromGatewayJson('etcdserverpb.RangeRequest', '{"future_field":1}', { rejectUnknownFields: true }), /future_field: unknown field/);
  assert.deepEqual(fromGatewayJson('etcdserverpb.PutRequest', '{"key":"YQ=="}', { defaults: false }), { key: b('a') });
});

test('json: malformed input is rejected with errors that name the problem', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['etcdserverpb.RangeRequest', '{"key": "Zm9v"', /malformed JSON/],
    ['etcdserverpb.RangeRequest', '[1,2]', /expected a JSON object/],
    ['etcdserverpb.RangeRequest', '{"key": "Zm9v!"}', /^key: invalid base64/],
    ['etcdserverpb.RangeRequest', '{"key": "Zm9v="}', /key: invalid base64/],
    ['etcdserverpb.RangeRequest', '{"key": "Z"}', /^illegal base64 data at input byte 0$/],
    ['etcdserverpb.RangeRequest', '{"key": 12}', /key: expected a base64 string/],
    ['etcdserverpb.RangeRequest', '{"limit": 1.5}', /limit: expected an integer/],
    ['etcdserverpb.RangeRequest', '{"limit": "ten"}', /limit: expected a decimal integer/],
    ['etcdserverpb.RangeRequest', '{"limit": "9223372036854775808"}', /out of range for int64/],
    ['etcdserverpb.MemberRemoveRequest', '{"ID": "-1"}', /out of range for uint64/],
    ['etcdserverpb.RangeRequest', '{"sort_order": "UPWARDS"}', /unknown etcdserverpb.RangeRequest.SortOrder value "UPWARDS"/],
    ['etcdserverpb.RangeRequest', '{"keys_only": "yes"}', /keys_only: expected true or false/],
    ['etcdserverpb.RangeRequest', '{"key": "YQ==", "range_end": "Yg==", "rangeEnd": "Yw=="}', /given twice/],
    ['etcdserverpb.RequestOp', '{"request_range": {}, "request_put": {}}', /only one of oneof request/],
    ['etcdserverpb.TxnRequest', '{"success": [{"request_put": {"key": "***"}}]}', /^success\[0\]\.request_put\.key: invalid base64/],
    ['etcdserverpb.TxnRequest', '{"compare": {"key": "YQ=="}}', /compare: expected an array/],
    ['etcdserverpb.TxnRequest', '{"compare": [null]}', /compare\[0\]: null is not allowed/],
    ['etcdserverpb.HashResponse', '{"hash": 4294967296}', /out of range for uint32/],
  ];
  for (const [type, text, re] of bad) {
    assert.throws(
      () => fromGatewayJson(type, text),
      (err: unknown) => err instanceof GatewayJsonError && re.test(err.message),
      `${text} should fail with ${re}`,
    );
  }
  assert.throws(() => fromGatewayJson('etcdserverpb.NoSuchMessage', '{}'), /unknown message type/);
});

test('json: strict base64 accepts the standard and URL-safe alphabets, padded', () => {
  assert.equal(decodeBase64Strict('Zm9vYg==').toString(), 'foob');
  assert.deepEqual(decodeBase64Strict('_-8='), Buffer.from([0xff, 0xef]));
  assert.deepEqual(decodeBase64Strict('/+8='), Buffer.from([0xff, 0xef]));
  assert.equal(decodeBase64Strict('').length, 0);
  assert.throws(() => decodeBase64Strict('_+8='), /unexpected character/, 'mixed alphabets');
  assert.throws(() => decodeBase64Strict('Zm9=v'), /bad padding/);
  assert.throws(() => decodeBase64Strict('Zm9vYg='), /bad padding/);
  assert.throws(() => decodeBase64Strict('Zm9vYh=='), /trailing bits/);
  assert.throws(() => decodeBase64Strict('Zm 9v'), /unexpected character/);
});

test('finding 8: unpadded base64 is refused by the gateway, as etcd refuses it', () => {
  assert.throws(() => decodeBase64Strict('Zm9vYg'), /^GatewayJsonError: illegal base64 data at input byte 4$/);
  assert.throws(() => decodeBase64Strict('YQ'), /^GatewayJsonError: illegal base64 data at input byte 0$/);
  assert.throws(() => fromGatewayJson('etcdserverpb.PutRequest', '{"key":"YQ"}'), /^GatewayJsonError: illegal base64 data at input byte 0$/);
});

test('json: stream messages are wrapped in {"result": ...}', () => {
  assert.deepEqual(toGatewayStreamChunk('etcdserverpb.WatchResponse', { header: { revision: '1' }, created: true, watch_id: '0', events: [] }), {
    result: { header: { revision: '1' }, created: true },
  });
});

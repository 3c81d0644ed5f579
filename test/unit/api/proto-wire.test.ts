// Wire compatibility: messages encoded with our definitions decode correctly
// with the definitions shipped by the etcd3 npm client (etcd's own .proto
// files), and the other way round. Enums are compared by number, because the
// etcd3 package renames enum values (Put vs PUT) — names never reach the wire.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSync } from '@grpc/proto-loader';
import { loadEtcdProtos, PROTO_FILES, PROTO_LOADER_OPTIONS, protoDirectory } from '../../../node/api/proto/load.js';
import { loadOurs, loadReference, method } from './etcd3-reference.js';

const ours = loadEtcdProtos().packageDefinition;
const oursNumeric = loadOurs({ enums: Number });
const refNumeric = loadReference({ enums: Number });

const b = (s: string) => Buffer.from(s);
const header = { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '9223372036854775807', raft_term: '18446744073709551615' };
const kv = (key: string, rev: string) => ({ key: b(key), create_revision: '2', mod_revision: rev, version: '3', value: b(`value of ${key}`), lease: '7587862072907233406' });

interface Case {
  name: string;
  service: string;
  method: string;
  side: 'request' | 'response';
  /** A message with every field set to a non-default value, in the loader's decoded shape. */
  value: Record<string, unknown>;
}

const rangeRequestAll = {
  key: b('a'),
  range_end: b('z'),
  limit: '10',
  revision: '-1',
  sort_order: 'DESCEND',
  sort_target: 'MOD',
  serializable: true,
  keys_only: true,
  count_only: true,
  min_mod_revision: '1',
  max_mod_revision: '2',
  min_create_revision: '3',
  max_create_revision: '4',
};
const putRequestAll = { key: b('k'), value: b('v'), lease: '42', prev_kv: true, ignore_value: true, ignore_lease: true };
const deleteRangeAll = { key: b('d'), range_end: b('e'), prev_kv: true };

const cases: Case[] = [
  { name: 'RangeRequest with every field', service: 'KV', method: 'Range', side: 'request', value: rangeRequestAll },
  {
    name: 'RangeResponse',
    service: 'KV',
    method: 'Range',
    side: 'response',
    value: { header, kvs: [kv('a', '5'), kv('b', '6')], more: true, count: '2' },
  },
  { name: 'PutRequest', service: 'KV', method: 'Put', side: 'request', value: putRequestAll },
  { name: 'PutResponse', service: 'KV', method: 'Put', side: 'response', value: { header, prev_kv: kv('k', '4') } },
  { name: 'DeleteRangeResponse', service: 'KV', method: 'DeleteRange', side: 'response', value: { header, deleted: '2', prev_kvs: [kv('d', '3')] } },
  {
    name: 'TxnRequest with nested compares and ops',
    service: 'KV',
    method: 'Txn',
    side: 'request',
    value: {
      compare: [
        { result: 'EQUAL', target: 'VERSION', key: b('a'), range_end: b(''), version: '0', target_union: 'version' },
        { result: 'GREATER', target: 'CREATE', key: b('b'), range_end: b('c'), create_revision: '5', target_union: 'create_revision' },
        { result: 'LESS', target: 'MOD', key: b('c'), range_end: b(''), mod_revision: '6', target_union: 'mod_revision' },
        { result: 'NOT_EQUAL', target: 'VALUE', key: b('d'), range_end: b('\0'), value: b('x'), target_union: 'value' },
        { result: 'EQUAL', target: 'LEASE', key: b('e'), range_end: b(''), lease: '99', target_union: 'lease' },
      ],
      success: [
        { request_range: rangeRequestAll, request: 'request_range' },
        { request_put: putRequestAll, request: 'request_put' },
        { request_delete_range: deleteRangeAll, request: 'request_delete_range' },
        {
          request_txn: {
            compare: [{ result: 'EQUAL', target: 'VALUE', key: b('n'), range_end: b(''), value: b(''), target_union: 'value' }],
            success: [{ request_put: putRequestAll, request: 'request_put' }],
            failure: [{ request_range: rangeRequestAll, request: 'request_range' }],
          },
          request: 'request_txn',
        },
      ],
      failure: [{ request_delete_range: deleteRangeAll, request: 'request_delete_range' }],
    },
  },
  {
    name: 'TxnResponse with nested responses',
    service: 'KV',
    method: 'Txn',
    side: 'response',
    value: {
      header,
      succeeded: true,
      responses: [
        { response_range: { header, kvs: [kv('a', '5')], more: false, count: '1' }, response: 'response_range' },
        { response_put: { header, prev_kv: null }, response: 'response_put' },
        { response_delete_range: { header, deleted: '1', prev_kvs: [] }, response: 'response_delete_range' },
        { response_txn: { header, succeeded: false, responses: [{ response_put: { header, prev_kv: kv('z', '1') }, response: 'response_put' }] }, response: 'response_txn' },
      ],
    },
  },
  { name: 'CompactionRequest', service: 'KV', method: 'Compact', side: 'request', value: { revision: '100', physical: true } },
  {
    name: 'WatchRequest create',
    service: 'Watch',
    method: 'Watch',
    side: 'request',
    value: {
      create_request: {
        key: b('w'),
        range_end: b('x'),
        start_revision: '12',
        progress_notify: true,
        filters: ['NOPUT', 'NODELETE'],
        prev_kv: true,
        watch_id: '3',
        fragment: true,
      },
      request_union: 'create_request',
    },
  },
  { name: 'WatchRequest cancel', service: 'Watch', method: 'Watch', side: 'request', value: { cancel_request: { watch_id: '3' }, request_union: 'cancel_request' } },
  { name: 'WatchRequest progress', service: 'Watch', method: 'Watch', side: 'request', value: { progress_request: {}, request_union: 'progress_request' } },
  {
    name: 'WatchResponse with events and compact_revision',
    service: 'Watch',
    method: 'Watch',
    side: 'response',
    value: {
      header,
      watch_id: '3',
      created: true,
      canceled: true,
      compact_revision: '11',
      cancel_reason: 'mvcc: required revision has been compacted',
      fragment: true,
      events: [
        { type: 'PUT', kv: kv('w', '12'), prev_kv: kv('w', '10') },
        { type: 'DELETE', kv: { key: b('w'), create_revision: '0', mod_revision: '13', version: '0', value: b(''), lease: '0' }, prev_kv: null },
      ],
    },
  },
  { name: 'LeaseGrantRequest', service: 'Lease', method: 'LeaseGrant', side: 'request', value: { TTL: '60', ID: '7587862072907233406' } },
  { name: 'LeaseGrantResponse', service: 'Lease', method: 'LeaseGrant', side: 'response', value: { header, ID: '7587862072907233406', TTL: '60', error: 'nope' } },
  { name: 'LeaseKeepAliveRequest', service: 'Lease', method: 'LeaseKeepAlive', side: 'request', value: { ID: '-5' } },
  { name: 'LeaseKeepAliveResponse', service: 'Lease', method: 'LeaseKeepAlive', side: 'response', value: { header, ID: '5', TTL: '59' } },
  {
    name: 'LeaseTimeToLiveResponse',
    service: 'Lease',
    method: 'LeaseTimeToLive',
    side: 'response',
    value: { header, ID: '5', TTL: '-1', grantedTTL: '60', keys: [b('a'), b('b')] },
  },
  { name: 'LeaseLeasesResponse', service: 'Lease', method: 'LeaseLeases', side: 'response', value: { header, leases: [{ ID: '1' }, { ID: '2' }] } },
  { name: 'MemberAddRequest with isLearner', service: 'Cluster', method: 'MemberAdd', side: 'request', value: { peerURLs: ['http://a:2380', 'http://b:2380'], isLearner: true } },
  {
    name: 'MemberAddResponse with isLearner',
    service: 'Cluster',
    method: 'MemberAdd',
    side: 'response',
    value: {
      header,
      member: { ID: '18446744073709551615', name: '', peerURLs: ['http://c:2380'], clientURLs: [], isLearner: true },
      members: [
        { ID: '1', name: 'one', peerURLs: ['http://a:2380'], clientURLs: ['http://a:2379'], isLearner: false },
        { ID: '18446744073709551615', name: 'three', peerURLs: ['http://c:2380'], clientURLs: ['http://c:2379', 'https://c:2379'], isLearner: true },
      ],
    },
  },
  { name: 'MemberListRequest', service: 'Cluster', method: 'MemberList', side: 'request', value: { linearizable: true } },
  { name: 'MemberUpdateRequest', service: 'Cluster', method: 'MemberUpdate', side: 'request', value: { ID: '12', peerURLs: ['http://x:2380'] } },
  { name: 'MemberPromoteRequest', service: 'Cluster', method: 'MemberPromote', side: 'request', value: { ID: '13' } },
  {
    name: 'StatusResponse',
    service: 'Maintenance',
    method: 'Status',
    side: 'response',
    value: {
      header,
      version: '3.5.17',
      dbSize: '1048576',
      leader: '10276657743932975437',
      raftIndex: '1000',
      raftTerm: '4',
      raftAppliedIndex: '999',
      errors: ['memberID:1 alarm:NOSPACE'],
      dbSizeInUse: '524288',
      isLearner: true,
    },
  },
  { name: 'SnapshotResponse', service: 'Maintenance', method: 'Snapshot', side: 'response', value: { header, remaining_bytes: '4096', blob: Buffer.from([0, 1, 2, 255]) } },
  { name: 'AlarmRequest', service: 'Maintenance', method: 'Alarm', side: 'request', value: { action: 'DEACTIVATE', memberID: '9', alarm: 'CORRUPT' } },
  {
    name: 'AlarmResponse',
    service: 'Maintenance',
    method: 'Alarm',
    side: 'response',
    value: { header, alarms: [{ memberID: '1', alarm: 'NOSPACE' }, { memberID: '2', alarm: 'CORRUPT' }] },
  },
  { name: 'HashKVRequest', service: 'Maintenance', method: 'HashKV', side: 'request', value: { revision: '77' } },
  { name: 'HashResponse', service: 'Maintenance', method: 'Hash', side: 'response', value: { header, hash: 4294967295 } },
  { name: 'MoveLeaderRequest', service: 'Maintenance', method: 'MoveLeader', side: 'request', value: { targetID: '18446744073709551614' } },
  { name: 'DowngradeRequest', service: 'Maintenance', method: 'Downgrade', side: 'request', value: { action: 'ENABLE', version: '3.4' } },
  { name: 'DowngradeResponse', service: 'Maintenance', method: 'Downgrade', side: 'response', value: { header, version: '3.5' } },
  { name: 'AuthStatusResponse', service: 'Auth', method: 'AuthStatus', side: 'response', value: { header, enabled: true, authRevision: '3' } },
  {
    name: 'AuthRoleGrantPermissionRequest',
    service: 'Auth',
    method: 'RoleGrantPermission',
    side: 'request',
    value: { name: 'r', perm: { permType: 'READWRITE', key: b('a'), range_end: b('b') } },
  },
];

function codec(def: typeof ours, c: Case) {
  const m = method(def, c.service, c.method);
  return c.side === 'request'
    ? { encode: m.requestSerialize, decode: m.requestDeserialize }
    : { encode: m.responseSerialize, decode: m.responseDeserialize };
}

/** Fails unless the value sets at least one non-default field at every level (guards the fixtures themselves). */
function assertMeaningful(value: unknown, path: string): void {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return; // an empty message (WatchProgressRequest)
    assert.ok(
      entries.some(([, v]) => v !== '0' && v !== false && v !== '' && v !== null && !(Buffer.isBuffer(v) && v.length === 0)),
      `${path} sets something`,
    );
    for (const [k, v] of entries) assertMeaningful(v, `${path}.${k}`);
  } else if (Array.isArray(value)) value.forEach((v, i) => assertMeaningful(v, `${path}[${i}]`));
}

for (const c of cases) {
  test(`wire: ${c.name} (${c.service}.${c.method} ${c.side})`, () => {
    assertMeaningful(c.value, c.name);
    const ourBytes = codec(ours, c).encode(c.value);

    // Our own round trip restores every field exactly.
    assert.deepEqual(codec(ours, c).decode(ourBytes), c.value);

    // etcd's definitions read our bytes with the same meaning.
    const theirView = codec(refNumeric, c).decode(ourBytes);
    const ourView = codec(oursNumeric, c).decode(ourBytes);
    assert.deepEqual(theirView, ourView);

    // And bytes written by etcd's definitions read back as the same message.
    const theirBytes = codec(refNumeric, c).encode(theirView);
    assert.deepEqual(codec(ours, c).decode(theirBytes), c.value);
    assert.equal(Buffer.compare(theirBytes, ourBytes), 0, 'both definitions produce identical bytes');
  });
}

test('wire: the comparison catches a renumbered field (negative control)', () => {
  // Copy our files, renumber RangeResponse.count, and run the same check.
  const dir = mkdtempSync(join(tmpdir(), 'kvorum-proto-'));
  try {
    for (const f of PROTO_FILES) copyFileSync(join(protoDirectory(), f), join(dir, f));
    const rpc = readFileSync(join(dir, 'rpc.proto'), 'utf8');
    const broken = rpc.replace(/int64 count = 4;/, 'int64 count = 5;');
    assert.notEqual(broken, rpc);
    writeFileSync(join(dir, 'rpc.proto'), broken);
    const mutated = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, enums: Number, includeDirs: [dir] });
    const value = { header, kvs: [], more: false, count: '3' };
    const bytes = method(mutated, 'KV', 'Range').responseSerialize(value);
    const theirs = method(refNumeric, 'KV', 'Range').responseDeserialize(bytes) as { count: string };
    assert.equal(theirs.count, '0', 'etcd does not find count where the mutated file put it');
    assert.notDeepEqual(theirs, method(mutated, 'KV', 'Range').responseDeserialize(bytes));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wire: HashKVResponse.hash_revision (newer than the etcd3 package) is skipped by older readers without harm', () => {
  const ourM = method(ours, 'Maintenance', 'HashKV');
  const bytes = ourM.responseSerialize({ header, hash: 123, compact_revision: '4', hash_revision: '9' });
  const theirs = method(refNumeric, 'Maintenance', 'HashKV').responseDeserialize(bytes) as Record<string, unknown>;
  assert.equal(theirs.hash, 123);
  assert.equal(theirs.compact_revision, '4');
  assert.equal('hash_revision' in theirs, false);
  assert.equal((ourM.responseDeserialize(bytes) as Record<string, unknown>).hash_revision, '9');
});

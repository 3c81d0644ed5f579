// The interfaces in messages.ts must describe what the loader really hands
// over. Each key table below is typed `Record<keyof T, FieldKind>`, so the
// compiler fails if it lists a key the interface lacks or misses one it has;
// the test then checks the same keys and value kinds against a decoded
// default message.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadEtcdProtos, protoDirectory } from '../../../node/api/proto/load.js';
import type * as M from '../../../node/api/proto/messages.js';
import { method } from './etcd3-reference.js';

type FieldKind = 'int64' | 'bytes' | 'enum' | 'bool' | 'string' | 'number' | 'message' | 'list';

const defs = loadEtcdProtos().packageDefinition;

function kindOf(v: unknown): FieldKind {
  if (Buffer.isBuffer(v)) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v === null) return 'message';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return /^-?\d+$/.test(v) ? 'int64' : /^[A-Z_]+$/.test(v) ? 'enum' : 'string';
  throw new Error(`unexpected value ${String(v)}`);
}

function check(service: string, name: string, side: 'request' | 'response', expected: Record<string, FieldKind>): void {
  const m = method(defs, service, name);
  const decoded = (side === 'request' ? m.requestDeserialize(Buffer.alloc(0)) : m.responseDeserialize(Buffer.alloc(0))) as Record<string, unknown>;
  const actual = Object.fromEntries(Object.entries(decoded).map(([k, v]) => [k, kindOf(v)]));
  // An empty string field decodes as '' and reads as 'string'; enums decode to their zero name.
  assert.deepEqual(actual, expected, `${service}.${name} ${side}`);
}

test('messages: interface keys and value kinds match decoded messages', () => {
  const header = 'message' as const;
  check('KV', 'Range', 'request', {
    key: 'bytes', range_end: 'bytes', limit: 'int64', revision: 'int64', sort_order: 'enum', sort_target: 'enum', serializable: 'bool',
    keys_only: 'bool', count_only: 'bool', min_mod_revision: 'int64', max_mod_revision: 'int64', min_create_revision: 'int64', max_create_revision: 'int64',
  } satisfies Record<keyof M.RangeRequest, FieldKind>);
  check('KV', 'Range', 'response', { header, kvs: 'list', more: 'bool', count: 'int64' } satisfies Record<keyof M.RangeResponse, FieldKind>);
  check('KV', 'Put', 'request', {
    key: 'bytes', value: 'bytes', lease: 'int64', prev_kv: 'bool', ignore_value: 'bool', ignore_lease: 'bool',
  } satisfies Record<keyof M.PutRequest, FieldKind>);
  check('KV', 'Put', 'response', { header, prev_kv: 'message' } satisfies Record<keyof M.PutResponse, FieldKind>);
  check('KV', 'DeleteRange', 'response', { header, deleted: 'int64', prev_kvs: 'list' } satisfies Record<keyof M.DeleteRangeResponse, FieldKind>);
  check('KV', 'Txn', 'request', { compare: 'list', success: 'list', failure: 'list' } satisfies Record<keyof M.TxnRequest, FieldKind>);
  check('KV', 'Txn', 'response', { header, succeeded: 'bool', responses: 'list' } satisfies Record<keyof M.TxnResponse, FieldKind>);
  check('KV', 'Compact', 'request', { revision: 'int64', physical: 'bool' } satisfies Record<keyof M.CompactionRequest, FieldKind>);
  check('Watch', 'Watch', 'response', {
    header, watch_id: 'int64', created: 'bool', canceled: 'bool', compact_revision: 'int64', cancel_reason: 'string', fragment: 'bool', events: 'list',
  } satisfies Record<keyof M.WatchResponse, FieldKind>);
  check('Lease', 'LeaseGrant', 'request', { TTL: 'int64', ID: 'int64' } satisfies Record<keyof M.LeaseGrantRequest, FieldKind>);
  check('Lease', 'LeaseGrant', 'response', { header, ID: 'int64', TTL: 'int64', error: 'string' } satisfies Record<keyof M.LeaseGrantResponse, FieldKind>);
  check('Lease', 'LeaseKeepAlive', 'response', { header, ID: 'int64', TTL: 'int64' } satisfies Record<keyof M.LeaseKeepAliveResponse, FieldKind>);
  check('Lease', 'LeaseTimeToLive', 'response', {
    header, ID: 'int64', TTL: 'int64', grantedTTL: 'int64', keys: 'list',
  } satisfies Record<keyof M.LeaseTimeToLiveResponse, FieldKind>);
  check('Cluster', 'MemberAdd', 'request', { peerURLs: 'list', isLearner: 'bool' } satisfies Record<keyof M.MemberAddRequest, FieldKind>);
  check('Cluster', 'MemberAdd', 'response', { header, member: 'message', members: 'list' } satisfies Record<keyof M.MemberAddResponse, FieldKind>);
  check('Cluster', 'MemberList', 'request', { linearizable: 'bool' } satisfies Record<keyof M.MemberListRequest, FieldKind>);
  check('Maintenance', 'Status', 'response', {
    header, version: 'string', dbSize: 'int64', leader: 'int64', raftIndex: 'int64', raftTerm: 'int64', raftAppliedIndex: 'int64',
    errors: 'list', dbSizeInUse: 'int64', isLearner: 'bool',
  } satisfies Record<keyof M.StatusResponse, FieldKind>);
  check('Maintenance', 'Alarm', 'request', { action: 'enum', memberID: 'int64', alarm: 'enum' } satisfies Record<keyof M.AlarmRequest, FieldKind>);
  check('Maintenance', 'Snapshot', 'response', { header, remaining_bytes: 'int64', blob: 'bytes' } satisfies Record<keyof M.SnapshotResponse, FieldKind>);
  check('Maintenance', 'HashKV', 'response', {
    header, hash: 'number', compact_revision: 'int64', hash_revision: 'int64',
  } satisfies Record<keyof M.HashKVResponse, FieldKind>);
  check('Maintenance', 'MoveLeader', 'request', { targetID: 'int64' } satisfies Record<keyof M.MoveLeaderRequest, FieldKind>);
  check('Maintenance', 'Downgrade', 'request', { action: 'enum', version: 'string' } satisfies Record<keyof M.DowngradeRequest, FieldKind>);
  check('Auth', 'AuthStatus', 'response', { header, enabled: 'bool', authRevision: 'int64' } satisfies Record<keyof M.AuthStatusResponse, FieldKind>);
});

test('messages: nested shapes (KeyValue, Event, Member, Compare, RequestOp) match decoded messages', () => {
  const watch = method(defs, 'Watch', 'Watch');
  const res = watch.responseDeserialize(watch.responseSerialize({ events: [{ kv: {}, prev_kv: {} }] })) as M.WatchResponse;
  const ev = res.events[0]!;
  assert.deepEqual(Object.keys(ev).sort(), (['type', 'kv', 'prev_kv'] satisfies Array<keyof M.Event>).sort());
  assert.equal(ev.type, 'PUT');
  assert.deepEqual(Object.keys(ev.kv!).sort(), (['key', 'create_revision', 'mod_revision', 'version', 'value', 'lease'] satisfies Array<keyof M.KeyValue>).sort());
  const list = method(defs, 'Cluster', 'MemberList');
  const members = (list.responseDeserialize(list.responseSerialize({ members: [{}] })) as M.MemberListResponse).members;
  assert.deepEqual(Object.keys(members[0]!).sort(), (['ID', 'name', 'peerURLs', 'clientURLs', 'isLearner'] satisfies Array<keyof M.Member>).sort());
  const txn = method(defs, 'KV', 'Txn');
  const t = txn.requestDeserialize(txn.requestSerialize({ compare: [{ lease: '3' }], success: [{ request_txn: {} }] })) as M.TxnRequest;
  const c = t.compare[0]!;
  assert.equal(c.target_union, 'lease');
  if (c.target_union === 'lease') assert.equal(c.lease, '3');
  const op = t.success[0]!;
  assert.equal(op.request, 'request_txn');
  if (op.request === 'request_txn') assert.deepEqual(op.request_txn, { compare: [], success: [], failure: [] });
});

test('load: KVORUM_PROTO_DIR overrides the search and is validated', () => {
  const saved = process.env.KVORUM_PROTO_DIR;
  const empty = mkdtempSync(join(tmpdir(), 'kvorum-noproto-'));
  try {
    process.env.KVORUM_PROTO_DIR = empty;
    assert.throws(() => protoDirectory(), /does not contain rpc.proto/);
    writeFileSync(join(empty, 'rpc.proto'), 'syntax = "proto3";\n');
    assert.equal(protoDirectory(), empty);
  } finally {
    if (saved === undefined) delete process.env.KVORUM_PROTO_DIR;
    else process.env.KVORUM_PROTO_DIR = saved;
    rmSync(empty, { recursive: true, force: true });
  }
  assert.notEqual(protoDirectory(), empty);
});

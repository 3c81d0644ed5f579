import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Server, ServerCredentials, credentials, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import {
  authService,
  clusterService,
  ETCD_SERVICE_NAMES,
  etcdServices,
  kvService,
  leaseService,
  loadEtcdProtos,
  maintenanceService,
  protoDirectory,
  serviceDefinition,
  watchService,
} from '../../../node/api/proto/load.js';
import type { Compare, RangeRequest, RequestOp, WatchRequest } from '../../../node/api/proto/messages.js';
import { method } from './etcd3-reference.js';

test('the proto directory is found from the compiled module and holds all three files', () => {
  const dir = protoDirectory();
  for (const f of ['rpc.proto', 'kv.proto', 'auth.proto']) assert.ok(existsSync(join(dir, f)), `${f} in ${dir}`);
  assert.match(dir, /node[\\/]api[\\/]proto$/);
});

test('loadEtcdProtos loads every package and caches the result', () => {
  const a = loadEtcdProtos();
  assert.equal(loadEtcdProtos(), a);
  for (const name of ['mvccpb.KeyValue', 'mvccpb.Event', 'authpb.User', 'authpb.Permission', 'authpb.Role', 'etcdserverpb.ResponseHeader', 'etcdserverpb.AlarmType']) {
    assert.ok(a.packageDefinition[name], `${name} is defined`);
  }
  const etcdserverpb = a.grpcObject.etcdserverpb as GrpcObject;
  assert.equal(typeof etcdserverpb.KV, 'function', 'grpcObject exposes client constructors');
});

test('service definitions carry the expected methods and streaming modes', () => {
  assert.deepEqual(Object.keys(kvService).sort(), ['Compact', 'DeleteRange', 'Put', 'Range', 'Txn']);
  assert.deepEqual(Object.keys(watchService), ['Watch']);
  assert.equal(watchService.Watch!.requestStream, true);
  assert.equal(watchService.Watch!.responseStream, true);
  assert.deepEqual(Object.keys(leaseService).sort(), ['LeaseGrant', 'LeaseKeepAlive', 'LeaseLeases', 'LeaseRevoke', 'LeaseTimeToLive']);
  assert.equal(leaseService.LeaseKeepAlive!.requestStream && leaseService.LeaseKeepAlive!.responseStream, true);
  assert.deepEqual(Object.keys(clusterService).sort(), ['MemberAdd', 'MemberList', 'MemberPromote', 'MemberRemove', 'MemberUpdate']);
  assert.deepEqual(Object.keys(maintenanceService).sort(), ['Alarm', 'Defragment', 'Downgrade', 'Hash', 'HashKV', 'MoveLeader', 'Snapshot', 'Status']);
  assert.equal(maintenanceService.Snapshot!.requestStream, false);
  assert.equal(maintenanceService.Snapshot!.responseStream, true);
  assert.equal(Object.keys(authService).length, 17);
  assert.equal(kvService.Range!.path, '/etcdserverpb.KV/Range');
  assert.deepEqual(ETCD_SERVICE_NAMES.map((n) => etcdServices[n]), [kvService, watchService, leaseService, clusterService, maintenanceService, authService]);
  assert.throws(() => serviceDefinition('Nope' as never), /not a service/);
});

test('decoded messages: snake_case names, int64 strings, Buffers, enum names, defaults, oneof markers', () => {
  const range = method(loadEtcdProtos().packageDefinition, 'KV', 'Range');
  const req = range.requestDeserialize(range.requestSerialize({ key: Buffer.from('a'), limit: '9007199254740993', sort_order: 2 })) as RangeRequest;
  assert.ok(Buffer.isBuffer(req.key));
  assert.equal(req.key.toString(), 'a');
  assert.equal(req.limit, '9007199254740993', 'int64 beyond 2^53 survives exactly');
  assert.equal(req.sort_order, 'DESCEND', 'enums decode to names');
  assert.equal(req.sort_target, 'KEY', 'unset enums default to the zero name');
  assert.equal(req.revision, '0');
  assert.equal(req.serializable, false);
  assert.ok(Buffer.isBuffer(req.range_end) && req.range_end.length === 0);

  const txn = method(loadEtcdProtos().packageDefinition, 'KV', 'Txn');
  const t = txn.requestDeserialize(
    txn.requestSerialize({ compare: [{ target: 'MOD', key: Buffer.from('k'), mod_revision: '0' }], success: [{ request_put: { key: Buffer.from('k') } }] }),
  ) as { compare: Compare[]; success: RequestOp[]; failure: RequestOp[] };
  const c = t.compare[0]!;
  assert.equal(c.target_union, 'mod_revision', 'a oneof member set to its default is still marked as set');
  assert.equal(c.target_union === 'mod_revision' && c.mod_revision, '0');
  assert.equal('version' in c, false, 'unset oneof members are absent');
  assert.equal(t.success[0]!.request, 'request_put');
  assert.deepEqual(t.failure, []);

  const watch = method(loadEtcdProtos().packageDefinition, 'Watch', 'Watch');
  const w = watch.requestDeserialize(watch.requestSerialize({ progress_request: {} })) as WatchRequest;
  assert.equal(w.request_union, 'progress_request');
});

test('a grpc-js server accepts the definitions and serves a unary call end to end', async () => {
  const server = new Server();
  server.addService(kvService, {
    Range: (call: { request: RangeRequest }, cb: (err: null, res: object) => void) =>
      cb(null, { header: { revision: '7', cluster_id: '18446744073709551615' }, kvs: [{ key: call.request.key, value: Buffer.from('v'), mod_revision: '7' }], count: '1' }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  try {
    const KV = (loadEtcdProtos().grpcObject.etcdserverpb as GrpcObject).KV as ServiceClientConstructor;
    const client = new KV(`127.0.0.1:${port}`, credentials.createInsecure());
    const res = await new Promise<Record<string, unknown>>((resolve, reject) =>
      client.Range({ key: Buffer.from('foo') }, (err: Error | null, r: Record<string, unknown>) => (err ? reject(err) : resolve(r))),
    );
    client.close();
    assert.deepEqual(res.header, { cluster_id: '18446744073709551615', member_id: '0', revision: '7', raft_term: '0' });
    const kvs = res.kvs as Array<{ key: Buffer; value: Buffer; mod_revision: string }>;
    assert.equal(kvs[0]!.key.toString(), 'foo');
    assert.equal(kvs[0]!.mod_revision, '7');
    assert.equal(res.count, '1');
  } finally {
    server.forceShutdown();
  }
});


// A real etcd client (the etcd3 npm package) talks to a grpc-js server built
// from our definitions: puts, gets, a prefix range and a delete pass
// through both encoders intact, and a watcher sees a DELETE event and is
// cancelled through the bidirectional stream.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { kvService, watchService } from '../../../node/api/proto/load.js';
import type { DeleteRangeRequest, DeleteRangeResponse, Outgoing, PutRequest, RangeRequest, RangeResponse, WatchRequest, WatchResponse } from '../../../node/api/proto/messages.js';

test('the etcd3 npm client works against our service definitions', async () => {
  const store = new Map<string, { value: Buffer; mod: number }>();
  let revision = 1;
  const header = () => ({ cluster_id: '18446744073709551615', member_id: '1', revision: String(revision), raft_term: '2' });
  const seen: PutRequest[] = [];
  let watchCreate: WatchRequest | undefined;
  let watchStream: ServerDuplexStream<WatchRequest, Outgoing<WatchResponse>> | undefined;

  const server = new Server();
  server.addService(kvService, {
    Put: (call: ServerUnaryCall<PutRequest, unknown>, cb: sendUnaryData<object>) => {
      seen.push(call.request);
      revision++;
      store.set(call.request.key.toString('latin1'), { value: call.request.value, mod: revision });
      cb(null, { header: header() });
    },
    DeleteRange: (call: ServerUnaryCall<DeleteRangeRequest, unknown>, cb: sendUnaryData<Outgoing<DeleteRangeResponse>>) => {
      revision++;
      const existed = store.delete(call.request.key.toString('latin1'));
      // Tell the (single) watcher about it, as an etcd server would.
      watchStream?.write({ header: header(), watch_id: '0', events: [{ type: 'DELETE', kv: { key: call.request.key, mod_revision: String(revision) } }] });
      cb(null, { header: header(), deleted: existed ? '1' : '0' });
    },
    Range: (call: ServerUnaryCall<RangeRequest, unknown>, cb: sendUnaryData<Outgoing<RangeResponse>>) => {
      const { key, range_end } = call.request;
      const lo = key.toString('latin1');
      const hi = range_end.length ? range_end.toString('latin1') : undefined;
      const kvs = [...store]
        .filter(([k]) => (hi === undefined ? k === lo : k >= lo && k < hi))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => ({ key: Buffer.from(k, 'latin1'), value: v.value, create_revision: String(v.mod), mod_revision: String(v.mod), version: '1' }));
      cb(null, { header: header(), kvs, count: String(kvs.length) });
    },
  });
  server.addService(watchService, {
    Watch: (call: ServerDuplexStream<WatchRequest, Outgoing<WatchResponse>>) => {
      call.on('data', (req: WatchRequest) => {
        if (req.request_union === 'create_request') {
          watchCreate = req;
          watchStream = call;
          call.write({ header: header(), watch_id: '0', created: true });
        } else if (req.request_union === 'cancel_request') {
          watchStream = undefined;
          call.write({ header: header(), watch_id: req.cancel_request.watch_id, canceled: true });
        }
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new Etcd3({ hosts: `127.0.0.1:${port}` });
  try {
    await client.put('alpha').value('one');
    await client.put('alpha/b').value(Buffer.from([0, 255]));
    assert.equal(seen[0]!.key.toString(), 'alpha');
    assert.equal(seen[0]!.value.toString(), 'one');

    assert.equal(await client.get('alpha').string(), 'one');
    assert.deepEqual(await client.get('alpha/b').buffer(), Buffer.from([0, 255]));
    assert.deepEqual(await client.getAll().prefix('alpha').keys(), ['alpha', 'alpha/b']);

    const watcher = await client.watch().key('alpha').create();
    assert.equal(watchCreate?.request_union, 'create_request');
    assert.equal(watchCreate.request_union === 'create_request' && watchCreate.create_request.key.toString(), 'alpha');
    const deleted = new Promise<{ key: Buffer; mod_revision: string }>((resolve) => watcher.on('delete', (kv) => resolve(kv)));
    const res = await client.delete().key('alpha').exec();
    assert.equal(res.deleted, '1');
    const kv = await deleted;
    assert.equal(kv.key.toString(), 'alpha');
    assert.equal(kv.mod_revision, String(revision));
    await watcher.cancel();
    assert.equal(watchStream, undefined, 'the cancel request reached the server');
  } finally {
    client.close();
    server.forceShutdown();
  }
});

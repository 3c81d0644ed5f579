// Found by the wire fuzzer (test/integration/fuzz-wire.test.ts): a txn nested
// 600 deep, sent to the gateway as JSON (which has no nesting limit of its
// own), was answered INTERNAL "etcdserver: cbor: value nested too deeply" and
// logged as an unexpected error, because the op limit was checked only when
// the entry was applied, after encoding it for the log. etcd checks a txn's
// shape before proposing it and answers "too many operations in txn request".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { kvService } from '../../../node/api/grpc/services.js';
import type { Pb } from '../../../node/api/grpc/convert.js';
import { InProcessCluster } from '../server/in-process-cluster.js';

type Handler = (call: { request: Pb }, cb: (err: { code: number; details: string } | null, res?: Pb) => void) => void;

function nested(depth: number, key: string): Pb {
  let req: Pb = { success: [{ request_put: { key: Buffer.from(key), value: Buffer.from('v') } }] };
  for (let i = 1; i < depth; i++) req = { success: [{ request_txn: req }] };
  return req;
}

test('a txn past the op limit is refused as etcd refuses it, before it reaches the log, nested 600 deep as the gateway admits', async (t) => {
  const cluster = new InProcessCluster(1);
  t.after(() => cluster.close());
  await cluster.startAll();
  const server = (await cluster.waitForLeader()).server;
  const errors: string[] = [];
  const logger = pino({ level: 'warn' }, new Writable({ write: (line: Buffer, _e, cb) => (errors.push(line.toString()), cb()) }));
  const txn = kvService({ server, logger, version: 'test', maxRequestBytes: 1.5 * 1024 * 1024 }).Txn as unknown as Handler;
  const call = (request: Pb): Promise<{ err: { code: number; details: string } | null; res?: Pb }> =>
    new Promise((resolve) => txn({ request }, (err, res) => resolve({ err, res })));

  const ok = await call(nested(128, 'deep128'));
  assert.equal(ok.err, null, 'etcd\'s op limit (128 levels) is allowed');
  const revision = server.header().revision;
  const index = server.status('test').raftIndex;
  for (const depth of [129, 600]) {
    const { err } = await call(nested(depth, `deep${depth}`));
    assert.equal(err?.code, status.INVALID_ARGUMENT, `depth ${depth}: ${err?.details}`);
    assert.equal(err?.details, 'etcdserver: too many operations in txn request');
  }
  // A put twice in one txn is refused the same way, early.
  const twice = await call({ success: [{ request_put: { key: Buffer.from('k'), value: Buffer.from('1') } }, { request_put: { key: Buffer.from('k'), value: Buffer.from('2') } }] });
  assert.equal(twice.err?.details, 'etcdserver: duplicate key given in txn request');
  assert.equal(server.header().revision, revision, 'nothing was written');
  assert.equal(server.status('test').raftIndex, index, 'no log entry was spent on a refused txn');
  assert.deepEqual(errors, [], 'nothing was logged as an unexpected error');
});

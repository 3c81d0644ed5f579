// The hot unary path (node/api/grpc/hot-unary.ts) answers exactly as
// grpc-js does, in the core and through client workers (api/workers): three
// single-member clusters, one with the path, one without
// (KVORUM_GRPC_HOT_PATH=0) and one with --client-workers 2, get the same raw
// HTTP/2 requests, well formed and not, and must give the same HTTP status,
// gRPC status, message, headers and response (less the IDs in the response
// header).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, constants as h2, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { gzipSync } from 'node:zlib';
import { loadEtcdProtos } from '../../contract/etcd-proto.js';
import { ProcessCluster } from './process-cluster.js';

type MethodDef = { requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown };

function method(name: string): MethodDef {
  const def = loadEtcdProtos().packageDefinition['etcdserverpb.KV'] as unknown as Record<string, MethodDef>;
  return def[name]!;
}

function frame(message: Buffer, compressed = false): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

interface Answer {
  httpStatus: number;
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
  contentType: string | undefined;
  grpcEncoding: string | undefined;
  response: unknown;
}

const put = (key: string, value: string): Buffer => method('Put').requestSerialize({ key: Buffer.from(key), value: Buffer.from(value) });
const range = (key: string, revision = 0): Buffer => method('Range').requestSerialize({ key: Buffer.from(key), revision });

/** Each case: a path, extra headers and the request body as sent (frames included). */
const CASES: Array<{ name: string; path: string; body: Buffer; headers?: Record<string, string> }> = [
  { name: 'a put', path: '/etcdserverpb.KV/Put', body: frame(put('k1', 'v1')) },
  { name: 'a range of it', path: '/etcdserverpb.KV/Range', body: frame(range('k1')) },
  { name: 'two request messages', path: '/etcdserverpb.KV/Put', body: Buffer.concat([frame(put('k2', 'a')), frame(put('k3', 'b'))]) },
  { name: 'no request message', path: '/etcdserverpb.KV/Put', body: Buffer.alloc(0) },
  { name: 'a complete message and the start of another', path: '/etcdserverpb.KV/Put', body: Buffer.concat([frame(put('k4', 'c')), Buffer.from([0, 0, 0])]) },
  { name: 'the compressed flag without grpc-encoding', path: '/etcdserverpb.KV/Put', body: frame(put('k5', 'd'), true) },
  { name: 'malformed protobuf', path: '/etcdserverpb.KV/Put', body: frame(Buffer.from([0x0d, 0x01, 0x02, 0x03, 0x04])) },
  { name: 'a declared length past the limit', path: '/etcdserverpb.KV/Put', body: Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]) },
  { name: 'a second message declared past the limit', path: '/etcdserverpb.KV/Put', body: Buffer.concat([frame(put('k9', 'g')), Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2])]) },
  { name: 'a value past the request limit', path: '/etcdserverpb.KV/Put', body: frame(put('k6', 'x'.repeat(1700 * 1024))) },
  { name: 'a gzip-compressed put', path: '/etcdserverpb.KV/Put', body: frame(gzipSync(put('k7', 'e')), true), headers: { 'grpc-encoding': 'gzip' } },
  { name: 'a range at a future revision', path: '/etcdserverpb.KV/Range', body: frame(range('k1', 1000)) },
  { name: 'a txn', path: '/etcdserverpb.KV/Txn', body: frame(Buffer.from(loadTxn())) },
  { name: 'a delete', path: '/etcdserverpb.KV/DeleteRange', body: frame(method('DeleteRange').requestSerialize({ key: Buffer.from('k1') })) },
  { name: 'another content type', path: '/etcdserverpb.KV/Range', body: frame(range('k1')), headers: { 'content-type': 'application/json' } },
];

function loadTxn(): Buffer {
  return method('Txn').requestSerialize({
    compare: [{ key: Buffer.from('k1'), target: 'VALUE', result: 'EQUAL', value: Buffer.from('v1') }],
    success: [{ request_put: { key: Buffer.from('k8'), value: Buffer.from('f') } }],
    failure: [{ request_range: { key: Buffer.from('k1') } }],
  });
}

function send(session: ClientHttp2Session, c: (typeof CASES)[number]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: c.path, 'content-type': 'application/grpc', te: 'trailers', ...c.headers });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (headers = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', reject);
    req.setTimeout(10_000, () => reject(new Error(`${c.name}: no answer in 10 s`)));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const name = c.path.split('/').pop()!;
      let response: unknown = body.length > 0 ? body.length : undefined;
      if (body.length >= 5 && headers['content-type']?.startsWith('application/grpc')) {
        const decoded = method(name).responseDeserialize(body.subarray(5)) as Record<string, unknown>;
        // The IDs differ between the two clusters; revision and term do not.
        const header = decoded.header as Record<string, unknown> | undefined;
        response = { ...decoded, header: header && { revision: header.revision, raft_term: header.raft_term } };
      }
      const status = (trailers['grpc-status'] ?? headers['grpc-status']) as string | undefined;
      const message = (trailers['grpc-message'] ?? headers['grpc-message']) as string | undefined;
      resolve({
        httpStatus: Number(headers[':status']),
        grpcStatus: status,
        grpcMessage: message,
        contentType: headers['content-type'],
        grpcEncoding: headers['grpc-encoding'] as string | undefined,
        response,
      });
    });
    req.end(c.body);
  });
}

describe('the hot unary path answers as grpc-js does', () => {
  const clusters: ProcessCluster[] = [];
  const sessions: ClientHttp2Session[] = [];
  before(async () => {
    for (const env of [{ KVORUM_GRPC_HOT_PATH: '0' }, { KVORUM_GRPC_HOT_PATH: '1' }, { ETCD_CLIENT_WORKERS: '2' }]) {
      const c = await ProcessCluster.create('kvorum', 1);
      c.members[0]!.env = env;
      await c.startAll();
      clusters.push(c);
      sessions.push(connect(`http://${c.endpoints}`));
    }
  });
  after(async () => {
    for (const s of sessions) s.close();
    for (const c of clusters) await c.destroy();
  });

  test('every case, well formed or not, gets the same answer with and without the hot path, and through client workers', async () => {
    for (const c of CASES) {
      const [grpcJs, hot, workers] = [await send(sessions[0]!, c), await send(sessions[1]!, c), await send(sessions[2]!, c)];
      assert.deepEqual(hot, grpcJs, `${c.name}: hot path ${JSON.stringify(hot)} vs grpc-js ${JSON.stringify(grpcJs)}`);
      assert.deepEqual(workers, grpcJs, `${c.name}: client workers ${JSON.stringify(workers)} vs grpc-js ${JSON.stringify(grpcJs)}`);
    }
    // The cases wrote the same keys on all three.
    const keys = clusters.map((c) => c.ctl(['get', '--prefix', '', '--keys-only']).trim());
    assert.equal(keys[1], keys[0]);
    assert.equal(keys[2], keys[0]);
    assert.match(keys[0]!, /k8/);
  });
});

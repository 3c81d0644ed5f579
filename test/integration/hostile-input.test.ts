// Issue 13's findings on the client port, each as a test named after it,
// against one real member process: hostile or malformed input is refused
// and writes nothing, and nothing committed is answered as a failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as connectH2, constants as h2 } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadEtcdProtos } from '../../contract/etcd-proto.js';
import { raiseProtobufNestingLimit } from '../../node/api/proto/strict-wire.js';
import { ProcessCluster } from './process-cluster.js';

type MethodDef = { requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown };

function method(service: string, name: string): MethodDef {
  const def = loadEtcdProtos().packageDefinition[`etcdserverpb.${service}`] as unknown as Record<string, MethodDef>;
  return def[name]!;
}

describe('hostile input on the client port (issue 13)', () => {
  let c: ProcessCluster;
  let host: string;
  let client: Client;
  /** A unary call with the request given as raw protobuf bytes. */
  const raw = (path: string, body: Buffer): Promise<{ err?: ServiceError; res?: Buffer }> =>
    new Promise((resolve) => {
      client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
        resolve(err ? { err } : { res: res! }),
      );
    });
  const keys = (): string => c.ctl(['get', '--prefix', '', '--keys-only', '--hex']).trim();

  before(async () => {
    c = await ProcessCluster.create('kvorum', 1);
    await c.startAll();
    host = c.endpoints;
    client = new Client(host, credentials.createInsecure());
    // The client side of this process must encode what the member accepts.
    raiseProtobufNestingLimit();
  });
  after(async () => {
    client?.close();
    await c?.destroy();
  });

  test('finding 2: a 50-deep nested txn (and one at 128 levels, etcd\'s op limit) succeeds and says so', async () => {
    const txn = method('KV', 'Txn');
    for (const depth of [50, 128]) {
      const key = `deep${depth}`;
      let req: unknown = { success: [{ request_put: { key: Buffer.from(key), value: Buffer.from('v') } }] };
      for (let i = 1; i < depth; i++) req = { success: [{ request_txn: req }] };
      const { err, res } = await raw('/etcdserverpb.KV/Txn', txn.requestSerialize(req));
      assert.equal(err, undefined, `depth ${depth}: ${err?.message}`);
      const reply = txn.responseDeserialize(res!) as { succeeded: boolean };
      assert.equal(reply.succeeded, true);
      assert.match(c.ctl(['get', key, '--print-value-only']), /^v$/m);
    }
    // One level past the op limit is refused as etcd refuses it, and writes nothing.
    let tooDeep: unknown = { success: [{ request_put: { key: Buffer.from('deep129'), value: Buffer.from('v') } }] };
    for (let i = 1; i < 129; i++) tooDeep = { success: [{ request_txn: tooDeep }] };
    const { err } = await raw('/etcdserverpb.KV/Txn', txn.requestSerialize(tooDeep));
    assert.match(String(err?.details), /too many operations in txn request/);
    assert.equal(c.ctl(['get', 'deep129']), '');
  });

  test('finding 3: malformed protobuf (wrong wire type, compressed flag without grpc-encoding) is refused with INTERNAL and writes nothing', async () => {
    const before = keys();
    const wrongWire = await raw('/etcdserverpb.KV/Put', Buffer.from('0d01020304', 'hex'));
    assert.equal(wrongWire.err?.code, 13, 'INTERNAL');
    for (const hex of ['0a', '0a05616263', '0b', '0880808080808080808080', '7a05', '0a01611201']) {
      const r = await raw('/etcdserverpb.KV/Put', Buffer.from(hex, 'hex'));
      assert.equal(r.err?.code, 13, `${hex} is refused with INTERNAL`);
    }
    // Field 1 (key) = "a", sent with the compressed flag and no grpc-encoding.
    const put = method('KV', 'Put').requestSerialize({ key: Buffer.from('a'), value: Buffer.from('x') });
    const frame = Buffer.concat([Buffer.from([1]), Buffer.alloc(4), put]);
    frame.writeUInt32BE(put.length, 1);
    const session = connectH2(`http://${host}`);
    const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST',
        [h2.HTTP2_HEADER_PATH]: '/etcdserverpb.KV/Put',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let headers: Record<string, unknown> = {};
      req.on('response', (h) => (headers = h));
      req.on('trailers', (t) => resolve({ ...headers, ...t }));
      req.on('end', () => resolve(headers));
      req.on('error', reject);
      req.resume();
      req.end(frame);
    });
    session.close();
    assert.equal(String(trailers['grpc-status']), '13');
    assert.equal(keys(), before, 'nothing was written');
  });

  test('finding 7: an HTTP/1.1 request whose first TCP segment is the single byte "P" is served as HTTP/1.1', async () => {
    const [hostname, port] = host.split(':');
    const socket = netConnect({ host: hostname!, port: Number(port) });
    socket.setNoDelay(true);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const body = JSON.stringify({ key: Buffer.from('p-key').toString('base64') });
    socket.write('P');
    await new Promise((r) => setTimeout(r, 100));
    socket.write(`OST /v3/kv/range HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (text += d));
      socket.on('close', () => resolve(text));
    });
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /"header"/);
  });
  test('finding 5: the gateway\'s /v3/watch answers at once on an incomplete JSON body or []', async () => {
    for (const body of ['{"create_request": {"key":"YQ=="}', '[]', 'x']) {
      const res = await fetch(`http://${host}/v3/watch`, { method: 'POST', body, signal: AbortSignal.timeout(3000) });
      assert.equal(res.status, 500, body);
      const json = (await res.json()) as { error: string; code: number };
      assert.equal(json.code, 2);
      assert.match(json.error, body === '[]' ? /invalid character '\['/ : body === 'x' ? /invalid character 'x'/ : /unexpected EOF/);
    }
  });

  test('finding 8: GET on a gateway path answers 405 as etcd does', async () => {
    const res = await fetch(`http://${host}/v3/kv/range`);
    assert.equal(res.status, 405);
    assert.equal((await res.text()).trim(), 'Method Not Allowed');
  });
  const gatewayPost = async (path: string, body: object): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`http://${host}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  test('finding 8: lease IDs are int64: -1 and IDs beyond 2^53 are granted, used and revoked exactly, as etcd 3.4 does', async () => {
    const b64 = (t: string): string => Buffer.from(t).toString('base64');
    for (const id of ['-1', '9223372036854775807', '9007199254740993', '-9223372036854775808']) {
      // A new cluster raises its entry format to int64 lease IDs once every member has published.
      let grant = await gatewayPost('/v3/lease/grant', { ID: id, TTL: '60' });
      for (const deadline = Date.now() + 10_000; grant.status !== 200 && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 200));
        grant = await gatewayPost('/v3/lease/grant', { ID: id, TTL: '60' });
      }
      assert.equal(grant.status, 200, JSON.stringify(grant.json));
      assert.equal(grant.json.ID, id);
      const put = await gatewayPost('/v3/kv/put', { key: b64(`f8/lease/${id}`), value: b64('v'), lease: id });
      assert.equal(put.status, 200, JSON.stringify(put.json));
      const got = await gatewayPost('/v3/kv/range', { key: b64(`f8/lease/${id}`) });
      assert.equal((got.json.kvs as { lease: string }[])[0]!.lease, id);
      const ttl = await gatewayPost('/v3/lease/timetolive', { ID: id, keys: true });
      assert.deepEqual([ttl.json.ID, ttl.json.grantedTTL, ttl.json.keys], [id, '60', [b64(`f8/lease/${id}`)]]);
      const leases = await gatewayPost('/v3/lease/leases', {});
      assert.ok((leases.json.leases as { ID: string }[]).some((l) => l.ID === id), JSON.stringify(leases.json));
      const alive = await fetch(`http://${host}/v3/lease/keepalive`, { method: 'POST', body: JSON.stringify({ ID: id }), signal: AbortSignal.timeout(5000) });
      // The stream stays open: read its first message only.
      const reader = alive.body!.getReader();
      let text = '';
      while (!text.includes('\n')) text += Buffer.from((await reader.read()).value ?? []).toString();
      await reader.cancel();
      const first = JSON.parse(text.split('\n')[0]!) as { result: { ID: string; TTL: string } };
      assert.deepEqual([first.result.ID, first.result.TTL], [id, '60']);
      assert.equal((await gatewayPost('/v3/lease/revoke', { ID: id })).status, 200);
      assert.equal((await gatewayPost('/v3/kv/range', { key: b64(`f8/lease/${id}`) })).json.kvs, undefined, 'the revoke deleted the key');
    }
    // Over gRPC too, with the ID as protobuf carries it (a 64-bit varint).
    const grant = method('Lease', 'LeaseGrant');
    const res = await raw('/etcdserverpb.Lease/LeaseGrant', grant.requestSerialize({ ID: '-2', TTL: '60' }));
    assert.equal(res.err, undefined, res.err?.message);
    assert.equal((grant.responseDeserialize(res.res!) as { ID: string }).ID, '-2');
  });

  test('finding 8: unpadded base64 in a bytes field is refused as etcd\'s gateway refuses it (400, code 3, Go\'s message)', async () => {
    for (const [key, at] of [['YQ', 0], ['Zm9vYg', 4], ['Zm9vY', 4]] as const) {
      const res = await gatewayPost('/v3/kv/put', { key, value: 'dg==' });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, { error: `illegal base64 data at input byte ${at}`, code: 3, message: `illegal base64 data at input byte ${at}` });
    }
    assert.equal(c.ctl(['get', 'a', '--print-value-only']).trim(), '', 'nothing was written');
  });

  test('finding 8: limit 2^63-1 is accepted (no limit) and revision 2^63-1 is a future revision, as etcd answers', async () => {
    c.ctl(['put', 'f8/limit', 'v']);
    const limited = await gatewayPost('/v3/kv/range', { key: Buffer.from('f8/limit').toString('base64'), limit: '9223372036854775807' });
    assert.equal(limited.status, 200, JSON.stringify(limited.json));
    assert.equal(limited.json.count, '1');
    const future = await gatewayPost('/v3/kv/range', { key: Buffer.from('f8/limit').toString('base64'), revision: '9223372036854775807' });
    assert.equal(future.json.code, 11, JSON.stringify(future.json));
    assert.equal(future.json.error, 'etcdserver: mvcc: required revision is a future revision');
    // The same bound in a txn compare is compared, not refused.
    const txn = await gatewayPost('/v3/kv/txn', {
      compare: [{ key: Buffer.from('f8/limit').toString('base64'), target: 'MOD', result: 'LESS', mod_revision: '9223372036854775807' }],
      success: [{ request_range: { key: Buffer.from('f8/limit').toString('base64') } }],
    });
    assert.equal(txn.json.succeeded, true, JSON.stringify(txn.json));
  });

  test('finding 8: DeleteRange with an oversized key is refused as "request is too large", as etcd refuses it', async () => {
    const before = keys();
    const big = Buffer.alloc(1_600_000, 'k');
    const res = await raw('/etcdserverpb.KV/DeleteRange', method('KV', 'DeleteRange').requestSerialize({ key: big }));
    assert.equal(res.err?.code, 3, 'INVALID_ARGUMENT');
    assert.equal(res.err?.details, 'etcdserver: request is too large');
    assert.equal(keys(), before, 'nothing was deleted');
    assert.equal(c.ctl(['get', 'f8/limit', '--print-value-only']).trim(), 'v');
  });

  /** Opens a gateway watch; `next()` resolves with the next result line, or undefined after waitMs without one. */
  const gatewayWatch = async (create: object): Promise<{ next: (waitMs: number) => Promise<Record<string, unknown> | undefined>; close: () => void }> => {
    const abort = new AbortController();
    const res = await fetch(`http://${host}/v3/watch`, { method: 'POST', body: JSON.stringify({ create_request: create }), signal: abort.signal });
    const reader = res.body!.getReader();
    let text = '';
    let reading: ReturnType<typeof reader.read> | undefined;
    const next = async (waitMs: number): Promise<Record<string, unknown> | undefined> => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const nl = text.indexOf('\n');
        if (nl >= 0) {
          const line = text.slice(0, nl);
          text = text.slice(nl + 1);
          return JSON.parse(line) as Record<string, unknown>;
        }
        reading ??= reader.read();
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(0, deadline - Date.now())));
        const got = await Promise.race([reading, timer]);
        if (got === 'timeout') return undefined;
        reading = undefined;
        if (got.done) return undefined;
        text += Buffer.from(got.value).toString('utf8');
      }
    };
    return { next, close: () => abort.abort() };
  };
  const b64 = (s: string): string => Buffer.from(s).toString('base64');

  test('finding 6: a watch with start_revision 2^63-1 is created with a real ID and stays open, as etcd\'s does', async () => {
    const w = await gatewayWatch({ key: b64('w6'), start_revision: '9223372036854775807' });
    try {
      const created = (await w.next(3000))?.result as Record<string, unknown>;
      assert.equal(created.created, true);
      c.ctl(['put', 'w6', 'x']);
      assert.equal(await w.next(700), undefined, 'neither cancelled nor sent an event from the past');
    } finally {
      w.close();
    }
  });

  test('finding 8: a watch on key "" with range_end "\\0" sees every key, as etcd\'s does', async () => {
    const w = await gatewayWatch({ key: '', range_end: b64('\0') });
    try {
      const created = (await w.next(3000))?.result as Record<string, unknown>;
      assert.equal(created.created, true);
      assert.equal(created.canceled, undefined);
      c.ctl(['put', 'anything', 'x']);
      const event = (await w.next(3000))?.result as { events: { kv: { key: string } }[] };
      assert.equal(Buffer.from(event.events[0]!.kv.key, 'base64').toString(), 'anything');
    } finally {
      w.close();
    }
  });
});

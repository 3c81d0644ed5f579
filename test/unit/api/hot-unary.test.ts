// The hot unary path takes the calls it is given and only those: a handler
// sees its own call object for them (no grpc-js ServerUnaryCall), and
// grpc-js's for every other method on the same connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:http2';
import { Client, credentials, Metadata, Server, ServerCredentials, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { kvService } from '../../../node/api/proto/load.js';
import { answerUnary, hotMethods, serveHotUnaryCalls } from '../../../node/api/grpc/hot-unary.js';

type MethodDef = { requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown; path: string };

/** A grpc-js server for `impl` on loopback, with Put on the hot path. */
async function hotServer(impl: UntypedServiceImplementation): Promise<{ port: number; close(): void }> {
  const grpc = new Server();
  grpc.addService(kvService, impl);
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  serveHotUnaryCalls(grpc, hotMethods(kvService, impl, ['Put']), 1024 * 1024);
  const listener = createServer((socket) => injector.injectConnection(socket));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    port: (listener.address() as AddressInfo).port,
    close: () => {
      injector.destroy();
      listener.close();
    },
  };
}

test('hot methods get the hot path, the others grpc-js, on one connection; tokens and errors come through', async () => {
  const seen: Array<{ method: string; grpcJsCall: boolean; token: unknown }> = [];
  const record = (method: string, call: { getPeer?: unknown; metadata: Metadata }): void => {
    seen.push({ method, grpcJsCall: typeof call.getPeer === 'function', token: call.metadata.get('token')[0] });
  };
  const impl: UntypedServiceImplementation = {
    Put: (call: { request: { key: Buffer }; getPeer?: unknown; metadata: Metadata }, cb: (err: unknown, res?: unknown) => void) => {
      record('Put', call);
      if (call.request.key.toString() === 'refuse') cb({ code: 9, details: 'etcdserver: refused here' });
      else cb(null, { header: { revision: '7' } });
    },
    Compact: (call: { getPeer?: unknown; metadata: Metadata }, cb: (err: unknown, res?: unknown) => void) => {
      record('Compact', call);
      cb(null, { header: { revision: '8' } });
    },
  } as unknown as UntypedServiceImplementation;
  const server = await hotServer(impl);
  const client = new Client(`127.0.0.1:${server.port}`, credentials.createInsecure());
  const defs = kvService as unknown as Record<string, MethodDef>;
  const call = (name: string, req: unknown, token: string): Promise<{ err?: ServiceError; res?: unknown }> => {
    const md = new Metadata();
    md.set('token', token);
    return new Promise((resolve) => {
      const d = defs[name]!;
      client.makeUnaryRequest(d.path, d.requestSerialize, d.responseDeserialize, req, md, (err, res) => resolve(err ? { err } : { res }));
    });
  };
  try {
    const put = await call('Put', { key: Buffer.from('a'), value: Buffer.from('b') }, 't1');
    assert.equal((put.res as { header: { revision: string } }).header.revision, '7');
    const compact = await call('Compact', { revision: 1 }, 't2');
    assert.equal((compact.res as { header: { revision: string } }).header.revision, '8');
    const refused = await call('Put', { key: Buffer.from('refuse') }, 't3');
    assert.equal(refused.err?.code, 9);
    assert.equal(refused.err?.details, 'etcdserver: refused here');
    assert.deepEqual(seen, [
      { method: 'Put', grpcJsCall: false, token: 't1' },
      { method: 'Compact', grpcJsCall: true, token: 't2' },
      { method: 'Put', grpcJsCall: false, token: 't3' },
    ]);
  } finally {
    client.close();
    server.close();
  }
});

test('a hot answer on the wire: grpc-js headers without a Date, the framed message, then grpc-status 0; a refusal is trailers-only', async () => {
  const impl: UntypedServiceImplementation = {
    Put: (call: { request: { key: Buffer } }, cb: (err: unknown, res?: unknown) => void) => {
      if (call.request.key.toString() === 'refuse') cb({ code: 9, details: 'etcdserver: refused here' });
      else cb(null, { header: { revision: '7' } });
    },
  } as unknown as UntypedServiceImplementation;
  const server = await hotServer(impl);
  const session = connect(`http://127.0.0.1:${server.port}`);
  const defs = kvService as unknown as Record<string, MethodDef>;
  const raw = (key: string): Promise<{ headers: Record<string, unknown>; body: Buffer; trailers: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const message = defs.Put!.requestSerialize({ key: Buffer.from(key) });
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(message.length, 1);
      const req = session.request({ ':method': 'POST', ':path': defs.Put!.path, 'content-type': 'application/grpc', te: 'trailers' });
      let headers: Record<string, unknown> = {};
      let trailers: Record<string, unknown> = {};
      const chunks: Buffer[] = [];
      req.on('response', (h) => (headers = { ...h }));
      req.on('trailers', (t) => (trailers = { ...t }));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ headers, body: Buffer.concat(chunks), trailers }));
      req.on('error', reject);
      req.end(Buffer.concat([prefix, message]));
    });
  try {
    const ok = await raw('a');
    assert.equal(ok.headers[':status'], 200);
    assert.equal(ok.headers['content-type'], 'application/grpc+proto');
    assert.equal(ok.headers['grpc-encoding'], 'identity');
    assert.equal(ok.headers.date, undefined, 'no Date header');
    assert.equal(ok.body.readUInt32BE(1), ok.body.length - 5, 'one framed message');
    assert.equal((defs.Put!.responseDeserialize(ok.body.subarray(5)) as { header: { revision: string } }).header.revision, '7');
    assert.deepEqual([ok.trailers['grpc-status'], ok.trailers['grpc-message']], ['0', 'OK']);
    const refused = await raw('refuse');
    assert.equal(refused.headers['grpc-status'], '9', 'the status rides in the headers (trailers-only)');
    assert.equal(refused.headers.date, undefined);
    assert.equal(refused.body.length, 0);
  } finally {
    session.close();
    server.close();
  }
});

/** A Put request body as a client frames it. */
function framedPut(): Buffer {
  const put = (kvService.Put as unknown as MethodDef).requestSerialize({ key: Buffer.from('k'), value: Buffer.from('v') });
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(put.length, 1);
  return Buffer.concat([prefix, put]);
}

test("a call's 'cancelled' listeners run once on a cancel before the answer, and not after it", () => {
  const impl: UntypedServiceImplementation = {};
  const [put] = hotMethods(kvService, { Put: (call: unknown, cb: unknown) => (impl.Put as (a: unknown, b: unknown) => void)(call, cb) }, ['Put']);
  const caller = { metadata: () => new Metadata(), authContext: () => ({}) };
  type Call = { request: { key: Buffer }; getPath(): string; on(e: string, l: () => void): unknown };
  const seen: string[] = [];
  let answer: ((err: unknown, value?: unknown) => void) | undefined;
  impl.Put = ((call: Call, cb: (err: unknown, value?: unknown) => void) => {
    seen.push(`${call.getPath()} ${call.request.key.toString()}`);
    call.on('cancelled', () => seen.push('cancelled'));
    answer = cb;
  }) as never;

  const replies: unknown[] = [];
  const cancel = answerUnary(put!, framedPut(), 1024, caller, (a) => replies.push(a));
  cancel();
  cancel();
  assert.deepEqual(seen, ['/etcdserverpb.KV/Put k', 'cancelled']);

  seen.length = 0;
  const cancelLater = answerUnary(put!, framedPut(), 1024, caller, (a) => replies.push(a));
  answer!(null, { header: {} });
  cancelLater();
  assert.deepEqual(seen, ['/etcdserverpb.KV/Put k']);
  assert.equal(replies.length, 1);
  assert.ok('message' in (replies[0] as object));
});

test('a call object has no getter of its own (its accessor pair would sit in the old generation and keep the call alive)', () => {
  // V8's factory allocates accessor pairs in the old generation; an object
  // literal with a getter gets one per object, which kept the getter's
  // closure, and through it the call and its stream, alive through every
  // young-generation collection until a full one (about 3 KB per call,
  // bench/member-gc.sh). The getter belongs on a prototype.
  const calls: object[] = [];
  const [put] = hotMethods(kvService, { Put: (call: object, cb: (err: unknown, value?: unknown) => void) => (calls.push(call), cb(null, {})) } as never, ['Put']);
  answerUnary(put!, framedPut(), 1024, { metadata: () => new Metadata(), authContext: () => ({}) }, () => undefined);
  const own = Object.getOwnPropertyDescriptors(calls[0]);
  assert.deepEqual(Object.keys(own).filter((k) => own[k]!.get !== undefined || own[k]!.set !== undefined), []);
  assert.ok((calls[0] as { metadata: unknown }).metadata instanceof Metadata, 'metadata still reads through');
});

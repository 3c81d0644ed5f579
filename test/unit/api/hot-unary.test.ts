// The hot unary path takes the calls it is given and only those: a handler
// sees its own call object for them (no grpc-js ServerUnaryCall), and
// grpc-js's for every other method on the same connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Client, credentials, Metadata, Server, ServerCredentials, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { kvService } from '../../../node/api/proto/load.js';
import { hotMethods, serveHotUnaryCalls } from '../../../node/api/grpc/hot-unary.js';

type MethodDef = { requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown; path: string };

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
  const grpc = new Server();
  grpc.addService(kvService, impl);
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  serveHotUnaryCalls(grpc, hotMethods(kvService, impl, ['Put']), 1024 * 1024);
  const listener = createServer((socket) => injector.injectConnection(socket));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const client = new Client(`127.0.0.1:${(listener.address() as AddressInfo).port}`, credentials.createInsecure());
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
    injector.destroy();
    listener.close();
  }
});

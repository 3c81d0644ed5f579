// The client port during a graceful stop: once drained it takes no new
// connection (a client reconnecting after the GOAWAY must not land on the
// stopping member again), a call already in flight is still answered, and
// settle() waits for that answer to leave before the sockets are closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { credentials, makeGenericClientConstructor, Server, type Client, type ServerUnaryCall, type ServiceError, type sendUnaryData } from '@grpc/grpc-js';
import { BoundPort } from '../../../node/bound-port.js';
import { serveClients } from '../../../node/api/client-listener.js';
import { kvService } from '../../../node/api/proto/load.js';

type Unary = (req: unknown, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => void;

function put(client: Client): Promise<unknown> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, Unary>).Put!.call(client, { key: Buffer.from('k'), value: Buffer.from('v') }, { deadline: Date.now() + 10_000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

function tcpConnect(port: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A server whose Put answers only when told to. */
async function heldServer(): Promise<{ port: BoundPort; listener: ReturnType<typeof serveClients>; arrived: Promise<void>; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let arrive!: () => void;
  const arrived = new Promise<void>((r) => (arrive = r));
  const grpc = new Server();
  grpc.addService(kvService, {
    Put: (_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<object>) => {
      arrive();
      void released.then(() => cb(null, { header: { revision: '2' } }));
    },
  });
  const port = await BoundPort.bind(new URL('http://127.0.0.1:0'), 'client requests', 0);
  const listener = serveClients(port, new URL(`http://127.0.0.1:${port.port}`), grpc, (_req, res) => res.end());
  return { port, listener, arrived, release };
}

test('a drained client port refuses new connections, answers the call in flight, and settles once that answer is out', async () => {
  const { port, listener, arrived, release } = await heldServer();
  const KV = makeGenericClientConstructor(kvService, 'KV');
  const client = new KV(`127.0.0.1:${port.port}`, credentials.createInsecure());
  try {
    const answer = put(client);
    await arrived;
    listener.drain(10_000);
    assert.equal(await tcpConnect(port.port), 'ECONNREFUSED', 'no new connection once the drain has begun');
    const settled = listener.settle(5_000);
    release();
    assert.ok(await answer, 'the call in flight is answered, not reset');
    const t0 = Date.now();
    await settled;
    assert.ok(Date.now() - t0 < 2_000, `the drained connection ended by itself (settle took ${Date.now() - t0} ms)`);
  } finally {
    client.close();
    await listener.close();
  }
});

test('settle gives up after its bound when a connection stays busy', async () => {
  const { port, listener, arrived, release } = await heldServer();
  const KV = makeGenericClientConstructor(kvService, 'KV');
  const client = new KV(`127.0.0.1:${port.port}`, credentials.createInsecure());
  try {
    const answer = put(client).catch((err: unknown) => err);
    await arrived;
    listener.drain(10_000);
    const t0 = Date.now();
    await listener.settle(300);
    const took = Date.now() - t0;
    assert.ok(took >= 280 && took < 2_000, `settle waited its bound, no more (${took} ms)`);
    release();
    await answer;
  } finally {
    client.close();
    await listener.close();
  }
});

// The outbox writes a stream's responses to HTTP/2 many at a time: over real
// gRPC, they must arrive whole, in the order sent (hand-encoded and generic
// ones mixed), before the status, and the window must hear of every byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, credentials, Server, ServerCredentials, type ServerDuplexStream, type ServiceDefinition } from '@grpc/grpc-js';
import { PreEncoded, withPreEncodedResponses } from '../../../node/api/grpc/pre-encoded.js';
import { StreamOutbox } from '../../../node/api/grpc/stream-outbox.js';

const raw = (b: Buffer): Buffer => b;
const definition = withPreEncodedResponses({
  Chat: {
    path: '/test.Outbox/Chat',
    requestStream: true,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    // A generic response is { n }: its bytes are the decimal text of n.
    responseSerialize: (v: { n: number }) => Buffer.from(String(v.n)),
    responseDeserialize: raw,
  },
} as unknown as ServiceDefinition);

test('messages sent through the outbox arrive in order, before the status', async (t) => {
  let takenBytes = 0;
  let sentBytes = 0;
  let direct: boolean | undefined;
  const server = new Server();
  server.addService(definition, {
    Chat: (call: ServerDuplexStream<Buffer, unknown>) => {
      const outbox = new StreamOutbox(call, (bytes) => (takenBytes += bytes));
      direct = outbox.direct;
      call.on('data', (req: Buffer) => {
        const count = Number(req.toString());
        for (let i = 0; i < count; i++) {
          // Every third message generic, the rest hand-encoded (one large).
          const msg = i % 3 === 0 ? { n: i } : new PreEncoded(Buffer.from(i === 100 ? `${i}`.padEnd(70_000, ' ') : `${i}`));
          sentBytes += outbox.send(msg);
        }
      });
      call.on('end', () => {
        outbox.flush();
        call.end();
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  t.after(() => server.forceShutdown());
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  t.after(() => client.close());

  const stream = client.makeBidiStreamRequest<Buffer, Buffer>('/test.Outbox/Chat', raw, raw);
  const got: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (b: Buffer) => got.push(b.toString().trim()));
    stream.on('status', (s: { code: number }) => (s.code === 0 ? resolve() : reject(new Error(`status ${s.code}`))));
    stream.on('error', reject);
  });
  stream.write(Buffer.from('500'));
  // A second request arrives in a later turn: its messages follow the first 500.
  await new Promise((r) => setTimeout(r, 20));
  stream.write(Buffer.from('7'));
  stream.end();
  await done;

  assert.equal(direct, true, 'grpc-js internals no longer match: every message went through call.write');
  const expected = [...Array.from({ length: 500 }, (_, i) => String(i)), ...Array.from({ length: 7 }, (_, i) => String(i))];
  assert.deepEqual(got, expected);
  assert.equal(takenBytes, sentBytes, 'the window hears of every byte the transport took');
});

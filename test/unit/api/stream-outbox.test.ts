// The outbox writes a stream's responses to HTTP/2 many at a time: over real
// gRPC, they must arrive whole, in the order sent (hand-encoded and generic
// ones mixed), before the status, and the window must hear of every byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, type ClientDuplexStream, credentials, Server, ServerCredentials, type ServerDuplexStream, type ServiceDefinition, type UntypedHandleCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { Encodable, PreEncoded, withPreEncodedResponses } from '../../../node/api/grpc/pre-encoded.js';
import { type OutboxPacing, StreamOutbox } from '../../../node/api/grpc/stream-outbox.js';
import { createGrpcMetrics } from '../../../node/api/grpc-metrics.js';
import { Registry } from 'prom-client';

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

/** Serves `chat` as the Chat method on a loopback port; returns a new client stream to it. */
async function openChat(
  t: { after: (fn: () => void) => void },
  chat: (call: ServerDuplexStream<Buffer, unknown>) => void,
  wrap: (impl: UntypedServiceImplementation) => UntypedServiceImplementation = (impl) => impl,
) {
  const server = new Server();
  server.addService(definition, wrap({ Chat: chat as unknown as UntypedHandleCall }));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  t.after(() => server.forceShutdown());
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  t.after(() => client.close());
  return client.makeBidiStreamRequest<Buffer, Buffer>('/test.Outbox/Chat', raw, raw);
}

/** Resolves when the stream ends with status OK, rejects on any other end. */
function statusOf(stream: ClientDuplexStream<Buffer, Buffer>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.on('status', (st: { code: number }) => (st.code === 0 ? resolve() : reject(new Error(`status ${st.code}`))));
    stream.on('error', reject);
  });
}

/** Asks for `first` messages, then in a later turn for `second`, ends the stream and waits for an OK status. */
async function askTwice(stream: ClientDuplexStream<Buffer, Buffer>, first: number, second: number): Promise<void> {
  const done = statusOf(stream);
  stream.write(Buffer.from(String(first)));
  await new Promise((r) => setTimeout(r, 20));
  stream.write(Buffer.from(String(second)));
  stream.end();
  await done;
}

/** Answers each request "N" on `call` through `outbox` by `answer(N)`; at the client's end, flushes and ends the call. */
function serveCounts(call: ServerDuplexStream<Buffer, unknown>, outbox: StreamOutbox, answer: (count: number) => void): void {
  call.on('data', (req: Buffer) => answer(Number(req.toString())));
  call.on('end', () => {
    outbox.flush();
    call.end();
  });
}

test('messages sent through the outbox arrive in order, before the status', async (t) => {
  let takenBytes = 0;
  let sentBytes = 0;
  let direct: boolean | undefined;
  const stream = await openChat(t, (call) => {
    const outbox = new StreamOutbox(call, (bytes) => (takenBytes += bytes));
    direct = outbox.direct;
    serveCounts(call, outbox, (count) => {
      for (let i = 0; i < count; i++) {
        // Every third message generic, the rest hand-encoded (one large).
        const msg = i % 3 === 0 ? { n: i } : new PreEncoded(Buffer.from(i === 100 ? `${i}`.padEnd(70_000, ' ') : `${i}`));
        sentBytes += outbox.send(msg);
      }
    });
  });
  const got: string[] = [];
  stream.on('data', (b: Buffer) => got.push(b.toString().trim()));
  // A second request arrives in a later turn: its messages follow the first 500.
  await askTwice(stream, 500, 7);

  assert.equal(direct, true, 'grpc-js internals no longer match: every message went through call.write');
  const expected = [...Array.from({ length: 500 }, (_, i) => String(i)), ...Array.from({ length: 7 }, (_, i) => String(i))];
  assert.deepEqual(got, expected);
  assert.equal(takenBytes, sentBytes, 'the window hears of every byte the transport took');
});

/** A message that writes its own bytes (as a watcher's events response does), so a queued one may still grow. */
class Text extends Encodable {
  constructor(private readonly text: string) {
    super();
  }
  get size(): number {
    return this.text.length;
  }
  writeTo(buf: Uint8Array, at: number): number {
    return at + Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).write(this.text, at, 'latin1');
  }
}

/** A server whose Chat call answers each request "N" with N self-encoding messages through an outbox with `pacing`; the client records when each arrives. */
async function pacedChat(t: { after: (fn: () => void) => void }, pacing: OutboxPacing) {
  let outbox: StreamOutbox | undefined;
  const stream = await openChat(t, (call) => {
    const paced = new StreamOutbox(call, () => {}, pacing);
    outbox = paced;
    let next = 0;
    serveCounts(call, paced, (count) => {
      for (let i = count; i > 0; i--) paced.send(new Text(String(next++)));
    });
  });
  const arrivals: { n: number; at: number }[] = [];
  stream.on('data', (b: Buffer) => arrivals.push({ n: Number(b.toString()), at: performance.now() }));
  const status = statusOf(stream);
  const until = async (count: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (arrivals.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    assert.equal(arrivals.length, count, 'every message arrived');
  };
  return { stream, arrivals, until, status, outbox: () => outbox! };
}

test('pacing: after a busy write the stream holds what follows until the gap ends, and a held message may still grow', async (t) => {
  const GAP = 300;
  const chat = await pacedChat(t, { busyMessages: 3, gapMs: GAP });
  chat.stream.write(Buffer.from('3')); // a busy write
  await chat.until(3);
  const busyAt = chat.arrivals[2]!.at;
  const epoch = chat.outbox().epoch;
  chat.stream.write(Buffer.from('2'));
  await new Promise((r) => setTimeout(r, GAP / 3));
  assert.equal(chat.arrivals.length, 3, 'nothing leaves within the gap');
  assert.equal(chat.outbox().epoch, epoch, 'a message held in the gap is not yet written, so it may still take later events');
  await chat.until(5);
  assert.ok(chat.arrivals[3]!.at - busyAt >= GAP * 0.8, `held ${Math.round(chat.arrivals[3]!.at - busyAt)} ms, not the ${GAP} ms gap`);
  assert.ok(Math.abs(chat.arrivals[4]!.at - chat.arrivals[3]!.at) < GAP / 3, 'what waited out the gap went together');
  chat.stream.end();
  await chat.status;
  assert.deepEqual(chat.arrivals.map((a) => a.n), [0, 1, 2, 3, 4], 'in order');
});

test('pacing: a stream whose writes stay under the busy size is never held', async (t) => {
  const GAP = 2_000;
  const chat = await pacedChat(t, { busyMessages: 3, gapMs: GAP });
  const started = performance.now();
  for (let round = 1; round <= 5; round++) {
    chat.stream.write(Buffer.from('2'));
    await chat.until(2 * round);
  }
  assert.ok(performance.now() - started < GAP, 'five small writes in a row were not held for the gap');
  // A flush() (the stream's end) writes at once, even within a busy stream's gap.
  chat.stream.write(Buffer.from('3'));
  await chat.until(13);
  chat.stream.write(Buffer.from('1'));
  await new Promise((r) => setTimeout(r, 50));
  const beforeEnd = performance.now();
  chat.stream.end();
  await chat.status;
  assert.equal(chat.arrivals.length, 14);
  assert.ok(chat.arrivals[13]!.at - beforeEnd < GAP / 2, 'the end flushed the held message without waiting out the gap');
});

test('grpc_server_msg_sent_total counts the messages the outbox writes past call.write, and those that go through it', async (t) => {
  const registry = new Registry();
  const metrics = createGrpcMetrics(registry);
  const stream = await openChat(
    t,
    (call) => {
      const outbox = new StreamOutbox(call);
      serveCounts(call, outbox, (count) => {
        for (let i = 0; i < count; i++) outbox.send(i % 4 === 0 ? { n: i } : new PreEncoded(Buffer.from(String(i))));
      });
    },
    (impl) => metrics.instrument(definition, impl),
  );
  let got = 0;
  stream.on('data', () => got++);
  await askTwice(stream, 300, 9);
  assert.equal(got, 309);
  const sent = (await registry.metrics()).split('\n').find((l) => l.startsWith('grpc_server_msg_sent_total'));
  assert.equal(sent, 'grpc_server_msg_sent_total{grpc_type="bidi_stream",grpc_service="test.Outbox",grpc_method="Chat"} 309');
  const received = (await registry.metrics()).split('\n').find((l) => l.startsWith('grpc_server_msg_received_total'));
  assert.equal(received, 'grpc_server_msg_received_total{grpc_type="bidi_stream",grpc_service="test.Outbox",grpc_method="Chat"} 2');
});

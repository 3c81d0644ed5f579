// The call channel between client workers and the core: frames survive any
// split of the byte stream, carry metadata and bodies intact, and the
// frames of one turn leave in one write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { CHANNEL_VERSION, FrameReader, FrameWriter, type CallFrame } from '../../../../node/api/workers/call-frames.js';

/** A socket stand-in that records each write. */
function recorder(): { socket: Socket; writes: Buffer[] } {
  const writes: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      writes.push(chunk);
      cb();
    },
  }) as unknown as Socket;
  return { socket, writes };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('every kind of frame comes out as it went in, however the bytes are split', async () => {
  const { socket, writes } = recorder();
  const w = new FrameWriter(socket);
  const call: CallFrame = { id: 7, method: 2, metadata: [['token', 'tok.én'], ['kvorum-client-cn', 'alice']], body: Buffer.from([0, 0, 0, 0, 3, 1, 2, 3]) };
  w.hello();
  w.call(call);
  w.call({ id: 0xffffffff, method: 0, metadata: [], body: Buffer.alloc(0) });
  w.cancel(9);
  w.message(7, Buffer.alloc(70_000, 0xab));
  w.status(8, 8, 'etcdserver: too many requests — ü');
  assert.equal(writes.length, 0, 'nothing is written before the turn ends');
  await turn();
  assert.equal(writes.length, 1, 'one write for the turn');
  const bytes = writes[0]!;
  for (const step of [1, 3, 7, 4096, bytes.length]) {
    const seen: unknown[] = [];
    const r = new FrameReader({
      hello: (v) => seen.push(['hello', v]),
      call: (f) => seen.push(['call', f.id, f.method, f.metadata, [...f.body]]),
      cancel: (id) => seen.push(['cancel', id]),
      message: (id, m) => seen.push(['message', id, m.length, m.every((b) => b === 0xab)]),
      status: (id, code, details) => seen.push(['status', id, code, details]),
    });
    for (let at = 0; at < bytes.length; at += step) r.push(bytes.subarray(at, at + step));
    assert.deepEqual(seen, [
      ['hello', CHANNEL_VERSION],
      ['call', 7, 2, call.metadata, [0, 0, 0, 0, 3, 1, 2, 3]],
      ['call', 0xffffffff, 0, [], []],
      ['cancel', 9],
      ['message', 7, 70_000, true],
      ['status', 8, 8, 'etcdserver: too many requests — ü'],
    ], `split every ${step} bytes`);
  }
});

test('a frame of an unknown kind is refused, and metadata too long to pass is refused at the writer', () => {
  const r = new FrameReader({});
  const bad = Buffer.from([0, 0, 0, 5, 99, 0, 0, 0, 1]);
  assert.throws(() => r.push(bad), /unknown channel frame kind 99/);
  const { socket } = recorder();
  assert.throws(() => new FrameWriter(socket).call({ id: 1, method: 0, metadata: [['token', 'x'.repeat(70_000)]], body: Buffer.alloc(0) }), /metadata token is too long/);
});

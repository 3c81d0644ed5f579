import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, type Message } from '../../../node/raft/types.js';
import { decodeMessage } from '../../../node/transport/codec.js';
import { FrameError, FrameKind, FrameReader, encodeControlFrame, encodeMessageFrames, messageFrameSize } from '../../../node/transport/frames.js';
import { MessageQueue } from '../../../node/transport/queue.js';
import { FillingBuffer } from '../../../node/transport/filling-buffer.js';
import { entry, msg } from './helpers.js';

function batch(count: number): Message[] {
  return Array.from({ length: count }, (_, i) => msg({ type: MessageType.App, from: 1, to: 2, index: i, entries: [entry(i + 1, new Uint8Array(i * 7))] }));
}

function collect(maxFrameBytes = 1 << 20): { reader: FrameReader; frames: { kind: number; payload: Buffer }[] } {
  const frames: { kind: number; payload: Buffer }[] = [];
  const reader = new FrameReader(maxFrameBytes, (kind, payload) => frames.push({ kind, payload: Buffer.from(payload) }));
  return { reader, frames };
}

test('frames survive any split of the byte stream', () => {
  const messages = batch(12);
  const wire = Buffer.concat([encodeMessageFrames(messages, messages.map(messageFrameSize), messages.length), encodeControlFrame(FrameKind.Ping, 77)]);
  for (const chunkSize of [1, 2, 3, 5, 64, 1000, wire.length]) {
    const { reader, frames } = collect();
    for (let pos = 0; pos < wire.length; pos += chunkSize) reader.push(wire.subarray(pos, pos + chunkSize));
    assert.equal(frames.length, 13, `chunk size ${chunkSize}`);
    assert.deepEqual(
      frames.slice(0, 12).map((f) => decodeMessage(f.payload)),
      messages,
    );
    assert.equal(frames[12]!.kind, FrameKind.Ping);
    assert.equal(frames[12]!.payload.readUInt32BE(0), 77);
  }
});

test('a zero or oversized frame length is a FrameError', () => {
  assert.throws(() => collect().reader.push(Buffer.from([0, 0, 0, 0, 1])), FrameError);
  assert.throws(() => collect(100).reader.push(Buffer.from([0, 0, 0, 101, 1])), /frame length 101 outside \[1, 100\]/);
});

test('the message queue holds its count and byte bounds and keeps order', () => {
  const q = new MessageQueue(3, 100);
  const m = batch(5);
  assert.equal(q.push(m[0]!, 10), true);
  assert.equal(q.push(m[1]!, 10), true);
  assert.equal(q.push(m[2]!, 81), false, 'byte bound');
  assert.equal(q.push(m[2]!, 10), true);
  assert.equal(q.push(m[3]!, 1), false, 'count bound');
  assert.equal(q.byteLength, 30);
  const out: Message[] = [];
  const sizes: number[] = [];
  assert.equal(q.take(out, sizes, 15), 1, 'batch byte limit');
  assert.equal(q.push(m[3]!, 10), true, 'wraps around the ring');
  const rest: Message[] = [];
  assert.equal(q.take(rest, [], 1000), 3);
  assert.deepEqual([...out, ...rest].map((x) => x.index), [0, 1, 2, 3]);
  assert.equal(q.length, 0);
  assert.equal(q.byteLength, 0);
});

test('an announced length reserves memory only as bytes arrive', () => {
  const before = process.memoryUsage().arrayBuffers;
  const claims = Array.from({ length: 8 }, () => new FillingBuffer(2 ** 31));
  assert.ok(process.memoryUsage().arrayBuffers - before < 4 * 1024 * 1024, 'eight 2 GiB claims hold well under 4 MiB');
  const b = new FillingBuffer(200_000);
  const chunk = Buffer.alloc(70_000, 1);
  assert.equal(b.append(chunk), 70_000);
  assert.equal(b.append(chunk), 70_000);
  assert.equal(b.append(chunk), 60_000, 'never past the announced length');
  assert.ok(b.complete);
  assert.equal(b.bytes().length, 200_000);
  assert.equal(b.bytes().buffer.byteLength >= 200_000, true);
  assert.equal(claims[0]!.length, 0);

  const { reader, frames } = collect(2 ** 30);
  reader.push(Buffer.from([0x3f, 0xff, 0xff, 0xff, 1, 2, 3]));
  assert.equal(frames.length, 0, 'a partial 1 GiB frame waits without reserving 1 GiB');
});

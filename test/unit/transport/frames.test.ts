import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, type Message } from '../../../node/raft/types.js';
import { decodeMessage } from '../../../node/transport/codec.js';
import { FrameError, FrameKind, FrameReader, encodeControlFrame, encodeMessageFrames, messageFrameSize } from '../../../node/transport/frames.js';
import { MessageQueue } from '../../../node/transport/queue.js';
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

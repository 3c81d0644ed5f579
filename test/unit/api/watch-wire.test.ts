// The hand-written Watch and Snapshot response encodings decode, with etcd's
// own definitions, to the messages the generic path would have sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdServices } from '../../../node/api/proto/load.js';
import { encodeHeaderField, encodeSnapshotChunk, eventField, WatchEventsResponse } from '../../../node/api/grpc/watch-wire.js';
import { SendWindow } from '../../../node/api/grpc/send-window.js';
import type { WatchEvent } from '../../../node/mvcc/types.js';

type Decoded = Record<string, unknown>;
const decodeWatch = (b: Buffer): Decoded => etcdServices.Watch.Watch!.responseDeserialize(b) as Decoded;
const decodeSnapshot = (b: Buffer): Decoded => etcdServices.Maintenance.Snapshot!.responseDeserialize(b) as Decoded;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

const header = { clusterId: 2 ** 52 - 3, memberId: 0x1234_5678_9a, revision: 2 ** 40 + 7, raftTerm: 5 };

test('a WatchResponse with a put (prev_kv too) and a delete decodes field for field', () => {
  const put: WatchEvent = {
    type: 'PUT',
    kv: { key: bytes('k1'), createRevision: 3, modRevision: 2 ** 40 + 7, version: 2, value: bytes('v'.repeat(300)), lease: 2n ** 50n + 1n },
    prevKv: { key: bytes('k1'), createRevision: 3, modRevision: 3, version: 1, value: bytes('old'), lease: 0n },
  };
  const del: WatchEvent = { type: 'DELETE', kv: { key: bytes('k2'), createRevision: 0, modRevision: 2 ** 40 + 7, version: 0, value: new Uint8Array(), lease: 0n } };
  const msg = decodeWatch(new WatchEventsResponse(encodeHeaderField(header), 42, [put, del]).toBuffer());
  assert.deepEqual(msg.header, { cluster_id: String(header.clusterId), member_id: String(header.memberId), revision: String(header.revision), raft_term: '5' });
  assert.equal(msg.watch_id, '42');
  const events = msg.events as Decoded[];
  assert.equal(events.length, 2);
  assert.equal(events[0]!.type, 'PUT');
  const kv = events[0]!.kv as Decoded;
  assert.equal(Buffer.from(kv.key as Buffer).toString(), 'k1');
  assert.equal(Buffer.from(kv.value as Buffer).toString(), 'v'.repeat(300));
  assert.deepEqual([kv.create_revision, kv.mod_revision, kv.version, kv.lease], ['3', String(2 ** 40 + 7), '2', String(2 ** 50 + 1)]);
  assert.equal(Buffer.from((events[0]!.prev_kv as Decoded).value as Buffer).toString(), 'old');
  assert.equal(events[1]!.type, 'DELETE');
  assert.equal(Buffer.from((events[1]!.kv as Decoded).key as Buffer).toString(), 'k2');
  assert.equal(events[1]!.prev_kv, null);
});

test('an event is encoded once and its bytes shared by every response that carries it', () => {
  const e: WatchEvent = { type: 'PUT', kv: { key: bytes('a'), createRevision: 2, modRevision: 2, version: 1, value: bytes('x'), lease: 0n } };
  assert.equal(eventField(e), eventField(e));
});

test('a negative watch_id takes ten bytes and decodes as -1', () => {
  const e: WatchEvent = { type: 'PUT', kv: { key: bytes('a'), createRevision: 2, modRevision: 2, version: 1, value: bytes('x'), lease: 0n } };
  assert.equal(decodeWatch(new WatchEventsResponse(encodeHeaderField(header), -1, [e]).toBuffer()).watch_id, '-1');
});

test('a SnapshotResponse carries the blob and remaining_bytes', () => {
  const blob = Buffer.alloc(70_000, 7);
  const msg = decodeSnapshot(encodeSnapshotChunk(encodeHeaderField(header), 123_456_789, blob)[0]!.bytes);
  assert.equal(msg.remaining_bytes, '123456789');
  assert.ok(Buffer.from(msg.blob as Buffer).equals(blob));
  assert.equal(decodeSnapshot(encodeSnapshotChunk(encodeHeaderField(header), 0, blob)[0]!.bytes).remaining_bytes, '0');
});

test('a chunk is cut into SnapshotResponses laid in one buffer, remaining_bytes counting down to what follows the chunk', () => {
  const chunk = Buffer.alloc(100_000);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  const messages = encodeSnapshotChunk(encodeHeaderField(header), 500, chunk, 32 * 1024);
  assert.equal(messages.length, 4);
  const decoded = messages.map((m) => decodeSnapshot(m.bytes));
  assert.deepEqual(decoded.map((m) => m.remaining_bytes), [String(500 + 100_000 - 32_768), String(500 + 100_000 - 65_536), String(500 + 100_000 - 98_304), '500']);
  assert.ok(Buffer.concat(decoded.map((m) => Buffer.from(m.blob as Buffer))).equals(chunk));
  assert.equal(new Set(messages.map((m) => m.frame.buffer)).size, 1, 'one allocation for the chunk');
  for (const m of messages) assert.equal(m.frame.readUInt32BE(1), m.frame.length - 5, 'each message framed');
});

test('the send window pauses the watcher that crosses it and resumes every paused one at half', () => {
  const resumed: number[] = [];
  const w = new SendWindow(100, (id) => resumed.push(id));
  assert.equal(w.enqueue(1, 60), false);
  assert.equal(w.enqueue(2, 60), true);
  assert.equal(w.enqueue(3, 10), true);
  w.taken(60);
  assert.deepEqual(resumed, [], 'still above half the window');
  w.taken(60);
  assert.deepEqual(resumed.sort(), [2, 3]);
  assert.equal(w.queued, 10);
  w.forget(3);
});

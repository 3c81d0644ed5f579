// A PreFramed response (the snapshot stream's) goes to the wire as its own
// buffer: grpc-js's server call returns it from serializeMessage instead of
// framing a copy, and every other response is framed as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { etcdServices } from '../../../node/api/proto/load.js';
import { FRAME_PREFIX_BYTES, PreEncoded } from '../../../node/api/grpc/pre-encoded.js';
import { encodeHeaderField, encodeSnapshotChunk } from '../../../node/api/grpc/watch-wire.js';

interface ServerCall {
  handler: { serialize: (value: unknown) => Buffer };
  serializeMessage(value: unknown): Buffer;
}

function serverCallPrototype(): ServerCall {
  const require = createRequire(import.meta.url);
  const internals = createRequire(require.resolve('@grpc/grpc-js'))('./server-interceptors.js') as { BaseServerInterceptingCall: { prototype: ServerCall } };
  return internals.BaseServerInterceptingCall.prototype;
}

test('a snapshot chunk is framed once: its own buffer is what goes to the wire', () => {
  const method = etcdServices.Maintenance.Snapshot!;
  const call = Object.create(serverCallPrototype()) as ServerCall;
  call.handler = { serialize: method.responseSerialize as (value: unknown) => Buffer };
  const blob = Buffer.alloc(40_000, 9);
  const chunk = encodeSnapshotChunk(encodeHeaderField({ clusterId: 1, memberId: 2, revision: 3, raftTerm: 4 }), 77, blob)[0]!;
  const frame = call.serializeMessage(chunk);
  assert.equal(frame, chunk.frame, 'no copy');
  assert.equal(frame[0], 0, 'not compressed');
  assert.equal(frame.readUInt32BE(1), frame.length - FRAME_PREFIX_BYTES);
  const msg = method.responseDeserialize(frame.subarray(FRAME_PREFIX_BYTES)) as { remaining_bytes: string; blob: Buffer };
  assert.equal(msg.remaining_bytes, '77');
  assert.ok(Buffer.from(msg.blob).equals(blob));

  // Other responses, pre-encoded or not, are framed by grpc-js as before.
  const other = new PreEncoded(Buffer.from(chunk.bytes));
  const framed = call.serializeMessage(other);
  assert.notEqual(framed.buffer, other.bytes.buffer);
  assert.ok(framed.subarray(FRAME_PREFIX_BYTES).equals(other.bytes));
});

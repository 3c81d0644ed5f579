// Responses a handler has already encoded to protobuf bytes. gRPC serializes
// every response through the service definition's serializer; a PreEncoded
// response skips it and goes out as it is, so a hot stream can encode a
// message by hand (or share bytes between messages) and every other
// response keeps the generic path.
//
// A PreFramed response goes one step further: its buffer holds the gRPC
// message prefix too, so grpc-js, which otherwise copies every message into
// a fresh frame, sends that buffer itself (see sendPreFramedAsIs). A bulk
// stream (the snapshot) then allocates and copies its bytes once, not twice.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { grpcServerCallPrototype } from './grpc-internals.js';

export class PreEncoded {
  constructor(readonly bytes: Buffer) {}
}

/** Bytes of gRPC's message prefix: a compressed flag and a 4-byte length. */
export const FRAME_PREFIX_BYTES = 5;

/** Writes gRPC's prefix of an uncompressed message of `length` bytes at `at`; returns where the message goes. */
export function writeFramePrefix(buf: Uint8Array, at: number, length: number): number {
  buf[at] = 0; // not compressed
  buf[at + 1] = length >>> 24;
  buf[at + 2] = (length >>> 16) & 0xff;
  buf[at + 3] = (length >>> 8) & 0xff;
  buf[at + 4] = length & 0xff;
  return at + FRAME_PREFIX_BYTES;
}

export class PreFramed extends PreEncoded {
  /** `frame`: FRAME_PREFIX_BYTES of room (filled here), then the message. */
  constructor(readonly frame: Buffer) {
    super(frame.subarray(FRAME_PREFIX_BYTES));
    writeFramePrefix(frame, 0, frame.length - FRAME_PREFIX_BYTES);
  }
}

/**
 * A response that writes its own protobuf bytes into a buffer it is given:
 * a stream outbox lays many of them into one buffer with no copy of its own
 * per message (see stream-outbox.ts); elsewhere it is encoded alone.
 */
export abstract class Encodable {
  /** Bytes writeTo() writes. */
  abstract readonly size: number;
  /** Writes the message at `at`; returns the position after it. */
  abstract writeTo(buf: Uint8Array, at: number): number;

  toBuffer(): Buffer {
    const buf = Buffer.allocUnsafe(this.size);
    this.writeTo(buf, 0);
    return buf;
  }
}

interface SerializingMethod {
  responseSerialize: (value: unknown) => Buffer;
}

/** A copy of `service` whose response serializer passes PreEncoded (and Encodable) values through. */
export function withPreEncodedResponses(service: ServiceDefinition): ServiceDefinition {
  sendPreFramedAsIs();
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(service)) {
    const serialize = (def as unknown as SerializingMethod).responseSerialize;
    out[name] = {
      ...def,
      responseSerialize: (value: unknown): Buffer =>
        value instanceof PreEncoded ? value.bytes : value instanceof Encodable ? value.toBuffer() : serialize(value),
    };
  }
  return out as unknown as ServiceDefinition;
}

interface ServerCallPrototype {
  serializeMessage(value: unknown): Buffer;
}

let installed = false;

/**
 * grpc-js frames a response in its server call's serializeMessage (a new
 * buffer: prefix, then a copy of the serialized message); it offers no hook
 * for a message that is framed already, so that method is wrapped here, once.
 * A grpc-js whose internals no longer match fails loudly at startup.
 */
function sendPreFramedAsIs(): void {
  if (installed) return;
  const proto = grpcServerCallPrototype<ServerCallPrototype>();
  if (!proto || typeof proto.serializeMessage !== 'function') {
    throw new Error('this @grpc/grpc-js has no BaseServerInterceptingCall.serializeMessage; PreFramed responses need updating');
  }
  const original = proto.serializeMessage;
  proto.serializeMessage = function (this: ServerCallPrototype, value: unknown): Buffer {
    return value instanceof PreFramed ? value.frame : original.call(this, value);
  };
  installed = true;
}

// Responses a handler has already encoded to protobuf bytes. gRPC serializes
// every response through the service definition's serializer; a PreEncoded
// response skips it and goes out as it is, so a hot stream can encode a
// message by hand (or share bytes between messages) and every other
// response keeps the generic path.
import type { ServiceDefinition } from '@grpc/grpc-js';

export class PreEncoded {
  constructor(readonly bytes: Buffer) {}
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

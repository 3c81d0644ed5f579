// Responses a handler has already encoded to protobuf bytes. gRPC serializes
// every response through the service definition's serializer; a PreEncoded
// response skips it and goes out as it is, so a hot stream can encode a
// message by hand (or share bytes between messages) and every other
// response keeps the generic path.
import type { ServiceDefinition } from '@grpc/grpc-js';

export class PreEncoded {
  constructor(readonly bytes: Buffer) {}
}

interface SerializingMethod {
  responseSerialize: (value: unknown) => Buffer;
}

/** A copy of `service` whose response serializer passes PreEncoded values through. */
export function withPreEncodedResponses(service: ServiceDefinition): ServiceDefinition {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(service)) {
    const serialize = (def as unknown as SerializingMethod).responseSerialize;
    out[name] = {
      ...def,
      responseSerialize: (value: unknown): Buffer => (value instanceof PreEncoded ? value.bytes : serialize(value)),
    };
  }
  return out as unknown as ServiceDefinition;
}

// Strict checking of protobuf request bytes before they are decoded.
//
// protobufjs decodes leniently: a field whose wire type does not match its
// declared type is read anyway (bytes `0d 01 02 03 04`, field 1 as fixed32,
// became the key "\x02"). etcd (Go protobuf) refuses such a message, so every
// gRPC request is walked against the schema here first and refused with the
// same INTERNAL "error unmarshalling request" when any field is malformed.
// Nothing is written for a refused request, because it never reaches a handler.
import { createRequire } from 'node:module';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { refuseCompressedIdentityMessages } from '../grpc/compressed-flag.js';
import { etcdSchema } from './json.js';
import { etcdServices, type EtcdServiceName } from './load.js';
import type { FieldSchema, Schema, ScalarType } from './schema.js';

/**
 * Deepest message nesting accepted. A nested Txn costs two levels (TxnRequest,
 * RequestOp) per txn, and etcd admits as many txn levels as --max-txn-ops
 * allows (128 by default); this leaves room for that and then some, while
 * keeping every recursive walk far from the JS stack limit.
 */
export const MAX_MESSAGE_DEPTH = 600;

export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

const SCALAR_WIRE: Record<ScalarType, Wire> = {
  int32: Wire.Varint, int64: Wire.Varint, uint32: Wire.Varint, uint64: Wire.Varint,
  sint32: Wire.Varint, sint64: Wire.Varint, bool: Wire.Varint,
  fixed64: Wire.Fixed64, sfixed64: Wire.Fixed64, double: Wire.Fixed64,
  fixed32: Wire.Fixed32, sfixed32: Wire.Fixed32, float: Wire.Fixed32,
  string: Wire.Bytes, bytes: Wire.Bytes,
};

function expectedWire(field: FieldSchema): Wire {
  if (field.kind === 'message') return Wire.Bytes;
  if (field.kind === 'enum') return Wire.Varint;
  return SCALAR_WIRE[field.scalar!];
}

/** Reads a varint at `pos`; returns the position after it (only the shape is checked). */
function skipVarint(buf: Uint8Array, pos: number, what: string): number {
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) throw new WireFormatError(`${what}: truncated varint`);
    if ((buf[pos + i]! & 0x80) === 0) return pos + i + 1;
  }
  throw new WireFormatError(`${what}: varint longer than 10 bytes`);
}

/** Reads a varint that must fit a JS number (tags and lengths). */
function readSmallVarint(buf: Uint8Array, pos: number, what: string): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) throw new WireFormatError(`${what}: truncated varint`);
    const b = buf[pos + i]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new WireFormatError(`${what}: ${value} is out of range`);
      return [value, pos + i + 1];
    }
    scale *= 128;
  }
  throw new WireFormatError(`${what}: varint longer than 10 bytes`);
}

/**
 * Throws WireFormatError unless `buf` is a well-formed encoding of `typeName`:
 * valid tags, each known field carried with its declared wire type (packed
 * repeated numbers accepted as protobuf allows), lengths inside the buffer,
 * no groups, nesting no deeper than MAX_MESSAGE_DEPTH.
 */
export function checkWire(schema: Schema, typeName: string, buf: Uint8Array, depth = 1): void {
  const msg = schema.messages.get(typeName);
  if (!msg) throw new WireFormatError(`unknown message type ${typeName}`);
  if (depth > MAX_MESSAGE_DEPTH) throw new WireFormatError(`messages nested deeper than ${MAX_MESSAGE_DEPTH}`);
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readSmallVarint(buf, pos, typeName);
    const no = Math.floor(tag / 8);
    const wire = tag % 8;
    if (no === 0 || no > 536870911) throw new WireFormatError(`${typeName}: invalid field number ${no}`);
    const field = msg.fields.find((f) => f.number === no);
    const what = field ? `${typeName}.${field.name}` : `${typeName} field ${no}`;
    if (field) {
      const want = expectedWire(field);
      const packed = field.repeated && wire === Wire.Bytes && want !== Wire.Bytes;
      if (wire !== want && !packed) throw new WireFormatError(`wrong wire type ${wire} for field ${what}`);
    }
    pos = afterTag;
    switch (wire) {
      case Wire.Varint:
        pos = skipVarint(buf, pos, what);
        break;
      case Wire.Fixed64:
        pos += 8;
        break;
      case Wire.Fixed32:
        pos += 4;
        break;
      case Wire.Bytes: {
        const [length, start] = readSmallVarint(buf, pos, what);
        if (length > buf.length - start) throw new WireFormatError(`${what}: length ${length} runs past the end of the message`);
        pos = start + length;
        if (field?.kind === 'message') checkWire(schema, field.typeName!, buf.subarray(start, pos), depth + 1);
        else if (field && expectedWire(field) !== Wire.Bytes) checkPacked(buf.subarray(start, pos), expectedWire(field), what);
        break;
      }
      default:
        throw new WireFormatError(`${what}: unsupported wire type ${wire}`);
    }
    if (pos > buf.length) throw new WireFormatError(`${what}: truncated value`);
  }
}

function checkPacked(buf: Uint8Array, wire: Wire, what: string): void {
  if (wire === Wire.Fixed32 || wire === Wire.Fixed64) {
    if (buf.length % (wire === Wire.Fixed32 ? 4 : 8) !== 0) throw new WireFormatError(`${what}: packed values of uneven length`);
    return;
  }
  let pos = 0;
  while (pos < buf.length) pos = skipVarint(buf, pos, what);
}

let limitsRaised = false;

/**
 * protobufjs stops at 100 nested messages (a 50-deep Txn), in decoding and
 * in converting a response alike; raise both to MAX_MESSAGE_DEPTH so what
 * checkWire admits is also decoded and answered. proto-loader's own copy of
 * protobufjs is the one that must change.
 */
export function raiseProtobufNestingLimit(): void {
  if (limitsRaised) return;
  const requireFromLoader = createRequire(createRequire(import.meta.url).resolve('@grpc/proto-loader'));
  const protobuf = requireFromLoader('protobufjs') as { util: { recursionLimit: number }; Reader: { recursionLimit: number } };
  protobuf.util.recursionLimit = Math.max(protobuf.util.recursionLimit, MAX_MESSAGE_DEPTH + 8);
  protobuf.Reader.recursionLimit = Math.max(protobuf.Reader.recursionLimit, MAX_MESSAGE_DEPTH + 8);
  limitsRaised = true;
}

interface LoadedMethod {
  requestDeserialize: (bytes: Buffer) => unknown;
  requestType?: { type?: { name?: string } };
}

/**
 * A copy of `service` whose request decoding first runs checkWire. grpc-js
 * answers a throwing deserializer with INTERNAL and never calls the handler.
 */
export function strictService(service: ServiceDefinition, schema: Schema, pkg: string): ServiceDefinition {
  raiseProtobufNestingLimit();
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(service)) {
    const method = def as unknown as LoadedMethod;
    const shortName = method.requestType?.type?.name;
    if (!shortName) throw new Error(`${pkg} ${name}: the loaded definition does not name its request type`);
    const typeName = `${pkg}.${shortName}`;
    const decode = method.requestDeserialize;
    out[name] = {
      ...def,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          checkWire(schema, typeName, bytes);
        } catch (err) {
          throw new Error(`grpc: error unmarshalling request: ${(err as Error).message}`, { cause: err });
        }
        return decode(bytes);
      },
    };
  }
  return out as unknown as ServiceDefinition;
}

/** The etcd service `name` as a member serves it: requests checked by checkWire before decoding. */
export function strictEtcdService(name: EtcdServiceName): ServiceDefinition {
  refuseCompressedIdentityMessages();
  return strictService(etcdServices[name], etcdSchema(), 'etcdserverpb');
}

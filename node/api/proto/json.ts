// The JSON form of etcd messages used by etcd's HTTP gateway (grpc-gateway).
//
// What etcd 3.4/3.5 print, and what this module therefore prints:
// - field names exactly as in the .proto files (etcd configures the gateway's
//   marshaler with OrigName), e.g. `create_revision`, `raft_term`, `ID`,
//   `isLearner` — not lowerCamelCase;
// - fields holding their default value (0, false, "", empty bytes, empty
//   list, enum value 0, unset message) are left out (EmitDefaults is off); a
//   set oneof member is printed even when it holds a default value;
// - 64-bit integers as decimal strings, 32-bit integers as numbers;
// - bytes as standard base64 with padding;
// - enums by value name ("DELETE", "DESCEND").
//
// On input the gateway (like protobuf's JSON parser) is more lenient, and so
// is `fromGatewayJson`: field names in either proto or lowerCamelCase form,
// 64-bit integers as strings or numbers, enums by name or number, bytes in
// standard or URL-safe base64 with or without padding, and `null` for "not
// set". Unknown fields are ignored by default, as etcd's gateway ignores
// them. Anything else that does not fit the schema is rejected with a
// GatewayJsonError naming the offending path.
import { loadEtcdProtos } from './load.js';
import { loadExtraProtos } from './extra-protos.js';
import { buildSchema, type FieldSchema, type MessageSchema, type Schema } from './schema.js';
import { INT64_MAX, INT64_MIN, UINT64_MAX } from './int64.js';

/** JSON text or a parsed value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Malformed or ill-typed gateway JSON. `path` points at the offending field. */
export class GatewayJsonError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'GatewayJsonError';
  }
}

let schemaCache: Schema | undefined;

/** The reflection model of the loaded etcd definitions, lock/election/health included (built once). */
export function etcdSchema(): Schema {
  if (!schemaCache) schemaCache = buildSchema({ ...loadEtcdProtos().packageDefinition, ...loadExtraProtos().packageDefinition });
  return schemaCache;
}

function messageSchema(schema: Schema, typeName: string): MessageSchema {
  const name = typeName.replace(/^\./, '');
  const msg = schema.messages.get(name);
  if (!msg) throw new Error(`unknown message type ${typeName}`);
  return msg;
}

const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED64 = new Set(['uint64', 'fixed64']);
const INT32_TYPES = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32_TYPES = new Set(['uint32', 'fixed32']);

// ---------------------------------------------------------------------------
// Output: loader-shaped object -> gateway JSON
// ---------------------------------------------------------------------------

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function isDefaultScalar(field: FieldSchema, v: unknown, schema: Schema): boolean {
  if (field.kind === 'enum') {
    if (typeof v === 'number') return v === 0;
    return schema.enums.get(field.typeName!)?.byName.get(String(v)) === 0;
  }
  switch (field.scalar) {
    case 'bool':
      return v === false;
    case 'string':
      return v === '';
    case 'bytes':
      return isBytes(v) ? v.length === 0 : v === '';
    default:
      // Numbers may arrive as numbers, decimal strings or bigints.
      return v === 0 || v === '0' || v === 0n || v === '-0';
  }
}

function scalarToJson(field: FieldSchema, v: unknown, path: string, schema: Schema): JsonValue {
  if (field.kind === 'enum') {
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return schema.enums.get(field.typeName!)?.byNumber.get(v) ?? v;
    throw new GatewayJsonError(`enum value must be a name or number, got ${typeof v}`, path);
  }
  const scalar = field.scalar!;
  if (INT64_TYPES.has(scalar)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return String(v);
    // A Long-like object (should the loader options ever change).
    if (v && typeof v === 'object' && 'toString' in v) return String(v);
    throw new GatewayJsonError(`expected a 64-bit integer, got ${typeof v}`, path);
  }
  switch (scalar) {
    case 'bytes':
      if (isBytes(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
      if (typeof v === 'string') return v; // already base64, as with the loader's `bytes: String`
      throw new GatewayJsonError(`expected bytes, got ${typeof v}`, path);
    case 'bool':
      return Boolean(v);
    case 'string':
      return String(v);
    case 'double':
    case 'float': {
      const n = Number(v);
      return Number.isFinite(n) ? n : String(n); // "NaN", "Infinity", "-Infinity" as protobuf JSON spells them
    }
    default:
      return Number(v);
  }
}

function messageToJson(msg: MessageSchema, obj: Record<string, unknown>, path: string, schema: Schema): JsonObject {
  const out: JsonObject = {};
  for (const field of msg.fields) {
    const v = obj[field.name];
    if (v === undefined || v === null) continue;
    const fpath = path ? `${path}.${field.name}` : field.name;
    // A oneof member that is present was set on purpose: print it even at its
    // default value (decoded messages leave unset members out entirely).
    const force = field.oneof !== undefined;
    if (field.repeated) {
      if (!Array.isArray(v)) throw new GatewayJsonError('expected an array', fpath);
      if (v.length === 0) continue;
      out[field.name] = v.map((el, i) => valueToJson(field, el, `${fpath}[${i}]`, schema));
      continue;
    }
    if (field.kind !== 'message' && !force && isDefaultScalar(field, v, schema)) continue;
    out[field.name] = valueToJson(field, v, fpath, schema);
  }
  return out;
}

function valueToJson(field: FieldSchema, v: unknown, path: string, schema: Schema): JsonValue {
  if (field.kind === 'message') {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GatewayJsonError('expected a message object', path);
    return messageToJson(messageSchema(schema, field.typeName!), v as Record<string, unknown>, path, schema);
  }
  return scalarToJson(field, v, path, schema);
}

/**
 * Converts a message as the loader represents it (or as a handler builds it)
 * to etcd's gateway JSON value. `typeName` is fully qualified, e.g.
 * `etcdserverpb.RangeResponse`.
 */
export function toGatewayJson(typeName: string, message: object): JsonObject {
  const schema = etcdSchema();
  return messageToJson(messageSchema(schema, typeName), message as Record<string, unknown>, '', schema);
}

/** `toGatewayJson` serialised to text. */
export function stringifyGatewayJson(typeName: string, message: object): string {
  return JSON.stringify(toGatewayJson(typeName, message));
}

// ---------------------------------------------------------------------------
// Input: gateway JSON -> loader-shaped object
// ---------------------------------------------------------------------------

export interface FromJsonOptions {
  /** Reject fields the schema does not know (etcd's gateway ignores them; default false). */
  rejectUnknownFields?: boolean;
  /**
   * Fill every field the JSON leaves out with its default, exactly as the
   * loader's `defaults: true` does for decoded messages (default true), so a
   * gateway request looks the same to a handler as a gRPC request.
   */
  defaults?: boolean;
}

const BASE64_BODY = /^[A-Za-z0-9+/]*$/;
const BASE64URL_BODY = /^[A-Za-z0-9\-_]*$/;

/**
 * Strict base64 decoding: standard or URL-safe alphabet (not mixed), padded
 * to a multiple of four as etcd's gateway requires. Node's own decoder silently skips
 * invalid characters, which would turn typos into wrong keys.
 */
export function decodeBase64Strict(text: string, path = ''): Buffer {
  let body = text;
  const padAt = body.indexOf('=');
  if (padAt >= 0) {
    const pad = body.slice(padAt);
    body = body.slice(0, padAt);
    if (pad !== '=' && pad !== '==') throw new GatewayJsonError('invalid base64: bad padding', path);
    if ((body.length + pad.length) % 4 !== 0) throw new GatewayJsonError('invalid base64: bad padding', path);
  }
  const url = !BASE64_BODY.test(body);
  if (url && !BASE64URL_BODY.test(body)) throw new GatewayJsonError('invalid base64: unexpected character', path);
  // etcd's gateway (Go's base64.StdEncoding) refuses unpadded base64 ("YQ"),
  // naming where the incomplete quantum starts, with no field path: the same words here.
  if (padAt < 0 && body.length % 4 !== 0) throw new GatewayJsonError(`illegal base64 data at input byte ${body.length - (body.length % 4)}`, '');
  if (body.length % 4 === 1) throw new GatewayJsonError('invalid base64: truncated input', path);
  const buf = Buffer.from(body, url ? 'base64url' : 'base64');
  // Reject non-canonical trailing bits (e.g. "Zm9=" vs "Zm8="), which could
  // otherwise make two spellings decode to the same key.
  const canonical = buf.toString(url ? 'base64url' : 'base64').replace(/=+$/, '');
  if (canonical !== body) throw new GatewayJsonError('invalid base64: non-zero trailing bits', path);
  return buf;
}

function parseInteger(v: JsonValue, scalar: string, path: string): bigint {
  let n: bigint;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new GatewayJsonError(`expected an integer, got ${v}`, path);
    if (!Number.isSafeInteger(v)) throw new GatewayJsonError(`integer ${v} is too large to be exact in JSON; send it as a string`, path);
    n = BigInt(v);
  } else if (typeof v === 'string') {
    if (!/^-?[0-9]+$/.test(v)) throw new GatewayJsonError(`expected a decimal integer, got ${JSON.stringify(v)}`, path);
    n = BigInt(v);
  } else {
    throw new GatewayJsonError(`expected an integer (number or string), got ${describe(v)}`, path);
  }
  let min: bigint;
  let max: bigint;
  if (INT64_TYPES.has(scalar)) {
    [min, max] = UNSIGNED64.has(scalar) ? [0n, UINT64_MAX] : [INT64_MIN, INT64_MAX];
  } else if (INT32_TYPES.has(scalar)) {
    [min, max] = [-(2n ** 31n), 2n ** 31n - 1n];
  } else {
    [min, max] = [0n, 2n ** 32n - 1n];
  }
  if (n < min || n > max) throw new GatewayJsonError(`${n} is out of range for ${scalar}`, path);
  return n;
}

function describe(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function defaultValue(field: FieldSchema, schema: Schema): unknown {
  if (field.repeated) return [];
  if (field.kind === 'message') return null;
  if (field.kind === 'enum') return schema.enums.get(field.typeName!)?.byNumber.get(0) ?? 0;
  const scalar = field.scalar!;
  if (INT64_TYPES.has(scalar)) return '0';
  if (scalar === 'bool') return false;
  if (scalar === 'string') return '';
  if (scalar === 'bytes') return Buffer.alloc(0);
  return 0;
}

function scalarFromJson(field: FieldSchema, v: JsonValue, path: string, schema: Schema): unknown {
  if (field.kind === 'enum') {
    const e = schema.enums.get(field.typeName!)!;
    if (typeof v === 'string') {
      if (!e.byName.has(v)) throw new GatewayJsonError(`unknown ${field.typeName} value ${JSON.stringify(v)}`, path);
      return v;
    }
    if (typeof v === 'number' && Number.isInteger(v)) return e.byNumber.get(v) ?? v;
    throw new GatewayJsonError(`expected an enum name or number, got ${describe(v)}`, path);
  }
  const scalar = field.scalar!;
  if (INT64_TYPES.has(scalar)) return parseInteger(v, scalar, path).toString();
  if (INT32_TYPES.has(scalar) || UINT32_TYPES.has(scalar)) return Number(parseInteger(v, scalar, path));
  switch (scalar) {
    case 'bool':
      if (typeof v !== 'boolean') throw new GatewayJsonError(`expected true or false, got ${describe(v)}`, path);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new GatewayJsonError(`expected a string, got ${describe(v)}`, path);
      return v;
    case 'bytes':
      if (typeof v !== 'string') throw new GatewayJsonError(`expected a base64 string, got ${describe(v)}`, path);
      return decodeBase64Strict(v, path);
    default: {
      // double / float
      if (typeof v === 'number') return v;
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
      throw new GatewayJsonError(`expected a number, got ${describe(v)}`, path);
    }
  }
}

function messageFromJson(msg: MessageSchema, json: JsonValue, path: string, schema: Schema, opts: Required<FromJsonOptions>): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GatewayJsonError(`expected a JSON object for ${msg.fullName}, got ${describe(json)}`, path);
  }
  const out: Record<string, unknown> = {};
  const seen = new Map<string, string>();
  const oneofSet = new Map<string, string>();
  for (const [key, v] of Object.entries(json)) {
    const field = msg.byName.get(key);
    const fpath = path ? `${path}.${key}` : key;
    if (!field) {
      if (opts.rejectUnknownFields) throw new GatewayJsonError(`unknown field for ${msg.fullName}`, fpath);
      continue;
    }
    const earlier = seen.get(field.name);
    if (earlier !== undefined) throw new GatewayJsonError(`field given twice (as ${JSON.stringify(earlier)} and ${JSON.stringify(key)})`, fpath);
    seen.set(field.name, key);
    if (v === null) continue; // null means "not set"
    if (field.oneof) {
      const other = oneofSet.get(field.oneof);
      if (other !== undefined) throw new GatewayJsonError(`only one of oneof ${field.oneof} may be set, but ${other} is set too`, fpath);
      oneofSet.set(field.oneof, field.name);
    }
    if (field.repeated) {
      if (!Array.isArray(v)) throw new GatewayJsonError(`expected an array, got ${describe(v)}`, fpath);
      out[field.name] = v.map((el, i) => {
        const epath = `${fpath}[${i}]`;
        if (el === null) throw new GatewayJsonError('null is not allowed in a list', epath);
        return field.kind === 'message'
          ? messageFromJson(messageSchema(schema, field.typeName!), el, epath, schema, opts)
          : scalarFromJson(field, el, epath, schema);
      });
    } else if (field.kind === 'message') {
      out[field.name] = messageFromJson(messageSchema(schema, field.typeName!), v, fpath, schema, opts);
    } else {
      out[field.name] = scalarFromJson(field, v, fpath, schema);
    }
  }
  for (const [oneof, member] of oneofSet) out[oneof] = member;
  if (opts.defaults) {
    for (const field of msg.fields) {
      if (field.oneof || field.name in out) continue;
      out[field.name] = defaultValue(field, schema);
    }
  }
  return out;
}

/**
 * Puts quotes around integer literals too long for a JS number to hold
 * exactly, before JSON.parse sees them. etcd's (Go) gateway reads
 * `{"ID": 7587862072907233406}` exactly, and etcd's own documentation sends
 * lease IDs that way; JSON.parse would round them. The integer parsers below
 * accept decimal strings, so the quoted form means the same thing. Text inside
 * JSON strings is left alone; malformed text is left for JSON.parse to reject.
 */
export function quoteLargeIntegers(text: string): string {
  let out = '';
  let i = 0;
  let copied = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (ch === '"') {
      i++;
      while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (ch === '-' || (ch >= '0' && ch <= '9')) {
      const start = i;
      if (ch === '-') i++;
      while (i < n && text[i]! >= '0' && text[i]! <= '9') i++;
      const next = text[i];
      const isInteger = next !== '.' && next !== 'e' && next !== 'E';
      const digits = i - start - (ch === '-' ? 1 : 0);
      if (isInteger && digits > 15) {
        out += text.slice(copied, start) + '"' + text.slice(start, i) + '"';
        copied = i;
      }
      // Skip the rest of a non-integer literal.
      while (i < n && /[0-9.eE+-]/.test(text[i]!)) i++;
      continue;
    }
    i++;
  }
  return out + text.slice(copied);
}

/**
 * Parses gateway JSON (text or an already parsed value) into a message shaped
 * as the loader shapes decoded messages: proto field names, int64 as decimal
 * strings, bytes as Buffers, enums as names, oneof virtual fields set, and
 * (unless `defaults: false`) every other field filled with its default.
 * Throws GatewayJsonError on malformed input.
 */
export function fromGatewayJson<T = Record<string, unknown>>(typeName: string, input: string | JsonValue, options: FromJsonOptions = {}): T {
  let json: JsonValue;
  if (typeof input === 'string') {
    // The gateway treats an empty body as an empty message.
    if (input.trim() === '') json = {};
    else {
      try {
        json = JSON.parse(quoteLargeIntegers(input)) as JsonValue;
      } catch (err) {
        throw new GatewayJsonError(`malformed JSON: ${err instanceof Error ? err.message : String(err)}`, '');
      }
    }
  } else json = input;
  const schema = etcdSchema();
  const opts: Required<FromJsonOptions> = { rejectUnknownFields: options.rejectUnknownFields ?? false, defaults: options.defaults ?? true };
  return messageFromJson(messageSchema(schema, typeName), json, '', schema, opts) as T;
}

/**
 * One message of a server stream (Watch, LeaseKeepAlive, Snapshot) as the
 * gateway writes it: each message is wrapped as `{"result": ...}` and the
 * objects follow one another in the HTTP response body.
 */
export function toGatewayStreamChunk(typeName: string, message: object): JsonObject {
  return { result: toGatewayJson(typeName, message) };
}

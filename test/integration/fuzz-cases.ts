// Case generation for the wire fuzz test (fuzz-wire.test.ts): valid etcd
// requests for the gRPC methods and gateway routes under test, and the ways
// they are broken before sending. Everything comes from the case's own Rng,
// so a seed and a case number give the same bytes on any machine.
import { gzipSync } from 'node:zlib';
import { loadEtcdProtos } from '../../contract/etcd-proto.js';
import { Rng } from '../sim/rng.js';

export type GrpcMethod = 'KV/Put' | 'KV/Range' | 'KV/Txn' | 'KV/DeleteRange' | 'Lease/LeaseGrant' | 'Watch/Watch';
export type GatewayPath = '/v3/kv/put' | '/v3/kv/range' | '/v3/kv/txn' | '/v3/kv/deleterange' | '/v3/watch' | '/v3/lease/grant';

export interface GrpcCase {
  target: 'grpc';
  method: GrpcMethod;
  /** A request path other than the method's (an unknown method or service). */
  path?: string;
  /** Headers added to (or, as undefined, removed from) a gRPC call's own. */
  headers: Record<string, string | undefined>;
  /** The client resets the stream after half the body. */
  cancelHalfway?: boolean;
  /** What goes into the HTTP/2 request body: gRPC frames, well formed or not. */
  body: Buffer;
  /** Writes of the body, so frames also arrive split at odd places. */
  chunks: number;
  /** What was done to the valid request, for the failure message. */
  how: string[];
}

export interface GatewayCase {
  target: 'gateway';
  path: GatewayPath;
  body: Buffer;
  how: string[];
}

export type FuzzCase = GrpcCase | GatewayCase;

export const GRPC_METHODS: readonly GrpcMethod[] = ['KV/Put', 'KV/Range', 'KV/Txn', 'KV/DeleteRange', 'Lease/LeaseGrant', 'Watch/Watch'];
export const GATEWAY_PATHS: readonly GatewayPath[] = ['/v3/kv/put', '/v3/kv/range', '/v3/kv/txn', '/v3/kv/deleterange', '/v3/watch', '/v3/lease/grant'];

/** Methods and routes that never write, whatever they are sent. */
export function isReadOnly(c: FuzzCase): boolean {
  return c.target === 'grpc' ? c.method === 'KV/Range' || c.method === 'Watch/Watch' : c.path === '/v3/kv/range' || c.path === '/v3/watch';
}

/** A lease ID no case grants: a put naming it is refused ("requested lease not found") and writes nothing. */
export const UNGRANTED_LEASE = '7777777';
/** Lease IDs cases may grant. Puts never name them, so no lease expiry deletes keys during the run. */
const GRANTED_LEASES = ['0', '0', '1001', '1002', '-1003'];

/** The per-case generator: independent of every other case. */
export function caseRng(seed: number, caseNo: number): Rng {
  return new Rng((seed ^ Math.imul(caseNo + 1, 0x9e3779b1)) | 0);
}

type MethodDef = { requestSerialize: (v: unknown) => Buffer; requestDeserialize: (b: Buffer) => unknown; responseDeserialize: (b: Buffer) => unknown };

export function etcdMethod(path: string): MethodDef {
  const [service, name] = path.split('/') as [string, string];
  const def = loadEtcdProtos().packageDefinition[`etcdserverpb.${service}`] as unknown as Record<string, MethodDef>;
  return def[name]!;
}

// ---- valid requests --------------------------------------------------------

function key(rng: Rng): Buffer {
  return rng.chance(0.05) ? Buffer.alloc(0) : Buffer.from(`fz/${rng.int(0, 40)}`);
}

function bytes(rng: Rng, max: number): Buffer {
  const out = Buffer.alloc(rng.int(0, max));
  for (let i = 0; i < out.length; i++) out[i] = rng.int(0, 255);
  return out;
}

function int64(rng: Rng): string {
  return rng.pick(['0', '1', '5', String(rng.int(0, 100)), '-1', '9223372036854775807', '-9223372036854775808', '9007199254740993']);
}

function put(rng: Rng): Record<string, unknown> {
  return {
    key: key(rng),
    value: bytes(rng, 24),
    ...(rng.chance(0.15) && { lease: UNGRANTED_LEASE }),
    ...(rng.chance(0.3) && { prev_kv: true }),
    ...(rng.chance(0.1) && { ignore_value: true }),
    ...(rng.chance(0.1) && { ignore_lease: true }),
  };
}

function range(rng: Rng): Record<string, unknown> {
  return {
    key: key(rng),
    ...(rng.chance(0.5) && { range_end: rng.chance(0.3) ? Buffer.from([0]) : Buffer.from(`fz/${rng.int(0, 40)}`) }),
    ...(rng.chance(0.3) && { limit: int64(rng) }),
    ...(rng.chance(0.2) && { revision: int64(rng) }),
    ...(rng.chance(0.2) && { sort_order: rng.int(0, 2), sort_target: rng.int(0, 4) }),
    ...(rng.chance(0.2) && { serializable: true }),
    ...(rng.chance(0.2) && { keys_only: true }),
    ...(rng.chance(0.2) && { count_only: true }),
    ...(rng.chance(0.1) && { min_mod_revision: int64(rng), max_create_revision: int64(rng) }),
  };
}

function deleteRange(rng: Rng): Record<string, unknown> {
  return { key: key(rng), ...(rng.chance(0.3) && { range_end: Buffer.from(`fz/${rng.int(0, 40)}`) }), ...(rng.chance(0.3) && { prev_kv: true }) };
}

function compare(rng: Rng): Record<string, unknown> {
  const target = rng.int(0, 4);
  const value = [{ version: int64(rng) }, { create_revision: int64(rng) }, { mod_revision: int64(rng) }, { value: bytes(rng, 8) }, { lease: int64(rng) }][target]!;
  return { result: rng.int(0, 3), target, key: key(rng), ...value, ...(rng.chance(0.2) && { range_end: Buffer.from([0]) }) };
}

function requestOp(rng: Rng, depth: number): Record<string, unknown> {
  const kind = rng.int(0, depth > 0 ? 3 : 2);
  if (kind === 0) return { request_range: range(rng) };
  if (kind === 1) return { request_put: put(rng) };
  if (kind === 2) return { request_delete_range: deleteRange(rng) };
  return { request_txn: txn(rng, depth - 1) };
}

function txn(rng: Rng, depth: number): Record<string, unknown> {
  const ops = (): Record<string, unknown>[] => Array.from({ length: rng.int(0, 3) }, () => requestOp(rng, depth));
  return { compare: Array.from({ length: rng.int(0, 2) }, () => compare(rng)), success: ops(), failure: ops() };
}

function leaseGrant(rng: Rng): Record<string, unknown> {
  // Long TTLs: a lease that expired mid-run would be a change no case made.
  return { TTL: String(rng.int(600, 3600)), ID: rng.pick(GRANTED_LEASES) };
}

function watchRequest(rng: Rng): Record<string, unknown> {
  const kind = rng.int(0, 9);
  if (kind === 0) return { cancel_request: { watch_id: int64(rng) } };
  if (kind === 1) return { progress_request: {} };
  return {
    create_request: {
      key: key(rng),
      ...(rng.chance(0.3) && { range_end: rng.chance(0.5) ? Buffer.from([0]) : Buffer.from(`fz/${rng.int(0, 40)}`) }),
      ...(rng.chance(0.3) && { start_revision: int64(rng) }),
      ...(rng.chance(0.2) && { progress_notify: true }),
      ...(rng.chance(0.2) && { filters: [rng.int(0, 1)] }),
      ...(rng.chance(0.2) && { prev_kv: true }),
      ...(rng.chance(0.2) && { watch_id: int64(rng) }),
      ...(rng.chance(0.1) && { fragment: true }),
    },
  };
}

function validRequest(rng: Rng, method: GrpcMethod): Record<string, unknown> {
  switch (method) {
    case 'KV/Put':
      return put(rng);
    case 'KV/Range':
      return range(rng);
    case 'KV/DeleteRange':
      return deleteRange(rng);
    case 'KV/Txn':
      return txn(rng, rng.int(0, 3));
    case 'Lease/LeaseGrant':
      return leaseGrant(rng);
    case 'Watch/Watch':
      return watchRequest(rng);
  }
}

const INT64_FIELDS = new Set(['limit', 'revision', 'lease', 'version', 'create_revision', 'mod_revision', 'min_mod_revision', 'max_mod_revision', 'min_create_revision', 'max_create_revision', 'TTL', 'ID', 'start_revision', 'watch_id']);
const ENUM_FIELDS = new Set(['result', 'target', 'sort_order', 'sort_target', 'filters']);
const BYTES_FIELDS = new Set(['key', 'range_end', 'value']);

/** Every (object, field) in a request tree, so a value deep in a txn can be reached. */
function slots(value: unknown, out: [Record<string, unknown>, string][] = []): [Record<string, unknown>, string][] {
  if (Array.isArray(value)) for (const v of value) slots(v, out);
  else if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      slots(v, out);
    }
  }
  return out;
}

/**
 * Sets one field of a valid request to a value of its type that handlers
 * may not expect: int64 extremes, enum numbers no name has, empty, NUL,
 * 0xff and oversized bytes. The result still encodes as well-formed protobuf.
 */
function oddValue(rng: Rng, request: Record<string, unknown>): string {
  const known = slots(request).filter(([, k]) => INT64_FIELDS.has(k) || ENUM_FIELDS.has(k) || BYTES_FIELDS.has(k));
  const [obj, k] = known.length > 0 ? rng.pick(known) : [request, rng.pick(['limit', 'lease', 'TTL', 'key'])];
  let v: unknown;
  if (ENUM_FIELDS.has(k)) v = k === 'filters' ? [rng.pick([2, 99, -1])] : rng.pick([5, 99, -1, 2 ** 31 - 1]);
  else if (BYTES_FIELDS.has(k)) v = rng.pick([Buffer.alloc(0), Buffer.from([0]), Buffer.from([0xff, 0xff]), Buffer.alloc(rng.chance(0.2) ? 1_600_000 : 3000, 'k')]);
  else v = rng.pick(['-9223372036854775808', '9223372036854775807', '-1', '2147483648', '4294967296', '9007199254740993', '-9007199254740993']);
  obj[k] = v;
  return `${k} = ${Buffer.isBuffer(v) ? `${v.length} bytes` : JSON.stringify(v)}`;
}

/**
 * A TxnRequest nested `depth` txns deep around one put, encoded by hand
 * (this process's protobufjs stops at 100 levels).
 */
export function nestedTxn(depth: number, innerKey: string): Buffer {
  const field = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), varint(body.length), body]);
  const k = Buffer.from(innerKey);
  // PutRequest{key} inside RequestOp.request_put (field 2) inside TxnRequest.success (field 2).
  let msg = field(0x12, field(0x12, field(0x0a, k)));
  for (let i = 1; i < depth; i++) msg = field(0x12, field(0x22, msg)); // success: [{ request_txn: msg }]
  return msg;
}

function varint(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return Buffer.from(out);
}

// ---- breaking protobuf bytes -----------------------------------------------

/** Start offsets of the top-level fields' tags, as far as the bytes can be read as fields. */
function fieldStarts(buf: Buffer): { at: number; wire: number; valueAt: number }[] {
  const out: { at: number; wire: number; valueAt: number }[] = [];
  let pos = 0;
  while (pos < buf.length && out.length < 64) {
    const at = pos;
    let tag = 0;
    let shift = 0;
    while (pos < buf.length && shift < 35) {
      const b = buf[pos++]!;
      tag |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    const wire = tag & 7;
    out.push({ at, wire, valueAt: pos });
    if (wire === 0) {
      while (pos < buf.length && buf[pos]! & 0x80) pos++;
      pos++;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len = 0;
      shift = 0;
      while (pos < buf.length && shift < 35) {
        const b = buf[pos++]!;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      pos += len;
    } else break;
  }
  return out;
}

const MESSAGE_MUTATIONS: Record<string, (rng: Rng, buf: Buffer) => Buffer> = {
  'flip a bit': (rng, buf) => {
    if (buf.length === 0) return Buffer.from([rng.int(0, 255)]);
    const out = Buffer.from(buf);
    out[rng.int(0, out.length - 1)]! ^= 1 << rng.int(0, 7);
    return out;
  },
  truncate: (rng, buf) => buf.subarray(0, rng.int(0, Math.max(0, buf.length - 1))),
  'insert bytes': (rng, buf) => {
    const at = rng.int(0, buf.length);
    return Buffer.concat([buf.subarray(0, at), bytes(rng, 8), buf.subarray(at)]);
  },
  'delete bytes': (rng, buf) => {
    const at = rng.int(0, buf.length);
    return Buffer.concat([buf.subarray(0, at), buf.subarray(at + rng.int(1, 4))]);
  },
  'wrong wire type': (rng, buf) => {
    const fields = fieldStarts(buf);
    if (fields.length === 0) return Buffer.from([0x08 | rng.pick([1, 2, 5]), ...bytes(rng, 6)]);
    const f = rng.pick(fields);
    const out = Buffer.from(buf);
    out[f.at] = (out[f.at]! & ~7) | rng.pick([0, 1, 2, 3, 4, 5, 6, 7].filter((w) => w !== f.wire));
    return out;
  },
  'huge varint': (rng, buf) => {
    // A varint of 10 or 11 bytes (the 11th makes it overlong) in place of a field's value or length.
    const huge = Buffer.from([...Array.from({ length: rng.int(9, 10) }, () => 0xff), rng.pick([0x01, 0x7f])]);
    const fields = fieldStarts(buf).filter((f) => f.wire === 0 || f.wire === 2);
    if (fields.length === 0) return Buffer.concat([buf, Buffer.from([rng.pick([0x18, 0x20, 0x12])]), huge]);
    const f = rng.pick(fields);
    return Buffer.concat([buf.subarray(0, f.valueAt), huge, buf.subarray(f.valueAt + 1)]);
  },
  'length lie': (rng, buf) => {
    const fields = fieldStarts(buf).filter((f) => f.wire === 2);
    if (fields.length === 0) return Buffer.concat([buf, Buffer.from([0x0a]), varint(rng.int(1, 2 ** 31))]);
    const f = rng.pick(fields);
    const out = Buffer.from(buf);
    out[f.valueAt] = rng.pick([0x7f, 0x00, (out[f.valueAt]! + 1) & 0x7f, Math.max(0, out[f.valueAt]! - 1)]);
    return out;
  },
  'unknown field': (rng, buf) => {
    const wire = rng.pick([0, 1, 2, 5, 3, 4, 6, 7]);
    const tag = varint(rng.int(16, 5000) * 8 + wire);
    const value = wire === 0 ? varint(rng.int(0, 1000)) : wire === 2 ? Buffer.concat([varint(3), bytes(rng, 0), Buffer.from('abc')]) : wire === 1 ? Buffer.alloc(8) : wire === 5 ? Buffer.alloc(4) : Buffer.alloc(0);
    return Buffer.concat([buf, tag, value]);
  },
  'duplicate a field': (rng, buf) => {
    const fields = fieldStarts(buf);
    if (fields.length === 0) return buf;
    const i = rng.int(0, fields.length - 1);
    const end = fields[i + 1]?.at ?? buf.length;
    return Buffer.concat([buf, buf.subarray(fields[i]!.at, end)]);
  },
  'field number 0': (rng, buf) => Buffer.concat([Buffer.from([rng.pick([0x00, 0x02, 0x05])]), buf]),
  'random bytes': (rng) => bytes(rng, 64),
};

// ---- breaking gRPC frames ---------------------------------------------------

function frame(message: Buffer, flag = 0, declared = message.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(declared >>> 0, 1);
  return Buffer.concat([head, message]);
}

export function grpcCase(rng: Rng): GrpcCase {
  const method = rng.pick(GRPC_METHODS);
  const how: string[] = [];
  const headers: Record<string, string | undefined> = {};
  let message: Buffer;
  if (method === 'KV/Txn' && rng.chance(0.1)) {
    // Deep nesting: up to etcd's op limit (128) succeeds, beyond it is refused.
    const depth = rng.pick([rng.int(2, 140), rng.int(550, 700), 2000]);
    how.push(`txn nested ${depth} deep`);
    message = nestedTxn(depth, `fz/deep${depth}`);
  } else {
    const request = validRequest(rng, method);
    if (rng.chance(0.3)) how.push(oddValue(rng, request));
    message = etcdMethod(method).requestSerialize(request);
  }
  const mutations = rng.chance(0.2) ? 0 : rng.int(1, 2);
  for (let i = 0; i < mutations; i++) {
    const name = rng.pick(Object.keys(MESSAGE_MUTATIONS));
    how.push(name);
    message = MESSAGE_MUTATIONS[name]!(rng, message);
  }
  let body: Buffer;
  switch (rng.chance(0.7) ? 'plain' : rng.pick(['compressed flag', 'gzip', 'gzip flag off', 'bad gzip', 'length lie', 'two messages', 'no message', 'trailing bytes', 'huge length'])) {
    case 'compressed flag':
      how.push('compressed flag, no grpc-encoding');
      body = frame(message, 1);
      break;
    case 'gzip':
      // A valid compressed call: refused or not, it is what a client may send.
      how.push('gzip-compressed');
      headers['grpc-encoding'] = 'gzip';
      body = frame(gzipSync(message), 1);
      break;
    case 'gzip flag off':
      how.push('grpc-encoding gzip, message not flagged');
      headers['grpc-encoding'] = 'gzip';
      body = frame(message, 0);
      break;
    case 'bad gzip':
      how.push('grpc-encoding gzip, flagged, not gzip');
      headers['grpc-encoding'] = rng.pick(['gzip', 'deflate', 'snappy']);
      body = frame(message, 1);
      break;
    case 'length lie': {
      const declared = Math.max(0, message.length + rng.pick([-3, -1, 1, 7, 100]));
      how.push(`frame length ${declared} for ${message.length} bytes`);
      body = frame(message, 0, declared);
      break;
    }
    case 'two messages':
      how.push('two messages');
      body = Buffer.concat([frame(message), frame(message)]);
      break;
    case 'no message':
      how.push('no message');
      body = Buffer.alloc(0);
      break;
    case 'trailing bytes':
      how.push('trailing partial frame');
      body = Buffer.concat([frame(message), bytes(rng, 4)]);
      break;
    case 'huge length':
      how.push('frame length 2^32-1');
      body = frame(message, 0, 0xffffffff);
      break;
    default:
      body = frame(message);
  }
  const fc: GrpcCase = { target: 'grpc', method, headers, body, chunks: rng.int(1, 3), how };
  if (rng.chance(0.12)) {
    // The call around the message broken instead.
    switch (rng.int(0, 5)) {
      case 0:
        headers['content-type'] = rng.pick(['text/plain', 'application/json', 'application/grpc+json', 'application/grpc+proto', 'application/grpcx']);
        how.push(`content-type ${headers['content-type']}`);
        break;
      case 1:
        fc.path = rng.pick(['/etcdserverpb.KV/Nope', '/etcdserverpb.Nope/Put', '/', '/etcdserverpb.KV/', '/v3/kv/put', `/etcdserverpb.${method}/extra`]);
        how.push(`path ${fc.path}`);
        break;
      case 2:
        headers['grpc-timeout'] = rng.pick(['1n', '1u', '0m', 'xx', '99999999H', '100000000S', '-1m']);
        how.push(`grpc-timeout ${headers['grpc-timeout']}`);
        break;
      case 3:
        headers.te = undefined;
        how.push('no te header');
        break;
      case 4:
        headers['grpc-encoding'] = rng.pick(['gzip, deflate', 'GZIP', '', 'identity']);
        how.push(`grpc-encoding "${headers['grpc-encoding']}"`);
        break;
      default:
        fc.cancelHalfway = true;
        how.push('reset by the client half-way');
    }
  }
  return fc;
}

// ---- gateway JSON ----------------------------------------------------------

const b64 = (b: Buffer): string => b.toString('base64');

/** The loader-shaped request as gateway JSON: bytes in base64, numbers as given. */
function toJson(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return b64(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]));
  return value;
}

const GATEWAY_METHOD: Record<GatewayPath, GrpcMethod> = {
  '/v3/kv/put': 'KV/Put',
  '/v3/kv/range': 'KV/Range',
  '/v3/kv/txn': 'KV/Txn',
  '/v3/kv/deleterange': 'KV/DeleteRange',
  '/v3/watch': 'Watch/Watch',
  '/v3/lease/grant': 'Lease/LeaseGrant',
};

function weirdValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, 17)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 2 ** 63]);
    case 3: return rng.pick(['99999999999999999999999', '-9223372036854775809', '18446744073709551616', '1e3', '0x10', ' 1', '', 'NaN']);
    case 4: return rng.pick(['YQ', 'Y', '!!!!', 'YQ==YQ==', '-_-_', 'YQ==\n', '\u0000', 'é']);
    case 5: return 'x'.repeat(rng.int(0, 3) === 0 ? 100_000 : 300);
    case 6: return depth > 2 ? [] : Array.from({ length: rng.int(0, 3) }, () => weirdValue(rng, depth + 1));
    case 7: return depth > 2 ? {} : { [rng.pick(['key', 'ID', 'x', '__proto__', 'constructor'])]: weirdValue(rng, depth + 1) };
    case 8: return rng.pick(['PUT', 'DELETE', 'NOPUT', 'NODELETE', 'EQUAL', 'GREATER', 'MOD', 'VALUE', 'LEASE', 'DESCEND', 'BOGUS']);
    case 9: return rng.pick([0, 1, 2, 3, 4, 5, 99, -1]);
    case 10:
      // Deeply nested arrays (a stack bomb for recursive readers), spelled out after stringify.
      return `${DEEP}${rng.pick([100, 5000, 50_000])}`;
    default: return b64(bytes(rng, 12));
  }
}

/** Marks a value that becomes that many nested arrays in the JSON text. */
const DEEP = '\u0001deep:';

function expandDeep(text: string): string {
  return text.replace(/"\\u0001deep:(\d+)"/g, (_m, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
}

/** Paths of every value in a JSON tree, so a mutation can reach nested fields. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = [...prefix, Array.isArray(value) ? Number(k) : k];
      out.push(p);
      paths(v, p, out);
    }
  }
  return out;
}

function setAt(root: unknown, path: (string | number)[], v: unknown, remove = false): void {
  let node = root as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove) delete node[last];
  else node[last] = v;
}

function deepTxnJson(depth: number): string {
  let s = `{"success":[{"request_put":{"key":"${b64(Buffer.from(`fz/jdeep${depth}`))}","value":"dg=="}}]}`;
  for (let i = 1; i < depth; i++) s = `{"success":[{"request_txn":${s}}]}`;
  return s;
}

const TEXT_MUTATIONS: Record<string, (rng: Rng, text: string) => string> = {
  truncate: (rng, t) => t.slice(0, rng.int(0, Math.max(0, t.length - 1))),
  'delete a character': (rng, t) => {
    const at = rng.int(0, t.length);
    return t.slice(0, at) + t.slice(at + 1);
  },
  'insert a character': (rng, t) => {
    const at = rng.int(0, t.length);
    return t.slice(0, at) + rng.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '0', '-', 'e', ' ', '\u0000', 'é', '\ud800']) + t.slice(at);
  },
  'swap a character': (rng, t) => {
    if (t.length === 0) return '{';
    const at = rng.int(0, t.length - 1);
    return t.slice(0, at) + String.fromCharCode(rng.int(0, 127)) + t.slice(at + 1);
  },
  'two objects': (_rng, t) => `${t}${t}`,
  'wrapped in an array': (_rng, t) => `[${t}]`,
  'a bare value': (rng) => rng.pick(['[]', 'null', '0', '"x"', 'true', '', '   ', '{', '}', '{}', '{"":}', '{"a":1,}', '\ufeff{}']),
};

export function gatewayCase(rng: Rng): GatewayCase {
  const path = rng.pick(GATEWAY_PATHS);
  const how: string[] = [];
  let text: string;
  if (path === '/v3/kv/txn' && rng.chance(0.1)) {
    const depth = rng.pick([rng.int(2, 140), 600, 5000]);
    how.push(`txn nested ${depth} deep`);
    text = deepTxnJson(depth);
  } else {
    const valid = validRequest(rng, GATEWAY_METHOD[path]);
    if (rng.chance(0.3)) how.push(oddValue(rng, valid));
    const request = toJson(valid) as Record<string, unknown>;
    for (let i = 0, n = rng.int(0, 2); i < n; i++) {
      const all = paths(request);
      const op = rng.int(0, 3);
      if (op === 0 || all.length === 0) {
        const name = rng.pick(['key', 'value', 'lease', 'ID', 'TTL', 'limit', 'revision', 'compare', 'success', 'create_request', 'cancel_request', 'progress_request', 'range_end', 'sort_order', 'bogus']);
        how.push(`${name} set to a weird value`);
        request[name] = weirdValue(rng);
      } else if (op === 1) {
        const p = rng.pick(all);
        how.push(`${p.join('.')} removed`);
        setAt(request, p, undefined, true);
      } else {
        const p = rng.pick(all);
        how.push(`${p.join('.')} set to a weird value`);
        setAt(request, p, weirdValue(rng));
      }
    }
    text = expandDeep(JSON.stringify(request));
  }
  if (rng.chance(0.5)) {
    for (let i = 0, n = rng.int(1, 2); i < n; i++) {
      const name = rng.pick(Object.keys(TEXT_MUTATIONS));
      how.push(name);
      text = TEXT_MUTATIONS[name]!(rng, text);
    }
  }
  let body = Buffer.from(text, 'utf8');
  if (rng.chance(0.05)) {
    how.push('invalid UTF-8');
    body = Buffer.concat([body.subarray(0, body.length >> 1), Buffer.from([0xc3, 0x28, 0xff]), body.subarray(body.length >> 1)]);
  }
  return { target: 'gateway', path, body, how };
}

export function makeCase(seed: number, caseNo: number, gatewayShare: number): FuzzCase {
  const rng = caseRng(seed, caseNo);
  return rng.chance(gatewayShare) ? gatewayCase(rng) : grpcCase(rng);
}

// Conversions between etcd's protobuf messages as @grpc/proto-loader hands
// them over (field names exactly as in etcd's .proto files, 64-bit integers
// as decimal strings, bytes as Buffers, enums by name) and the server's own
// types (camelCase, numbers, Uint8Array).
import type {
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  LeaseId,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from '../../mvcc/types.js';
import type { Header } from '../../server/etcd-server.js';
import type { Member } from '../../server/membership.js';
import { ServerError } from '../../server/errors.js';

/** A protobuf message as proto-loader represents it. */
export type Pb = Record<string, unknown>;

/** int64/uint64 fields arrive as decimal strings (or numbers from some clients). */
export function int(value: unknown, field: string): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new ServerError('INVALID_ARGUMENT', `etcdserver: field ${field} (${String(value)}) is out of range`);
  }
  return n;
}

/**
 * An int64 bound (a limit, a revision to read at or compare with) that may
 * lie beyond 2^53: it saturates there. No store gets near 2^53 revisions,
 * so the answer is etcd's (2^63-1 as a limit means "no limit", as a read
 * revision "a future revision").
 */
export function int64Bound(value: unknown, field: string): number {
  if (typeof value === 'string' && /^-?[0-9]{16,}$/.test(value)) {
    const n = BigInt(value);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
    if (n < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  }
  return int(value, field);
}

/**
 * A 64-bit integer field of a response. A number goes as it is: protobufjs
 * encodes it directly, where a decimal string costs a Long.fromString per
 * field (four per key-value); the gateway writes either as a JSON string.
 * A bigint (a lease ID past 2^53) goes as its decimal text.
 */
export function str64(n: number | bigint): string | number {
  return typeof n === 'bigint' ? String(n) : n;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A lease ID: any int64, exactly (0 is "no lease"). */
export function leaseId(value: unknown, field: string): LeaseId {
  if (value === undefined || value === null || value === '' || value === '0' || value === 0) return 0n;
  let id: bigint | undefined;
  if (typeof value === 'string' && /^-?[0-9]{1,20}$/.test(value)) id = BigInt(value);
  else if (typeof value === 'number' && Number.isSafeInteger(value)) id = BigInt(value);
  else if (typeof value === 'bigint') id = value;
  if (id === undefined || id < INT64_MIN || id > INT64_MAX) {
    throw new ServerError('INVALID_ARGUMENT', `etcdserver: field ${field} (${String(value)}) is out of range`);
  }
  return id;
}

function bytesOf(value: unknown): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array();
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'base64');
  throw new ServerError('INVALID_ARGUMENT', 'etcdserver: malformed bytes field');
}

function optionalBytes(value: unknown): Uint8Array | undefined {
  const b = bytesOf(value);
  return b.length === 0 ? undefined : b;
}

function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function headerPb(h: Header): Pb {
  return { cluster_id: str64(h.clusterId), member_id: str64(h.memberId), revision: str64(h.revision), raft_term: str64(h.raftTerm) };
}

export function keyValuePb(kv: KeyValue): Pb {
  return {
    key: buf(kv.key),
    create_revision: str64(kv.createRevision),
    mod_revision: str64(kv.modRevision),
    version: str64(kv.version),
    value: buf(kv.value),
    lease: str64(kv.lease),
  };
}

const SORT_ORDERS: readonly SortOrder[] = ['NONE', 'ASCEND', 'DESCEND'];
const SORT_TARGETS: readonly SortTarget[] = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'];

function enumValue<T extends string>(value: unknown, names: readonly T[], field: string): T {
  if (value === undefined || value === null) return names[0]!;
  if (typeof value === 'number') {
    const name = names[value];
    if (name) return name;
  } else if (typeof value === 'string' && (names as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new ServerError('INVALID_ARGUMENT', `etcdserver: invalid ${field} ${String(value)}`);
}

export function rangeRequest(pb: Pb): RangeRequest {
  return {
    key: bytesOf(pb.key),
    ...(optionalBytes(pb.range_end) && { rangeEnd: bytesOf(pb.range_end) }),
    limit: int64Bound(pb.limit, 'limit'),
    revision: int64Bound(pb.revision, 'revision'),
    sortOrder: enumValue(pb.sort_order, SORT_ORDERS, 'sort order'),
    sortTarget: enumValue(pb.sort_target, SORT_TARGETS, 'sort target'),
    serializable: pb.serializable === true,
    keysOnly: pb.keys_only === true,
    countOnly: pb.count_only === true,
    minModRevision: int64Bound(pb.min_mod_revision, 'min_mod_revision'),
    maxModRevision: int64Bound(pb.max_mod_revision, 'max_mod_revision'),
    minCreateRevision: int64Bound(pb.min_create_revision, 'min_create_revision'),
    maxCreateRevision: int64Bound(pb.max_create_revision, 'max_create_revision'),
  };
}

export function rangeResponsePb(r: RangeResponse, header: Header): Pb {
  return { header: headerPb(header), kvs: r.kvs.map(keyValuePb), more: r.more, count: str64(r.count) };
}

export function putRequest(pb: Pb): PutRequest {
  return {
    key: bytesOf(pb.key),
    value: bytesOf(pb.value),
    lease: leaseId(pb.lease, 'lease'),
    prevKv: pb.prev_kv === true,
    ignoreValue: pb.ignore_value === true,
    ignoreLease: pb.ignore_lease === true,
  };
}

export function putResponsePb(r: PutResponse, header: Header): Pb {
  return { header: headerPb(header), ...(r.prevKv && { prev_kv: keyValuePb(r.prevKv) }) };
}

export function deleteRangeRequest(pb: Pb): DeleteRangeRequest {
  return { key: bytesOf(pb.key), ...(optionalBytes(pb.range_end) && { rangeEnd: bytesOf(pb.range_end) }), prevKv: pb.prev_kv === true };
}

export function deleteRangeResponsePb(r: DeleteRangeResponse, header: Header): Pb {
  return { header: headerPb(header), deleted: str64(r.deleted), prev_kvs: r.prevKvs.map(keyValuePb) };
}

const COMPARE_RESULTS = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'] as const;
const COMPARE_TARGETS = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'] as const;

function compare(pb: Pb): Compare {
  return {
    result: enumValue(pb.result, COMPARE_RESULTS, 'compare result'),
    target: enumValue(pb.target, COMPARE_TARGETS, 'compare target'),
    key: bytesOf(pb.key),
    ...(optionalBytes(pb.range_end) && { rangeEnd: bytesOf(pb.range_end) }),
    version: int(pb.version, 'version'),
    createRevision: int64Bound(pb.create_revision, 'create_revision'),
    modRevision: int64Bound(pb.mod_revision, 'mod_revision'),
    value: bytesOf(pb.value),
    lease: leaseId(pb.lease, 'lease'),
  };
}

function requestOp(pb: Pb): RequestOp {
  if (pb.request_range) return { requestRange: rangeRequest(pb.request_range as Pb) };
  if (pb.request_put) return { requestPut: putRequest(pb.request_put as Pb) };
  if (pb.request_delete_range) return { requestDeleteRange: deleteRangeRequest(pb.request_delete_range as Pb) };
  if (pb.request_txn) return { requestTxn: txnRequest(pb.request_txn as Pb) };
  throw new ServerError('INVALID_ARGUMENT', 'etcdserver: txn operation has no request');
}

export function txnRequest(pb: Pb): TxnRequest {
  return {
    compare: ((pb.compare as Pb[] | undefined) ?? []).map(compare),
    success: ((pb.success as Pb[] | undefined) ?? []).map(requestOp),
    failure: ((pb.failure as Pb[] | undefined) ?? []).map(requestOp),
  };
}

/** Responses nested in a txn carry only the revision in their header, as etcd's do. */
function nestedHeader(revision: number): Pb {
  return { revision: str64(revision) };
}

function responseOpPb(op: ResponseOp): Pb {
  if (op.responseRange) return { response_range: { ...rangeResponsePb(op.responseRange, ZERO_HEADER), header: nestedHeader(op.responseRange.header.revision) } };
  if (op.responsePut) return { response_put: { ...putResponsePb(op.responsePut, ZERO_HEADER), header: nestedHeader(op.responsePut.header.revision) } };
  if (op.responseDeleteRange) {
    return { response_delete_range: { ...deleteRangeResponsePb(op.responseDeleteRange, ZERO_HEADER), header: nestedHeader(op.responseDeleteRange.header.revision) } };
  }
  const t = op.responseTxn!;
  return { response_txn: { header: nestedHeader(t.header.revision), succeeded: t.succeeded, responses: t.responses.map(responseOpPb) } };
}

const ZERO_HEADER: Header = { clusterId: 0, memberId: 0, revision: 0, raftTerm: 0 };

export function txnResponsePb(r: TxnResponse, header: Header): Pb {
  return { header: headerPb({ ...header, revision: r.header.revision }), succeeded: r.succeeded, responses: r.responses.map(responseOpPb) };
}

export function eventPb(e: WatchEvent): Pb {
  return { type: e.type, kv: keyValuePb(e.kv), ...(e.prevKv && { prev_kv: keyValuePb(e.prevKv) }) };
}

export function memberPb(m: Member): Pb {
  return { ID: str64(m.id), name: m.name, peerURLs: m.peerUrls, clientURLs: m.clientUrls, isLearner: m.isLearner };
}

/** Approximate encoded size of a request's keys and values, for the request size limit. */
export function txnPayloadSize(t: TxnRequest): number {
  let n = 0;
  for (const c of t.compare ?? []) n += c.key.length + (c.value?.length ?? 0) + (c.rangeEnd?.length ?? 0);
  for (const op of [...(t.success ?? []), ...(t.failure ?? [])]) {
    if (op.requestPut) n += op.requestPut.key.length + (op.requestPut.value?.length ?? 0);
    else if (op.requestDeleteRange) n += op.requestDeleteRange.key.length + (op.requestDeleteRange.rangeEnd?.length ?? 0);
    else if (op.requestTxn) n += txnPayloadSize(op.requestTxn);
    else if (op.requestRange) n += op.requestRange.key.length + (op.requestRange.rangeEnd?.length ?? 0);
  }
  return n;
}

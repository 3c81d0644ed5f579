// Request and response shapes of the MVCC state machine. They mirror etcd's
// `etcdserverpb` and `mvccpb` protobuf messages field for field (camelCase,
// enums as their proto names) so the gRPC layer can map them 1:1. Keys and
// values are bytes; revisions and versions are plain numbers (no store nears
// 2^53 of them); lease IDs are bigints, since etcd's are any int64 a client
// asks for.
//
// The two deliberate renames: etcd's `ID` and `TTL` fields are `id` and `ttl`.

/** A lease ID: any signed 64-bit integer but 0, which means "no lease". */
export type LeaseId = bigint;
export const NO_LEASE: LeaseId = 0n;

/** Filled with the store revision; the server adds cluster/member/term. */
export interface ResponseHeader {
  revision: number;
}

/** mvccpb.KeyValue */
export interface KeyValue {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Uint8Array;
  lease: LeaseId;
}

export type SortOrder = 'NONE' | 'ASCEND' | 'DESCEND';
export type SortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';

/** etcdserverpb.RangeRequest. `serializable` is a server concern and ignored here. */
export interface RangeRequest {
  key: Uint8Array;
  /** Empty: the single key. [0x00]: every key >= key. Otherwise [key, rangeEnd). */
  rangeEnd?: Uint8Array;
  /** 0 = no limit. */
  limit?: number;
  /** 0 (or negative) = the current revision. */
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface RangeResponse {
  header: ResponseHeader;
  kvs: KeyValue[];
  /** True when `limit` cut the result short. */
  more: boolean;
  /** Number of keys in the range at the read revision (before revision filters and limit). */
  count: number;
}

export interface PutRequest {
  key: Uint8Array;
  value?: Uint8Array;
  /** 0 = no lease. */
  lease?: LeaseId;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface PutResponse {
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader;
  deleted: number;
  /** Present (possibly empty) only when the request asked for prevKv. */
  prevKvs: KeyValue[];
}

export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';

/**
 * etcdserverpb.Compare. The proto `target_union` oneof is flattened: the field
 * named by `target` is read, and a missing one counts as 0 / empty bytes.
 */
export interface Compare {
  result: CompareResult;
  target: CompareTarget;
  key: Uint8Array;
  rangeEnd?: Uint8Array;
  version?: number;
  createRevision?: number;
  modRevision?: number;
  value?: Uint8Array;
  lease?: LeaseId;
}

/** etcdserverpb.RequestOp: exactly one field is set. */
export interface RequestOp {
  requestRange?: RangeRequest;
  requestPut?: PutRequest;
  requestDeleteRange?: DeleteRangeRequest;
  requestTxn?: TxnRequest;
}

/** etcdserverpb.ResponseOp: exactly one field is set. */
export interface ResponseOp {
  responseRange?: RangeResponse;
  responsePut?: PutResponse;
  responseDeleteRange?: DeleteRangeResponse;
  responseTxn?: TxnResponse;
}

export interface TxnRequest {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: number;
  /** Accepted for compatibility; compaction here is always immediate. */
  physical?: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader;
}

/** The server picks `id` before proposing (never 0), so apply stays deterministic. */
export interface LeaseGrantRequest {
  id: LeaseId;
  ttl: number;
}

export interface LeaseGrantResponse {
  header: ResponseHeader;
  id: LeaseId;
  ttl: number;
  error: string;
}

export interface LeaseRevokeRequest {
  id: LeaseId;
}

export interface LeaseRevokeResponse {
  header: ResponseHeader;
}

/** etcdserverpb.LeaseCheckpoint: persists a lease's remaining TTL through the log. */
export interface LeaseCheckpoint {
  id: LeaseId;
  remainingTtl: number;
}

export interface LeaseCheckpointRequest {
  checkpoints: LeaseCheckpoint[];
}

export interface LeaseCheckpointResponse {
  header: ResponseHeader;
}

/**
 * What a Raft entry carries, after etcd's InternalRaftRequest: exactly one
 * field is set.
 */
export type ApplyRequest =
  | { put: PutRequest }
  | { deleteRange: DeleteRangeRequest }
  | { txn: TxnRequest }
  | { compaction: CompactionRequest }
  | { leaseGrant: LeaseGrantRequest }
  | { leaseRevoke: LeaseRevokeRequest }
  | { leaseCheckpoint: LeaseCheckpointRequest };

/** The response type that answers a given kind of apply request. */
export type ApplyResponse<R extends ApplyRequest = ApplyRequest> = R extends { put: PutRequest }
  ? PutResponse
  : R extends { deleteRange: DeleteRangeRequest }
    ? DeleteRangeResponse
    : R extends { txn: TxnRequest }
      ? TxnResponse
      : R extends { compaction: CompactionRequest }
        ? CompactionResponse
        : R extends { leaseGrant: LeaseGrantRequest }
          ? LeaseGrantResponse
          : R extends { leaseRevoke: LeaseRevokeRequest }
            ? LeaseRevokeResponse
            : LeaseCheckpointResponse;

/** What the server needs to run a lease's clock (the store itself has no clock). */
export interface LeaseInfo {
  id: LeaseId;
  /** The TTL asked for at grant, in seconds. */
  grantedTtl: number;
  /** Raft index of the entry that granted the lease. */
  grantedIndex: number;
  /** Store revision when the lease was granted. */
  grantedRevision: number;
  /** Remaining TTL from the latest applied checkpoint; 0 when never checkpointed. */
  remainingTtl: number;
}

/** LeaseTimeToLive data the store can answer; the server derives the live TTL. */
export interface LeaseTimeToLive extends LeaseInfo {
  /** Attached keys in byte order; filled only when asked for. */
  keys: Uint8Array[];
}

/** etcdserverpb.HashKVResponse minus the header. */
export interface HashKvResult {
  hash: number;
  compactRevision: number;
  hashRevision: number;
}

export type EventType = 'PUT' | 'DELETE';

/** mvccpb.Event. A DELETE's kv carries only the key and the deleting revision. */
export interface WatchEvent {
  type: EventType;
  kv: KeyValue;
  prevKv?: KeyValue;
}

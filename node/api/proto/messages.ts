// TypeScript shapes of etcd's messages exactly as the loader (load.ts)
// produces them when decoding: proto field names (snake_case and etcd's
// mixed-case names such as `ID`, `TTL`, `isLearner`), int64/uint64 as decimal
// strings, bytes as Buffers, enums as value names, every scalar and list
// present with its default, unset sub-messages `null`, and for each oneof a
// virtual property naming the member that is set (unset members absent).
//
// For messages a handler sends, use `Outgoing<T>`: every field optional
// (the serializer writes absent fields as their defaults), sub-messages may be
// null. Put int64/uint64 values in as decimal strings, converting with
// int64ToString/uint64ToString from int64.ts: those check the range, whereas
// the serializer silently wraps out-of-range values (a uint64 maximum written
// to an int64 field arrives as -1).
import type { Int64, Uint64 } from './int64.js';

export type { Int64, Uint64 } from './int64.js';
export type Bytes = Buffer;

/** A message being built for sending: every field optional, recursively; sub-messages may be left out. */
export type Outgoing<T> = T extends Buffer
  ? Buffer | Uint8Array
  : T extends string | number | boolean
    ? T
    : T extends readonly (infer U)[]
      ? Outgoing<U>[]
      : T extends object
        ? { [K in keyof T]?: Outgoing<NonNullable<T[K]>> | null }
        : T;

// ---------------------------------------------------------------------------
// mvccpb
// ---------------------------------------------------------------------------

export interface KeyValue {
  key: Bytes;
  create_revision: Int64;
  mod_revision: Int64;
  version: Int64;
  value: Bytes;
  lease: Int64;
}

export type EventType = 'PUT' | 'DELETE';

export interface Event {
  type: EventType;
  kv: KeyValue | null;
  prev_kv: KeyValue | null;
}

// ---------------------------------------------------------------------------
// authpb
// ---------------------------------------------------------------------------

export interface UserAddOptions {
  no_password: boolean;
}

export type PermissionType = 'READ' | 'WRITE' | 'READWRITE';

export interface Permission {
  permType: PermissionType;
  key: Bytes;
  range_end: Bytes;
}

export interface User {
  name: Bytes;
  password: Bytes;
  roles: string[];
  options: UserAddOptions | null;
}

export interface Role {
  name: Bytes;
  keyPermission: Permission[];
}

// ---------------------------------------------------------------------------
// etcdserverpb: common and KV
// ---------------------------------------------------------------------------

export interface ResponseHeader {
  cluster_id: Uint64;
  member_id: Uint64;
  revision: Int64;
  raft_term: Uint64;
}

export type SortOrder = 'NONE' | 'ASCEND' | 'DESCEND';
export type SortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';

export interface RangeRequest {
  key: Bytes;
  range_end: Bytes;
  limit: Int64;
  revision: Int64;
  sort_order: SortOrder;
  sort_target: SortTarget;
  serializable: boolean;
  keys_only: boolean;
  count_only: boolean;
  min_mod_revision: Int64;
  max_mod_revision: Int64;
  min_create_revision: Int64;
  max_create_revision: Int64;
}

export interface RangeResponse {
  header: ResponseHeader | null;
  kvs: KeyValue[];
  more: boolean;
  count: Int64;
}

export interface PutRequest {
  key: Bytes;
  value: Bytes;
  lease: Int64;
  prev_kv: boolean;
  ignore_value: boolean;
  ignore_lease: boolean;
}

export interface PutResponse {
  header: ResponseHeader | null;
  prev_kv: KeyValue | null;
}

export interface DeleteRangeRequest {
  key: Bytes;
  range_end: Bytes;
  prev_kv: boolean;
}

export interface DeleteRangeResponse {
  header: ResponseHeader | null;
  deleted: Int64;
  prev_kvs: KeyValue[];
}

/** One transaction operation; `request` names the member that is set. */
export type RequestOp =
  | { request: 'request_range'; request_range: RangeRequest }
  | { request: 'request_put'; request_put: PutRequest }
  | { request: 'request_delete_range'; request_delete_range: DeleteRangeRequest }
  | { request: 'request_txn'; request_txn: TxnRequest }
  /** Nothing set (a malformed request; etcd rejects it). */
  | { request?: undefined };

export type ResponseOp =
  | { response: 'response_range'; response_range: RangeResponse }
  | { response: 'response_put'; response_put: PutResponse }
  | { response: 'response_delete_range'; response_delete_range: DeleteRangeResponse }
  | { response: 'response_txn'; response_txn: TxnResponse }
  | { response?: undefined };

export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';

interface CompareBase {
  result: CompareResult;
  target: CompareTarget;
  key: Bytes;
  range_end: Bytes;
}

/** A transaction guard; `target_union` names the member that holds the operand. */
export type Compare = CompareBase &
  (
    | { target_union: 'version'; version: Int64 }
    | { target_union: 'create_revision'; create_revision: Int64 }
    | { target_union: 'mod_revision'; mod_revision: Int64 }
    | { target_union: 'value'; value: Bytes }
    | { target_union: 'lease'; lease: Int64 }
    | { target_union?: undefined }
  );

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  header: ResponseHeader | null;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface CompactionRequest {
  revision: Int64;
  physical: boolean;
}

export interface CompactionResponse {
  header: ResponseHeader | null;
}

// ---------------------------------------------------------------------------
// Watch
// ---------------------------------------------------------------------------

export type WatchFilterType = 'NOPUT' | 'NODELETE';

export interface WatchCreateRequest {
  key: Bytes;
  range_end: Bytes;
  start_revision: Int64;
  progress_notify: boolean;
  filters: WatchFilterType[];
  prev_kv: boolean;
  watch_id: Int64;
  fragment: boolean;
}

export interface WatchCancelRequest {
  watch_id: Int64;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface WatchProgressRequest {}

export type WatchRequest =
  | { request_union: 'create_request'; create_request: WatchCreateRequest }
  | { request_union: 'cancel_request'; cancel_request: WatchCancelRequest }
  | { request_union: 'progress_request'; progress_request: WatchProgressRequest }
  | { request_union?: undefined };

export interface WatchResponse {
  header: ResponseHeader | null;
  watch_id: Int64;
  created: boolean;
  canceled: boolean;
  compact_revision: Int64;
  cancel_reason: string;
  fragment: boolean;
  events: Event[];
}

// ---------------------------------------------------------------------------
// Lease
// ---------------------------------------------------------------------------

export interface LeaseGrantRequest {
  TTL: Int64;
  ID: Int64;
}

export interface LeaseGrantResponse {
  header: ResponseHeader | null;
  ID: Int64;
  TTL: Int64;
  error: string;
}

export interface LeaseRevokeRequest {
  ID: Int64;
}

export interface LeaseRevokeResponse {
  header: ResponseHeader | null;
}

export interface LeaseCheckpoint {
  ID: Int64;
  remaining_TTL: Int64;
}

export interface LeaseCheckpointRequest {
  checkpoints: LeaseCheckpoint[];
}

export interface LeaseCheckpointResponse {
  header: ResponseHeader | null;
}

export interface LeaseKeepAliveRequest {
  ID: Int64;
}

export interface LeaseKeepAliveResponse {
  header: ResponseHeader | null;
  ID: Int64;
  TTL: Int64;
}

export interface LeaseTimeToLiveRequest {
  ID: Int64;
  keys: boolean;
}

export interface LeaseTimeToLiveResponse {
  header: ResponseHeader | null;
  ID: Int64;
  TTL: Int64;
  grantedTTL: Int64;
  keys: Bytes[];
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface LeaseLeasesRequest {}

export interface LeaseStatus {
  ID: Int64;
}

export interface LeaseLeasesResponse {
  header: ResponseHeader | null;
  leases: LeaseStatus[];
}

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

export interface Member {
  ID: Uint64;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface MemberAddRequest {
  peerURLs: string[];
  isLearner: boolean;
}

export interface MemberAddResponse {
  header: ResponseHeader | null;
  member: Member | null;
  members: Member[];
}

export interface MemberRemoveRequest {
  ID: Uint64;
}

export interface MemberRemoveResponse {
  header: ResponseHeader | null;
  members: Member[];
}

export interface MemberUpdateRequest {
  ID: Uint64;
  peerURLs: string[];
}

export interface MemberUpdateResponse {
  header: ResponseHeader | null;
  members: Member[];
}

export interface MemberListRequest {
  linearizable: boolean;
}

export interface MemberListResponse {
  header: ResponseHeader | null;
  members: Member[];
}

export interface MemberPromoteRequest {
  ID: Uint64;
}

export interface MemberPromoteResponse {
  header: ResponseHeader | null;
  members: Member[];
}

// ---------------------------------------------------------------------------
// Maintenance
// ---------------------------------------------------------------------------

export type AlarmType = 'NONE' | 'NOSPACE' | 'CORRUPT';
export type AlarmAction = 'GET' | 'ACTIVATE' | 'DEACTIVATE';

export interface AlarmRequest {
  action: AlarmAction;
  memberID: Uint64;
  alarm: AlarmType;
}

export interface AlarmMember {
  memberID: Uint64;
  alarm: AlarmType;
}

export interface AlarmResponse {
  header: ResponseHeader | null;
  alarms: AlarmMember[];
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface StatusRequest {}

export interface StatusResponse {
  header: ResponseHeader | null;
  version: string;
  dbSize: Int64;
  leader: Uint64;
  raftIndex: Uint64;
  raftTerm: Uint64;
  raftAppliedIndex: Uint64;
  errors: string[];
  dbSizeInUse: Int64;
  isLearner: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DefragmentRequest {}

export interface DefragmentResponse {
  header: ResponseHeader | null;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface HashRequest {}

export interface HashResponse {
  header: ResponseHeader | null;
  hash: number;
}

export interface HashKVRequest {
  revision: Int64;
}

export interface HashKVResponse {
  header: ResponseHeader | null;
  hash: number;
  compact_revision: Int64;
  hash_revision: Int64;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SnapshotRequest {}

export interface SnapshotResponse {
  header: ResponseHeader | null;
  remaining_bytes: Uint64;
  blob: Bytes;
}

export interface MoveLeaderRequest {
  targetID: Uint64;
}

export interface MoveLeaderResponse {
  header: ResponseHeader | null;
}

export type DowngradeAction = 'VALIDATE' | 'ENABLE' | 'CANCEL';

export interface DowngradeRequest {
  action: DowngradeAction;
  version: string;
}

export interface DowngradeResponse {
  header: ResponseHeader | null;
  version: string;
}

// ---------------------------------------------------------------------------
// Auth (declared; a server may answer every method as unsupported)
// ---------------------------------------------------------------------------

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthEnableRequest {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthDisableRequest {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthStatusRequest {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthUserListRequest {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthRoleListRequest {}

export interface AuthenticateRequest {
  name: string;
  password: string;
}

export interface AuthUserAddRequest {
  name: string;
  password: string;
  options: UserAddOptions | null;
  hashedPassword: string;
}

export interface AuthUserGetRequest {
  name: string;
}

export interface AuthUserDeleteRequest {
  name: string;
}

export interface AuthUserChangePasswordRequest {
  name: string;
  password: string;
  hashedPassword: string;
}

export interface AuthUserGrantRoleRequest {
  user: string;
  role: string;
}

export interface AuthUserRevokeRoleRequest {
  name: string;
  role: string;
}

export interface AuthRoleAddRequest {
  name: string;
}

export interface AuthRoleGetRequest {
  role: string;
}

export interface AuthRoleDeleteRequest {
  role: string;
}

export interface AuthRoleGrantPermissionRequest {
  name: string;
  perm: Permission | null;
}

export interface AuthRoleRevokePermissionRequest {
  role: string;
  key: Bytes;
  range_end: Bytes;
}

/** The many auth responses that carry only a header. */
export interface AuthHeaderOnlyResponse {
  header: ResponseHeader | null;
}

export type AuthEnableResponse = AuthHeaderOnlyResponse;
export type AuthDisableResponse = AuthHeaderOnlyResponse;
export type AuthUserAddResponse = AuthHeaderOnlyResponse;
export type AuthUserDeleteResponse = AuthHeaderOnlyResponse;
export type AuthUserChangePasswordResponse = AuthHeaderOnlyResponse;
export type AuthUserGrantRoleResponse = AuthHeaderOnlyResponse;
export type AuthUserRevokeRoleResponse = AuthHeaderOnlyResponse;
export type AuthRoleAddResponse = AuthHeaderOnlyResponse;
export type AuthRoleDeleteResponse = AuthHeaderOnlyResponse;
export type AuthRoleGrantPermissionResponse = AuthHeaderOnlyResponse;
export type AuthRoleRevokePermissionResponse = AuthHeaderOnlyResponse;

export interface AuthStatusResponse {
  header: ResponseHeader | null;
  enabled: boolean;
  authRevision: Uint64;
}

export interface AuthenticateResponse {
  header: ResponseHeader | null;
  token: string;
}

export interface AuthUserGetResponse {
  header: ResponseHeader | null;
  roles: string[];
}

export interface AuthRoleGetResponse {
  header: ResponseHeader | null;
  perm: Permission[];
}

export interface AuthRoleListResponse {
  header: ResponseHeader | null;
  roles: string[];
}

export interface AuthUserListResponse {
  header: ResponseHeader | null;
  users: string[];
}

// ---------------------------------------------------------------------------
// Method table: request and response types per RPC, for typed handlers
// ---------------------------------------------------------------------------

/** Request/response message types of every RPC, keyed `Service.Method`. */
export interface EtcdMethods {
  'KV.Range': [RangeRequest, RangeResponse];
  'KV.Put': [PutRequest, PutResponse];
  'KV.DeleteRange': [DeleteRangeRequest, DeleteRangeResponse];
  'KV.Txn': [TxnRequest, TxnResponse];
  'KV.Compact': [CompactionRequest, CompactionResponse];
  'Watch.Watch': [WatchRequest, WatchResponse];
  'Lease.LeaseGrant': [LeaseGrantRequest, LeaseGrantResponse];
  'Lease.LeaseRevoke': [LeaseRevokeRequest, LeaseRevokeResponse];
  'Lease.LeaseKeepAlive': [LeaseKeepAliveRequest, LeaseKeepAliveResponse];
  'Lease.LeaseTimeToLive': [LeaseTimeToLiveRequest, LeaseTimeToLiveResponse];
  'Lease.LeaseLeases': [LeaseLeasesRequest, LeaseLeasesResponse];
  'Cluster.MemberAdd': [MemberAddRequest, MemberAddResponse];
  'Cluster.MemberRemove': [MemberRemoveRequest, MemberRemoveResponse];
  'Cluster.MemberUpdate': [MemberUpdateRequest, MemberUpdateResponse];
  'Cluster.MemberList': [MemberListRequest, MemberListResponse];
  'Cluster.MemberPromote': [MemberPromoteRequest, MemberPromoteResponse];
  'Maintenance.Alarm': [AlarmRequest, AlarmResponse];
  'Maintenance.Status': [StatusRequest, StatusResponse];
  'Maintenance.Defragment': [DefragmentRequest, DefragmentResponse];
  'Maintenance.Hash': [HashRequest, HashResponse];
  'Maintenance.HashKV': [HashKVRequest, HashKVResponse];
  'Maintenance.Snapshot': [SnapshotRequest, SnapshotResponse];
  'Maintenance.MoveLeader': [MoveLeaderRequest, MoveLeaderResponse];
  'Maintenance.Downgrade': [DowngradeRequest, DowngradeResponse];
  'Auth.AuthEnable': [AuthEnableRequest, AuthEnableResponse];
  'Auth.AuthDisable': [AuthDisableRequest, AuthDisableResponse];
  'Auth.AuthStatus': [AuthStatusRequest, AuthStatusResponse];
  'Auth.Authenticate': [AuthenticateRequest, AuthenticateResponse];
  'Auth.UserAdd': [AuthUserAddRequest, AuthUserAddResponse];
  'Auth.UserGet': [AuthUserGetRequest, AuthUserGetResponse];
  'Auth.UserList': [AuthUserListRequest, AuthUserListResponse];
  'Auth.UserDelete': [AuthUserDeleteRequest, AuthUserDeleteResponse];
  'Auth.UserChangePassword': [AuthUserChangePasswordRequest, AuthUserChangePasswordResponse];
  'Auth.UserGrantRole': [AuthUserGrantRoleRequest, AuthUserGrantRoleResponse];
  'Auth.UserRevokeRole': [AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse];
  'Auth.RoleAdd': [AuthRoleAddRequest, AuthRoleAddResponse];
  'Auth.RoleGet': [AuthRoleGetRequest, AuthRoleGetResponse];
  'Auth.RoleList': [AuthRoleListRequest, AuthRoleListResponse];
  'Auth.RoleDelete': [AuthRoleDeleteRequest, AuthRoleDeleteResponse];
  'Auth.RoleGrantPermission': [AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse];
  'Auth.RoleRevokePermission': [AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse];
}

export type EtcdMethodKey = keyof EtcdMethods;
export type RequestOf<M extends EtcdMethodKey> = EtcdMethods[M][0];
export type ResponseOf<M extends EtcdMethodKey> = EtcdMethods[M][1];

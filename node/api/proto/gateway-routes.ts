// The HTTP paths of etcd's JSON gateway and the gRPC method each one calls.
//
// etcd declares these with google.api.http options in its rpc.proto (every
// binding is a POST with the whole JSON body as the request message). Those
// options are not part of the wire format, so Kvorum's rpc.proto leaves them
// out and the table lives here instead, for the HTTP gateway to route by.
//
// etcd 3.5 serves them under /v3/ only (3.4 also answered /v3beta/, and
// earlier releases /v3alpha/; see `lookupGatewayRoute`'s `legacyPrefixes`).
import type { EtcdServiceName } from './load.js';

/** The services the gateway reaches: etcd's client API, and its lock and election services. */
export type GatewayServiceName = EtcdServiceName | 'Lock' | 'Election';

/** The protobuf package of each (message types are named within it). */
const PACKAGES: Readonly<Record<GatewayServiceName, string>> = {
  KV: 'etcdserverpb',
  Watch: 'etcdserverpb',
  Lease: 'etcdserverpb',
  Cluster: 'etcdserverpb',
  Maintenance: 'etcdserverpb',
  Auth: 'etcdserverpb',
  Lock: 'v3lockpb',
  Election: 'v3electionpb',
};

export interface GatewayRoute {
  /** Short service name (the full name is `<package>.<service>`: etcdserverpb, v3lockpb, v3electionpb). */
  service: GatewayServiceName;
  /** Method name within the service. */
  method: string;
  /** Fully qualified request message type. */
  requestType: string;
  /** Fully qualified response message type. */
  responseType: string;
  /** Client streaming on the gRPC side (the gateway reads a stream of JSON objects). */
  requestStream: boolean;
  /** Server streaming on the gRPC side (the gateway writes one `{"result": ...}` object per message). */
  responseStream: boolean;
}

function route(
  service: GatewayServiceName,
  method: string,
  request: string,
  response: string,
  streams: { requestStream?: boolean; responseStream?: boolean } = {},
): GatewayRoute {
  return Object.freeze({
    service,
    method,
    requestType: `${PACKAGES[service]}.${request}`,
    responseType: `${PACKAGES[service]}.${response}`,
    requestStream: streams.requestStream ?? false,
    responseStream: streams.responseStream ?? false,
  });
}

const leaseRevoke = route('Lease', 'LeaseRevoke', 'LeaseRevokeRequest', 'LeaseRevokeResponse');
const leaseTimeToLive = route('Lease', 'LeaseTimeToLive', 'LeaseTimeToLiveRequest', 'LeaseTimeToLiveResponse');
const leaseLeases = route('Lease', 'LeaseLeases', 'LeaseLeasesRequest', 'LeaseLeasesResponse');

/**
 * Path -> method, all POST. Notes on the irregular entries:
 * - LeaseRevoke, LeaseTimeToLive and LeaseLeases are also bound under
 *   /v3/kv/lease/... (etcd's additional_bindings, kept for old clients).
 * - etcd binds both Hash and HashKV to /v3/maintenance/hash. grpc-gateway
 *   tries the most recently registered handler first and HashKV is
 *   registered after Hash, so etcd answers that path with HashKV; so do we.
 * - MoveLeader's path is /v3/maintenance/transfer-leadership.
 */
export const GATEWAY_ROUTES: Readonly<Record<string, GatewayRoute>> = Object.freeze({
  '/v3/kv/range': route('KV', 'Range', 'RangeRequest', 'RangeResponse'),
  '/v3/kv/put': route('KV', 'Put', 'PutRequest', 'PutResponse'),
  '/v3/kv/deleterange': route('KV', 'DeleteRange', 'DeleteRangeRequest', 'DeleteRangeResponse'),
  '/v3/kv/txn': route('KV', 'Txn', 'TxnRequest', 'TxnResponse'),
  '/v3/kv/compaction': route('KV', 'Compact', 'CompactionRequest', 'CompactionResponse'),

  '/v3/watch': route('Watch', 'Watch', 'WatchRequest', 'WatchResponse', { requestStream: true, responseStream: true }),

  '/v3/lease/grant': route('Lease', 'LeaseGrant', 'LeaseGrantRequest', 'LeaseGrantResponse'),
  '/v3/lease/revoke': leaseRevoke,
  '/v3/kv/lease/revoke': leaseRevoke,
  '/v3/lease/keepalive': route('Lease', 'LeaseKeepAlive', 'LeaseKeepAliveRequest', 'LeaseKeepAliveResponse', {
    requestStream: true,
    responseStream: true,
  }),
  '/v3/lease/timetolive': leaseTimeToLive,
  '/v3/kv/lease/timetolive': leaseTimeToLive,
  '/v3/lease/leases': leaseLeases,
  '/v3/kv/lease/leases': leaseLeases,

  '/v3/cluster/member/add': route('Cluster', 'MemberAdd', 'MemberAddRequest', 'MemberAddResponse'),
  '/v3/cluster/member/remove': route('Cluster', 'MemberRemove', 'MemberRemoveRequest', 'MemberRemoveResponse'),
  '/v3/cluster/member/update': route('Cluster', 'MemberUpdate', 'MemberUpdateRequest', 'MemberUpdateResponse'),
  '/v3/cluster/member/list': route('Cluster', 'MemberList', 'MemberListRequest', 'MemberListResponse'),
  '/v3/cluster/member/promote': route('Cluster', 'MemberPromote', 'MemberPromoteRequest', 'MemberPromoteResponse'),

  '/v3/maintenance/alarm': route('Maintenance', 'Alarm', 'AlarmRequest', 'AlarmResponse'),
  '/v3/maintenance/status': route('Maintenance', 'Status', 'StatusRequest', 'StatusResponse'),
  '/v3/maintenance/defragment': route('Maintenance', 'Defragment', 'DefragmentRequest', 'DefragmentResponse'),
  '/v3/maintenance/hash': route('Maintenance', 'HashKV', 'HashKVRequest', 'HashKVResponse'),
  '/v3/maintenance/snapshot': route('Maintenance', 'Snapshot', 'SnapshotRequest', 'SnapshotResponse', { responseStream: true }),
  '/v3/maintenance/transfer-leadership': route('Maintenance', 'MoveLeader', 'MoveLeaderRequest', 'MoveLeaderResponse'),
  '/v3/maintenance/downgrade': route('Maintenance', 'Downgrade', 'DowngradeRequest', 'DowngradeResponse'),

  '/v3/auth/enable': route('Auth', 'AuthEnable', 'AuthEnableRequest', 'AuthEnableResponse'),
  '/v3/auth/disable': route('Auth', 'AuthDisable', 'AuthDisableRequest', 'AuthDisableResponse'),
  '/v3/auth/status': route('Auth', 'AuthStatus', 'AuthStatusRequest', 'AuthStatusResponse'),
  '/v3/auth/authenticate': route('Auth', 'Authenticate', 'AuthenticateRequest', 'AuthenticateResponse'),
  '/v3/auth/user/add': route('Auth', 'UserAdd', 'AuthUserAddRequest', 'AuthUserAddResponse'),
  '/v3/auth/user/get': route('Auth', 'UserGet', 'AuthUserGetRequest', 'AuthUserGetResponse'),
  '/v3/auth/user/list': route('Auth', 'UserList', 'AuthUserListRequest', 'AuthUserListResponse'),
  '/v3/auth/user/delete': route('Auth', 'UserDelete', 'AuthUserDeleteRequest', 'AuthUserDeleteResponse'),
  '/v3/auth/user/changepw': route('Auth', 'UserChangePassword', 'AuthUserChangePasswordRequest', 'AuthUserChangePasswordResponse'),
  '/v3/auth/user/grant': route('Auth', 'UserGrantRole', 'AuthUserGrantRoleRequest', 'AuthUserGrantRoleResponse'),
  '/v3/auth/user/revoke': route('Auth', 'UserRevokeRole', 'AuthUserRevokeRoleRequest', 'AuthUserRevokeRoleResponse'),
  '/v3/auth/role/add': route('Auth', 'RoleAdd', 'AuthRoleAddRequest', 'AuthRoleAddResponse'),
  '/v3/auth/role/get': route('Auth', 'RoleGet', 'AuthRoleGetRequest', 'AuthRoleGetResponse'),
  '/v3/auth/role/list': route('Auth', 'RoleList', 'AuthRoleListRequest', 'AuthRoleListResponse'),
  '/v3/auth/role/delete': route('Auth', 'RoleDelete', 'AuthRoleDeleteRequest', 'AuthRoleDeleteResponse'),
  '/v3/auth/role/grant': route('Auth', 'RoleGrantPermission', 'AuthRoleGrantPermissionRequest', 'AuthRoleGrantPermissionResponse'),
  '/v3/auth/role/revoke': route('Auth', 'RoleRevokePermission', 'AuthRoleRevokePermissionRequest', 'AuthRoleRevokePermissionResponse'),

  // etcd 3.4's v3lock and v3election gateways.
  '/v3/lock/lock': route('Lock', 'Lock', 'LockRequest', 'LockResponse'),
  '/v3/lock/unlock': route('Lock', 'Unlock', 'UnlockRequest', 'UnlockResponse'),
  '/v3/election/campaign': route('Election', 'Campaign', 'CampaignRequest', 'CampaignResponse'),
  '/v3/election/proclaim': route('Election', 'Proclaim', 'ProclaimRequest', 'ProclaimResponse'),
  '/v3/election/leader': route('Election', 'Leader', 'LeaderRequest', 'LeaderResponse'),
  '/v3/election/observe': route('Election', 'Observe', 'LeaderRequest', 'LeaderResponse', { responseStream: true }),
  '/v3/election/resign': route('Election', 'Resign', 'ResignRequest', 'ResignResponse'),
});

export interface LookupOptions {
  /**
   * Older prefixes to treat as /v3/ (for example ['/v3beta/', '/v3alpha/']
   * to answer clients written for etcd 3.2-3.4). Default: none, as etcd 3.5.
   */
  legacyPrefixes?: readonly string[];
}

/** The route for an HTTP path (query string and one trailing slash ignored), or undefined. */
export function lookupGatewayRoute(path: string, options: LookupOptions = {}): GatewayRoute | undefined {
  let p = path;
  const q = p.indexOf('?');
  if (q >= 0) p = p.slice(0, q);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  for (const prefix of options.legacyPrefixes ?? []) {
    if (p.startsWith(prefix)) {
      p = `/v3/${p.slice(prefix.length)}`;
      break;
    }
  }
  return Object.prototype.hasOwnProperty.call(GATEWAY_ROUTES, p) ? GATEWAY_ROUTES[p] : undefined;
}

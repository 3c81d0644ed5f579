import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GATEWAY_ROUTES, lookupGatewayRoute } from '../../../node/api/proto/gateway-routes.js';
import { etcdServices, type EtcdServiceName } from '../../../node/api/proto/load.js';
import { extraServiceDefinition } from '../../../node/api/proto/extra-protos.js';
import type { MethodDef } from './etcd3-reference.js';

/** The loaded definition of a gateway route's service, and its package. */
function serviceOf(service: string): { def: Record<string, MethodDef>; pkg: string } {
  if (service === 'Lock') return { def: extraServiceDefinition('v3lockpb.Lock') as unknown as Record<string, MethodDef>, pkg: 'v3lockpb' };
  if (service === 'Election') return { def: extraServiceDefinition('v3electionpb.Election') as unknown as Record<string, MethodDef>, pkg: 'v3electionpb' };
  return { def: etcdServices[service as EtcdServiceName] as unknown as Record<string, MethodDef>, pkg: 'etcdserverpb' };
}

test('routes: every route names a real method with matching types and streaming', () => {
  for (const [path, r] of Object.entries(GATEWAY_ROUTES)) {
    const { def, pkg } = serviceOf(r.service);
    const m = def[r.method];
    assert.ok(m, `${path} -> ${r.service}.${r.method} exists`);
    assert.equal(`${pkg}.${m.requestType.type.name}`, r.requestType, `${path} request type`);
    assert.equal(`${pkg}.${m.responseType.type.name}`, r.responseType, `${path} response type`);
    assert.equal(m.requestStream, r.requestStream, `${path} requestStream`);
    assert.equal(m.responseStream, r.responseStream, `${path} responseStream`);
  }
});

test('routes: the etcd 3.5 paths and the lock and election paths of 3.4 are all present', () => {
  const expected = [
    '/v3/kv/range', '/v3/kv/put', '/v3/kv/deleterange', '/v3/kv/txn', '/v3/kv/compaction',
    '/v3/watch',
    '/v3/lease/grant', '/v3/lease/revoke', '/v3/kv/lease/revoke', '/v3/lease/keepalive',
    '/v3/lease/timetolive', '/v3/kv/lease/timetolive', '/v3/lease/leases', '/v3/kv/lease/leases',
    '/v3/cluster/member/add', '/v3/cluster/member/remove', '/v3/cluster/member/update', '/v3/cluster/member/list', '/v3/cluster/member/promote',
    '/v3/maintenance/alarm', '/v3/maintenance/status', '/v3/maintenance/defragment', '/v3/maintenance/hash',
    '/v3/maintenance/snapshot', '/v3/maintenance/transfer-leadership', '/v3/maintenance/downgrade',
    '/v3/auth/enable', '/v3/auth/disable', '/v3/auth/status', '/v3/auth/authenticate',
    '/v3/auth/user/add', '/v3/auth/user/get', '/v3/auth/user/list', '/v3/auth/user/delete', '/v3/auth/user/changepw',
    '/v3/auth/user/grant', '/v3/auth/user/revoke',
    '/v3/auth/role/add', '/v3/auth/role/get', '/v3/auth/role/list', '/v3/auth/role/delete', '/v3/auth/role/grant', '/v3/auth/role/revoke',
    '/v3/lock/lock', '/v3/lock/unlock',
    '/v3/election/campaign', '/v3/election/proclaim', '/v3/election/leader', '/v3/election/observe', '/v3/election/resign',
  ];
  assert.deepEqual(Object.keys(GATEWAY_ROUTES).sort(), expected.sort());
  assert.equal(GATEWAY_ROUTES['/v3/kv/lease/revoke'], GATEWAY_ROUTES['/v3/lease/revoke']);
  assert.equal(GATEWAY_ROUTES['/v3/maintenance/hash']!.method, 'HashKV');
  assert.equal(GATEWAY_ROUTES['/v3/maintenance/transfer-leadership']!.method, 'MoveLeader');
  assert.equal(GATEWAY_ROUTES['/v3/auth/user/changepw']!.method, 'UserChangePassword');
  // Every RPC except Hash (shadowed by HashKV on the same path) is reachable.
  const reachable = new Set(Object.values(GATEWAY_ROUTES).map((r) => `${r.service}.${r.method}`));
  const all = [...Object.keys(etcdServices), 'Lock', 'Election'].flatMap((s) => Object.keys(serviceOf(s).def).map((m) => `${s}.${m}`));
  assert.deepEqual(all.filter((k) => !reachable.has(k)), ['Maintenance.Hash']);
});

test('routes: lookup ignores the query string and a trailing slash, and maps legacy prefixes only on request', () => {
  assert.equal(lookupGatewayRoute('/v3/kv/range')?.method, 'Range');
  assert.equal(lookupGatewayRoute('/v3/kv/put?x=1')?.method, 'Put');
  assert.equal(lookupGatewayRoute('/v3/watch/')?.method, 'Watch');
  assert.equal(lookupGatewayRoute('/v3beta/kv/range'), undefined);
  assert.equal(lookupGatewayRoute('/v3beta/kv/range', { legacyPrefixes: ['/v3beta/', '/v3alpha/'] })?.method, 'Range');
  assert.equal(lookupGatewayRoute('/v3/kv/nope'), undefined);
  assert.equal(lookupGatewayRoute('/v3/kv/toString'), undefined);
  assert.equal(lookupGatewayRoute('constructor'), undefined, 'no prototype properties leak through');
});

// The HTTP side of a member: etcd's JSON gateway (base64 keys, int64 as
// strings), /health, /readyz, /livez, /version, /metrics, and clear errors
// for malformed or oversized requests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster } from './process-cluster.js';
import { KVORUM_VERSION, type VersionInfo } from '../../contract/version.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('HTTP gateway, health and metrics', () => {
  let c: ProcessCluster;
  let url: string;
  const post = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  before(async () => {
    c = await ProcessCluster.create('kvorum', 3);
    await c.startAll();
    url = c.members[1]!.clientUrl;
  });
  after(() => c?.destroy());

  test('put and range through the JSON gateway, with etcd’s field names and encodings', async () => {
    const put = await post('/v3/kv/put', { key: b64('gw'), value: b64('hello') });
    assert.equal(put.status, 200);
    const header = put.json.header as Record<string, unknown>;
    assert.match(String(header.revision), /^\d+$/, 'revisions are strings');
    const range = await post('/v3/kv/range', { key: b64('gw') });
    assert.equal(range.status, 200);
    const kvs = range.json.kvs as { key: string; value: string; create_revision: string; version: string }[];
    assert.equal(Buffer.from(kvs[0]!.key, 'base64').toString(), 'gw');
    assert.equal(Buffer.from(kvs[0]!.value, 'base64').toString(), 'hello');
    assert.equal(kvs[0]!.version, '1');
    assert.equal(range.json.count, '1');
    const txn = await post('/v3/kv/txn', {
      compare: [{ key: b64('gw'), target: 'VALUE', result: 'EQUAL', value: b64('hello') }],
      success: [{ request_put: { key: b64('gw'), value: b64('bye') } }],
    });
    assert.equal(txn.json.succeeded, true);
    const lease = await post('/v3/lease/grant', { TTL: '30' });
    assert.equal(lease.json.TTL, '30');
    assert.match(String(lease.json.ID), /^\d+$/);
  });

  test('malformed JSON, bad base64 and oversized values get clear errors and change nothing', async () => {
    const bad = await post('/v3/kv/put', '{"key": ');
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /JSON/i);
    const badKey = await post('/v3/kv/put', { key: 'not base64!', value: b64('x') });
    assert.equal(badKey.status, 400);
    assert.match(String(badKey.json.error), /base64/);
    const big = await post('/v3/kv/put', { key: b64('big'), value: Buffer.alloc(2 * 1024 * 1024, 1).toString('base64') });
    assert.equal(big.status, 400);
    assert.match(String(big.json.error), /request is too large/);
    const range = await post('/v3/kv/range', { key: b64('big') });
    assert.equal(range.json.kvs, undefined, 'nothing was stored');
    const unknown = await fetch(`${url}/v3/kv/nope`, { method: 'POST', body: '{}' });
    assert.equal(unknown.status, 404);
  });

  test('health, readiness, liveness, version and etcd-named metrics', async () => {
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { health: 'true', reason: '' });
    assert.equal(await (await fetch(`${url}/readyz`)).text(), 'ok\n');
    assert.equal(await (await fetch(`${url}/livez`)).text(), 'ok\n');
    const version = (await (await fetch(`${url}/version`)).json()) as VersionInfo;
    assert.match(version.etcdserver, /^3\.5\.\d+$/);
    assert.equal(version.kvorum, KVORUM_VERSION);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const name of ['etcd_server_has_leader 1', 'etcd_server_leader_changes_seen_total', 'etcd_mvcc_db_total_size_in_bytes', 'etcd_disk_wal_fsync_duration_seconds_bucket', 'etcd_network_peer_round_trip_time_seconds_bucket', 'etcd_server_is_learner 0', `kvorum_build_info{version="${KVORUM_VERSION}",etcd_api_version="3.5.0"} 1`]) {
      assert.ok(metrics.includes(name), `metrics lack ${name}`);
    }
  });
});

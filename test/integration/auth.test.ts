// etcd's Auth API on a 3-member Kvorum cluster, with real clients (etcdctl
// and the `etcd3` npm client) and the JSON gateway: users and roles are
// replicated through the log, a token issued by one member works on every
// member, permissions are enforced on KV, Txn and Watch, and a member that
// was down catches up from a snapshot with the users in it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { ProcessCluster, requireTools, type ProcessMember } from './process-cluster.js';

function snapshotFiles(m: ProcessMember): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (dir.endsWith('snap')) found.push(e.name);
    }
  };
  walk(m.dataDir);
  return found;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function post(m: ProcessMember, path: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${m.clientUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: token }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('Auth API on a 3-member cluster', () => {
  let c: ProcessCluster;
  let lagging: ProcessMember;
  before(async () => {
    requireTools('etcdctl');
    // Frequent snapshots and a short log, so a member that was down catches up from a snapshot.
    c = await ProcessCluster.create('kvorum', 3, { extraArgs: ['--snapshot-count=20', '--experimental-snapshot-catchup-entries=5'] });
    await c.startAll();
    // A follower goes down (so no election follows), and the other two go on.
    const leader = await c.leader();
    lagging = c.members.find((m) => m !== leader)!;
    await c.kill(lagging);
    const running = c.members.filter((m) => m !== lagging);
    await c.waitHealthy(20_000, running);
    const up = running.map((m) => m.clientUrl).join(',');
    for (const args of [
      ['user', 'add', 'root:rootpw'],
      ['role', 'add', 'r1'],
      ['role', 'grant-permission', 'r1', 'readwrite', '--prefix', '/a/'],
      ['role', 'grant-permission', 'r1', 'read', '/r', '/s'],
      ['user', 'add', 'alice:alicepw'],
      ['user', 'grant-role', 'alice', 'r1'],
      ['auth', 'enable'],
    ]) {
      c.ctl(args, { endpoints: up });
    }
    // Enough writes for the leader to snapshot and compact its log past the auth entries.
    for (let i = 0; i < 60; i++) c.ctl(['--user=root:rootpw', 'put', `/fill/${i}`, 'x'], { endpoints: up });
  });
  after(async () => {
    await c?.destroy();
  });

  test('a member that was down catches up from a snapshot and has the users, roles and the enabled flag', async () => {
    c.start(lagging, 'existing');
    await c.waitHealthy(30_000, [lagging]);
    // Nothing but the leader's snapshot can have put a snapshot file there (it was down after a few entries).
    assert.ok(snapshotFiles(lagging).length > 0, 'the member caught up through a snapshot');
    let out = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const r = c.etcdctl(['--user=alice:alicepw', 'get', '/fill/1', '--consistency=s'], { endpoints: lagging.clientUrl });
      out = r.stdout + r.stderr;
      if (/permission denied/.test(out)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    // alice authenticates there (her password hash came in the snapshot) and is refused outside her roles.
    assert.match(out, /etcdserver: permission denied/);
    const status = await post(lagging, '/v3/auth/status', {});
    assert.equal(status.json.enabled, true);
    assert.match(c.ctl(['--user=root:rootpw', 'role', 'get', 'r1'], { endpoints: lagging.clientUrl }), /\[\/a\/, \/a0\) \(prefix \/a\/\)/);
  });

  test('finding 10: Auth is served — the etcd3 client: permitted writes and reads succeed on every member, others are refused with etcd\'s error', async () => {
    const client = new Etcd3({ hosts: c.members.map((m) => m.clientUrl), auth: { username: 'alice', password: 'alicepw' } });
    try {
      for (let i = 0; i < 6; i++) await client.put(`/a/${i}`).value(`v${i}`);
      assert.equal(await client.getAll().prefix('/a/').count(), 6);
      await assert.rejects(async () => { await client.put('/z').value('x'); }, /permission denied/);
      await assert.rejects(client.get('/fill/1').string(), /permission denied/);
      // A txn is checked in both branches, even the one that does not run.
      const txn = client.if('/a/0', 'Value', '==', 'v0').then(client.put('/a/t').value('1')).else(client.put('/z').value('1'));
      await assert.rejects(txn.commit(), /permission denied/);
      assert.equal(await client.get('/a/t').string(), null);
    } finally {
      client.close();
    }
    const root = new Etcd3({ hosts: c.members.map((m) => m.clientUrl), auth: { username: 'root', password: 'rootpw' } });
    try {
      await root.put('/z').value('root may');
      assert.equal(await root.get('/z').string(), 'root may');
    } finally {
      root.close();
    }
  });

  test('the gateway: a token from one member works on the others; none, or a bad one, is refused', async () => {
    const [m1, m2, m3] = c.members as [ProcessMember, ProcessMember, ProcessMember];
    const auth = await post(m1, '/v3/auth/authenticate', { name: 'alice', password: 'alicepw' });
    assert.equal(auth.status, 200);
    const token = auth.json.token as string;
    assert.ok(token.length > 8);
    for (const m of [m2, m3]) {
      const got = await post(m, '/v3/kv/range', { key: b64('/a/0') }, token);
      assert.equal(got.status, 200, JSON.stringify(got.json));
      assert.equal((got.json.kvs as { value: string }[])[0]!.value, b64('v0'));
    }
    const anonymous = await post(m2, '/v3/kv/range', { key: b64('/a/0') });
    assert.equal(anonymous.json.message, 'etcdserver: user name is empty');
    const bad = await post(m2, '/v3/kv/range', { key: b64('/a/0') }, 'not-a-token');
    assert.equal(bad.status, 401);
    assert.equal(bad.json.message, 'etcdserver: invalid auth token');
    const wrong = await post(m3, '/v3/auth/authenticate', { name: 'alice', password: 'nope' });
    assert.equal(wrong.json.message, 'etcdserver: authentication failed, invalid user ID or password');
    // Admin calls need the root role.
    const list = await post(m3, '/v3/auth/user/list', {}, token);
    assert.equal(list.json.message, 'etcdserver: permission denied');
    assert.equal(list.status, 403);
  });

  test('a watch outside the caller\'s roles is created and canceled at once with etcd\'s reason', async () => {
    const m = c.members[1]!;
    const token = (await post(m, '/v3/auth/authenticate', { name: 'alice', password: 'alicepw' })).json.token as string;
    const res = await fetch(`${m.clientUrl}/v3/watch`, {
      method: 'POST',
      headers: { authorization: token },
      body: JSON.stringify({ create_request: { key: b64('/z') } }),
      signal: AbortSignal.timeout(5000),
    });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const msg = JSON.parse(first.split('\n')[0]!) as { result: { created?: boolean; canceled?: boolean; cancel_reason?: string } };
    assert.equal(msg.result.created, true);
    assert.equal(msg.result.canceled, true);
    assert.equal(msg.result.cancel_reason, 'rpc error: code = PermissionDenied desc = etcdserver: permission denied');
  });

  test('a permission revoked through one member is refused at once by a read on another', async () => {
    const [m1, m2] = c.members as [ProcessMember, ProcessMember];
    c.ctl(['--user=root:rootpw', 'put', '/r/1', 'one'], { endpoints: m1.clientUrl });
    assert.match(c.ctl(['--user=alice:alicepw', 'get', '/r/1'], { endpoints: m2.clientUrl }), /one/);
    const token = (await post(m2, '/v3/auth/authenticate', { name: 'alice', password: 'alicepw' })).json.token as string;
    c.ctl(['--user=root:rootpw', 'role', 'revoke-permission', 'r1', '/r', '/s'], { endpoints: m1.clientUrl });
    // No wait: the linearizable read on m2 checks after its read barrier, so it sees the revoke.
    const denied = await post(m2, '/v3/kv/range', { key: b64('/r/1') }, token);
    assert.equal(denied.json.message, 'etcdserver: permission denied');
  });

  test('auth disable opens the cluster again, and root stays root while auth is on', () => {
    const refused = c.etcdctl(['--user=root:rootpw', 'user', 'revoke-role', 'root', 'root']);
    assert.match(refused.stderr, /etcdserver: invalid auth management/);
    c.ctl(['--user=root:rootpw', 'auth', 'disable']);
    assert.match(c.ctl(['get', '/z']), /root may/);
  });
});

// The auth store through the log of three in-process members: every member
// applies the same changes, a simple token issued by one member is held by
// all, and a write checked at an older auth revision is refused when it
// applies (etcd's "revision of auth store is old"), writing nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ENTRY_FORMAT_AUTH } from '../../../../node/server/entry-format.js';
import type { RunningMember } from '../../../../node/server/member.js';
import { bytes, InProcessCluster } from '../in-process-cluster.js';

const CHEAP = { N: 1024, r: 8, p: 1 };

describe('auth through the log (3 in-process members)', () => {
  let c: InProcessCluster;
  before(async () => {
    c = new InProcessCluster(3, { limits: { quotaBytes: 64 * 1024 * 1024, requestTimeoutMs: 3000, maxTxnOps: 128, auth: { passwordCost: CHEAP } } });
    await c.startAll();
    await c.waitForLeader();
    const deadline = Date.now() + 5000;
    while ([...c.members.values()].some((m) => m.server.membership.entryFormat < ENTRY_FORMAT_AUTH) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  });
  after(async () => {
    await c?.close();
  });

  it('applies users, roles and the switch on every member; a token from one member works on all', async () => {
    const s = (await c.waitForLeader()).server;
    await s.auth.userAdd(undefined, 'root', 'rootpw');
    await s.auth.userGrantRole(undefined, 'root', 'root');
    await s.auth.roleAdd(undefined, 'r1');
    await s.auth.roleGrantPermission(undefined, 'r1', { permType: 'READWRITE', key: bytes('/a'), rangeEnd: bytes('/b') });
    await s.auth.userAdd(undefined, 'alice', 'alicepw');
    await s.auth.userGrantRole(undefined, 'alice', 'r1');
    await s.auth.enable(undefined);
    await assert.rejects(s.auth.roleAdd(undefined, 'r2'), /user name is empty/);
    const follower = [...c.members.values()].find((m) => !m.node.isLeader)!.server;
    const token = await follower.auth.authenticate('alice', 'alicepw');
    await assert.rejects(follower.auth.authenticate('alice', 'nope'), /authentication failed/);
    // The token reaches the other members through the log; until it applies
    // there, identify() refuses it as invalid, so wait on that too.
    const holds = (m: RunningMember): boolean => {
      try {
        return m.server.authGate.identify({ token }) === 'alice';
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 3000;
    while ([...c.members.values()].some((m) => !holds(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const m of c.members.values()) {
      assert.equal(m.server.authStore.enabled, true);
      assert.deepEqual(m.server.authStore.userNames(), ['alice', 'root']);
      assert.equal(m.server.authGate.identify({ token }), 'alice', 'every member holds the token');
      // The log and the store hold a hash, never the password.
      assert.match(m.server.authStore.user('alice')!.password!, /^scrypt\$1\$/);
    }
  });

  it('a write checked before a permission change is refused when it applies, and writes nothing', async () => {
    const s = (await c.waitForLeader()).server;
    const access = [{ kind: 'write' as const, key: bytes('/a/1') }];
    const stale = s.authGate.checkAccess('alice', access)!;
    await s.auth.userRevokeRole('root', 'alice', 'r1');
    await assert.rejects(s.put({ key: bytes('/a/1'), value: bytes('late') }, stale), /etcdserver: revision of auth store is old/);
    await assert.rejects(s.txn({ success: [{ requestPut: { key: bytes('/a/1'), value: bytes('late') } }] }, () => stale), /revision of auth store is old/);
    assert.equal((await s.range({ key: bytes('/a/1') })).kvs.length, 0);
    assert.throws(() => s.authGate.checkAccess('alice', access), /permission denied/);
    const fresh = s.authGate.checkAccess('root', access);
    await s.put({ key: bytes('/a/1'), value: bytes('ok') }, fresh);
    assert.equal((await s.range({ key: bytes('/a/1') })).kvs.length, 1);
  });
});

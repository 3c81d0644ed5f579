import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthStore } from '../../../../node/server/auth/auth-store.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);

function withRoot(): AuthStore {
  const s = new AuthStore();
  s.apply({ userAdd: { name: 'root', password: 'hash' } });
  s.apply({ roleAdd: { name: 'root' } });
  s.apply({ userGrantRole: { user: 'root', role: 'root' } });
  return s;
}

describe('auth store', () => {
  it('enables only with a root user that has the root role, with etcd\'s errors', () => {
    const s = new AuthStore();
    assert.throws(() => s.apply({ authEnable: {} }), /etcdserver: root user does not exist/);
    s.apply({ userAdd: { name: 'root', password: 'h' } });
    assert.throws(() => s.apply({ authEnable: {} }), /etcdserver: root user does not have root role/);
    // The root role need not exist as a role to be granted.
    s.apply({ userGrantRole: { user: 'root', role: 'root' } });
    s.apply({ authEnable: {} });
    assert.equal(s.enabled, true);
  });

  it('raises the revision on every change, not on enable or a repeated grant; starts at 1 as etcd', () => {
    const s = new AuthStore();
    assert.equal(s.revision, 1);
    s.apply({ userAdd: { name: 'root', password: 'h' } });
    s.apply({ userGrantRole: { user: 'root', role: 'root' } });
    assert.equal(s.revision, 3);
    s.apply({ userGrantRole: { user: 'root', role: 'root' } });
    s.apply({ authEnable: {} });
    assert.equal(s.revision, 3);
  });

  it('refuses what etcd refuses and changes nothing then', () => {
    const s = withRoot();
    s.apply({ authEnable: {} });
    const rev = s.revision;
    assert.throws(() => s.apply({ userAdd: { name: 'root', password: 'x' } }), /user name already exists/);
    assert.throws(() => s.apply({ userAdd: { name: '', password: 'x' } }), /user name is empty/);
    assert.throws(() => s.apply({ roleAdd: { name: '' } }), /role name is empty/);
    assert.throws(() => s.apply({ roleAdd: { name: 'root' } }), /role name already exists/);
    assert.throws(() => s.apply({ userDelete: { name: 'nobody' } }), /user name not found/);
    assert.throws(() => s.apply({ userGrantRole: { user: 'root', role: 'nope' } }), /role name not found/);
    assert.throws(() => s.apply({ userRevokeRole: { name: 'root', role: 'nope' } }), /role is not granted to the user/);
    assert.throws(() => s.apply({ roleRevokePermission: { role: 'root', key: b('a'), rangeEnd: b('') } }), /permission is not granted to the role/);
    // Root stays root while auth is on.
    assert.throws(() => s.apply({ userDelete: { name: 'root' } }), /invalid auth management/);
    assert.throws(() => s.apply({ userRevokeRole: { name: 'root', role: 'root' } }), /invalid auth management/);
    assert.throws(() => s.apply({ roleDelete: { role: 'root' } }), /invalid auth management/);
    assert.equal(s.revision, rev);
    assert.deepEqual(s.userNames(), ['root']);
  });

  it('keeps permissions sorted, updates the type of a range granted again, and deletes a role from its users', () => {
    const s = withRoot();
    s.apply({ roleAdd: { name: 'r1' } });
    s.apply({ roleGrantPermission: { name: 'r1', perm: { permType: 'READ', key: b('b'), rangeEnd: b('c') } } });
    s.apply({ roleGrantPermission: { name: 'r1', perm: { permType: 'WRITE', key: b('a'), rangeEnd: b('') } } });
    s.apply({ roleGrantPermission: { name: 'r1', perm: { permType: 'READWRITE', key: b('b'), rangeEnd: b('c') } } });
    assert.deepEqual(
      s.role('r1')!.permissions.map((p) => [p.permType, Buffer.from(p.key).toString(), Buffer.from(p.rangeEnd).toString()]),
      [
        ['WRITE', 'a', ''],
        ['READWRITE', 'b', 'c'],
      ],
    );
    s.apply({ userAdd: { name: 'alice', password: 'h' } });
    s.apply({ userGrantRole: { user: 'alice', role: 'r1' } });
    assert.equal(s.permissionsOf('alice').length, 2);
    s.apply({ roleRevokePermission: { role: 'r1', key: b('a'), rangeEnd: b('') } });
    assert.equal(s.permissionsOf('alice').length, 1);
    s.apply({ roleDelete: { role: 'r1' } });
    assert.deepEqual(s.user('alice')!.roles, []);
  });

  it('round-trips through its snapshot form, and tells this member which tokens to drop', () => {
    const gone: string[] = [];
    let disabled = 0;
    const s = withRoot();
    s.apply({ roleAdd: { name: 'r1' } });
    s.apply({ roleGrantPermission: { name: 'r1', perm: { permType: 'READ', key: new Uint8Array([0, 255]), rangeEnd: new Uint8Array([0]) } } });
    s.apply({ userAdd: { name: 'cert-only', noPassword: true } });
    s.apply({ authEnable: {} });
    const json = JSON.parse(JSON.stringify(s.toJSON())) as ReturnType<AuthStore['toJSON']>;
    const t = new AuthStore({ onUserGone: (n) => gone.push(n), onDisabled: () => disabled++ });
    t.restore(json);
    assert.deepEqual(t.toJSON(), s.toJSON());
    assert.deepEqual([...t.role('r1')!.permissions[0]!.key], [0, 255]);
    assert.equal(t.user('cert-only')!.password, undefined);
    // A snapshot from before auth: nothing, and auth off.
    t.restore(undefined);
    assert.equal(t.enabled, false);
    assert.equal(t.revision, 1);
    assert.deepEqual(gone.sort(), ['cert-only', 'root']);
    assert.equal(disabled, 1);
    assert.throws(() => t.restore({ ...json, version: 2 as 1 }), /version 2 is newer/);
  });
});

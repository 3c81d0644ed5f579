import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthGate } from '../../../../node/server/auth/auth-gate.js';
import { AuthStore } from '../../../../node/server/auth/auth-store.js';
import { hashPassword, verifyPassword } from '../../../../node/server/auth/password.js';
import { deleteRangeAccess, putAccess, rangeAccess, txnAccess } from '../../../../node/server/auth/request-access.js';
import { SimpleTokens } from '../../../../node/server/auth/simple-tokens.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const noLeases = (): Uint8Array[] => [];

function setup(): { store: AuthStore; tokens: SimpleTokens; gate: AuthGate } {
  const tokens = new SimpleTokens();
  const store = new AuthStore({ onDisabled: () => tokens.clear(), onUserGone: (n) => tokens.forgetUser(n) });
  store.apply({ userAdd: { name: 'root', password: 'h' } });
  store.apply({ userGrantRole: { user: 'root', role: 'root' } });
  store.apply({ roleAdd: { name: 'r1' } });
  store.apply({ roleGrantPermission: { name: 'r1', perm: { permType: 'READWRITE', key: b('/a'), rangeEnd: b('/b') } } });
  store.apply({ roleAdd: { name: 'ro' } });
  store.apply({ roleGrantPermission: { name: 'ro', perm: { permType: 'READ', key: b('/r'), rangeEnd: b('/s') } } });
  store.apply({ userAdd: { name: 'alice', password: 'h' } });
  store.apply({ userGrantRole: { user: 'alice', role: 'r1' } });
  store.apply({ userGrantRole: { user: 'alice', role: 'ro' } });
  return { store, tokens, gate: new AuthGate(store, tokens) };
}

describe('auth gate', () => {
  it('lets everything through while auth is off', () => {
    const { gate } = setup();
    assert.equal(gate.identify({ token: 'bogus' }), undefined);
    gate.checkAccess(undefined, putAccess({ key: b('/z') }, noLeases));
    gate.checkAdmin(undefined);
  });

  it('identifies by token first, then by certificate CN; an unknown token is refused', () => {
    const { store, tokens, gate } = setup();
    store.apply({ authEnable: {} });
    const t = tokens.issue('alice');
    assert.equal(gate.identify({ token: t, commonName: 'root' }), 'alice');
    assert.equal(gate.identify({ commonName: 'root' }), 'root');
    assert.equal(gate.identify({}), undefined);
    assert.throws(() => gate.identify({ token: 'nope.1' }), (e: Error & { code?: string }) => e.message === 'etcdserver: invalid auth token' && e.code === 'UNAUTHENTICATED');
    // Deleting the user, or disabling auth, drops its tokens on this member.
    store.apply({ userDelete: { name: 'alice' } });
    assert.equal(tokens.user(t), undefined);
  });

  it('checks key access as etcd: no identity, denied, root passes', () => {
    const { store, gate } = setup();
    store.apply({ authEnable: {} });
    assert.throws(() => gate.checkAccess(undefined, rangeAccess({ key: b('/a/1') })), /etcdserver: user name is empty/);
    gate.checkAccess('alice', rangeAccess({ key: b('/a/1') }));
    gate.checkAccess('alice', putAccess({ key: b('/a/1'), prevKv: true }, noLeases));
    assert.throws(() => gate.checkAccess('alice', putAccess({ key: b('/r/1') }, noLeases)), /etcdserver: permission denied/);
    assert.throws(() => gate.checkAccess('alice', deleteRangeAccess({ key: b('/a'), rangeEnd: b('/c') })), /permission denied/);
    assert.throws(() => gate.checkAccess('ghost', rangeAccess({ key: b('/a/1') })), /permission denied/);
    gate.checkAccess('root', putAccess({ key: b('/anything') }, noLeases));
    assert.throws(() => gate.checkAdmin('alice'), /permission denied/);
    assert.throws(() => gate.checkAdmin(undefined), /user name is empty/);
    gate.checkAdmin('root');
  });

  it('a txn needs every compare and every op of both branches, nested ones too; a lease put needs its keys', () => {
    const { store, gate } = setup();
    store.apply({ authEnable: {} });
    const ok = { compare: [{ result: 'EQUAL' as const, target: 'VERSION' as const, key: b('/r/x'), version: 0 }], success: [{ requestPut: { key: b('/a/1') } }] };
    gate.checkAccess('alice', txnAccess(ok, noLeases));
    const badFailure = { ...ok, failure: [{ requestTxn: { success: [{ requestDeleteRange: { key: b('/r/x') } }] } }] };
    assert.throws(() => gate.checkAccess('alice', txnAccess(badFailure, noLeases)), /permission denied/);
    const badCompare = { ...ok, compare: [{ result: 'EQUAL' as const, target: 'VERSION' as const, key: b('/z'), version: 0 }] };
    assert.throws(() => gate.checkAccess('alice', txnAccess(badCompare, noLeases)), /permission denied/);
    const leaseKeys = (): Uint8Array[] => [b('/r/held')];
    assert.throws(() => gate.checkAccess('alice', putAccess({ key: b('/a/1'), lease: 5n }, leaseKeys)), /permission denied/);
  });
});

describe('passwords and tokens', () => {
  it('hashes with scrypt and a random salt into a versioned string; never the password itself', async () => {
    const cost = { N: 1024, r: 8, p: 1 };
    const h1 = await hashPassword('s3cret', cost);
    const h2 = await hashPassword('s3cret', cost);
    assert.match(h1, /^scrypt\$1\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.notEqual(h1, h2, 'a fresh salt each time');
    assert.equal(h1.includes('s3cret'), false);
    assert.equal(await verifyPassword('s3cret', h1), true);
    assert.equal(await verifyPassword('wrong', h1), false);
    assert.equal(await verifyPassword('s3cret', 'bcrypt$2a$10$x'), false);
  });

  it('tokens live for their TTL, renewed by each use', () => {
    let now = 0;
    const tokens = new SimpleTokens(1000, () => now);
    const t = tokens.issue('alice');
    now = 900;
    assert.equal(tokens.user(t), 'alice');
    now = 1800;
    assert.equal(tokens.user(t), 'alice', 'the use at 900 renewed it');
    now = 2801;
    assert.equal(tokens.user(t), undefined);
    assert.notEqual(tokens.issue('a'), tokens.issue('a'));
  });
});

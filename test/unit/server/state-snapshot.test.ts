import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serialize } from 'node:v8';
import { MvccStore } from '../../../node/mvcc/index.js';
import { Membership } from '../../../node/server/membership.js';
import { captureState, decodeStateSnapshot, encodeStateSnapshot, STATE_SNAPSHOT_VERSION } from '../../../node/server/state-snapshot.js';
import { AuthStore } from '../../../node/server/auth/auth-store.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function fixture(): { store: MvccStore; membership: Membership } {
  const store = new MvccStore();
  for (let i = 0; i < 50; i++) store.apply(i + 1, { put: { key: bytes(`k${i % 10}`), value: bytes(`v${i}`) } });
  const membership = new Membership();
  membership.add({ id: 7, name: 'm7', peerUrls: ['http://127.0.0.1:2380'], clientUrls: [], isLearner: false });
  return { store, membership };
}

describe('state snapshot encoding', () => {
  it('frames the MVCC snapshot after a JSON header without changing its bytes', () => {
    const { store, membership } = fixture();
    const data = encodeStateSnapshot(store, { membership: membership.toJSON(), alarms: ['7:NOSPACE'] });
    assert.equal(Buffer.from(data.subarray(0, 4)).toString('latin1'), 'KVSS');
    const decoded = decodeStateSnapshot(data);
    assert.deepEqual(decoded.mvcc, store.snapshot());
    assert.deepEqual(decoded.alarms, ['7:NOSPACE']);
    assert.deepEqual(decoded.membership, membership.toJSON());
    assert.equal(MvccStore.restore(decoded.mvcc).revision, store.revision);
  });

  it('version 2 carries the auth store; version 1 (no version, no auth) still reads; a newer version is refused', () => {
    const { store, membership } = fixture();
    const auth = new AuthStore();
    auth.apply({ userAdd: { name: 'root', password: 'scrypt$1$1024$8$1$c2FsdA==$aGFzaA==' } });
    auth.apply({ userGrantRole: { user: 'root', role: 'root' } });
    auth.apply({ authEnable: {} });
    const decoded = decodeStateSnapshot(encodeStateSnapshot(store, { version: STATE_SNAPSHOT_VERSION, membership: membership.toJSON(), alarms: [], auth: auth.toJSON() }));
    assert.equal(decoded.version, 2);
    const restored = new AuthStore();
    restored.restore(decoded.auth);
    assert.equal(restored.enabled, true);
    assert.deepEqual(restored.user('root')?.roles, ['root']);
    const v1 = decodeStateSnapshot(encodeStateSnapshot(store, { membership: membership.toJSON(), alarms: [] }));
    assert.equal(v1.auth, undefined);
    restored.restore(v1.auth);
    assert.deepEqual(restored.userNames(), []);
    assert.throws(() => decodeStateSnapshot(encodeStateSnapshot(store, { version: 3, membership: membership.toJSON(), alarms: [] })), /snapshot version 3 is newer/);
  });

  it('still reads snapshots written in the earlier V8-serialized layout', () => {
    const { store, membership } = fixture();
    const old = serialize({ mvcc: store.snapshot(), membership: membership.toJSON(), alarms: [] });
    const decoded = decodeStateSnapshot(old);
    assert.deepEqual(decoded.mvcc, store.snapshot());
    assert.deepEqual(decoded.membership, membership.toJSON());
  });

  it('refuses a header that runs past the end', () => {
    const { store, membership } = fixture();
    const data = encodeStateSnapshot(store, { membership: membership.toJSON(), alarms: [] });
    assert.throws(() => decodeStateSnapshot(data.subarray(0, 12)), /malformed/);
  });

  it('captures the state at once and produces the same bytes later, in chunks, after sizing them', async () => {
    const { store, membership } = fixture();
    const expected = encodeStateSnapshot(store, { membership: membership.toJSON(), alarms: [] });
    const captured = captureState(store, { membership: membership.toJSON(), alarms: [] });
    store.apply(51, { put: { key: bytes('after-capture'), value: bytes('x') } });
    assert.equal(await captured.size(), expected.length);
    const parts: Uint8Array[] = [];
    for await (const c of captured.chunks()) parts.push(c);
    assert.ok(Buffer.concat(parts).equals(expected), 'the write after capture is not in it');
  });
});


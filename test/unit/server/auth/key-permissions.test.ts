import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { permits, type KeyPermission, type PermType } from '../../../../node/server/auth/key-permissions.js';

const b = (s: string): Uint8Array => new TextEncoder().encode(s);
const perm = (permType: PermType, key: string, rangeEnd = ''): KeyPermission => ({ permType, key: b(key), rangeEnd: rangeEnd === '\0' ? new Uint8Array([0]) : b(rangeEnd) });

describe('key permissions', () => {
  it('a single-key permission grants that key only', () => {
    const perms = [perm('READ', 'k')];
    assert.equal(permits(perms, { kind: 'read', key: b('k') }), true);
    assert.equal(permits(perms, { kind: 'read', key: b('k2') }), false);
    assert.equal(permits(perms, { kind: 'write', key: b('k') }), false);
    assert.equal(permits(perms, { kind: 'read', key: b('k'), rangeEnd: b('l') }), false);
  });

  it('a range grants keys and sub-ranges inside it, READWRITE both kinds', () => {
    const perms = [perm('READWRITE', '/a', '/b')];
    assert.equal(permits(perms, { kind: 'write', key: b('/a/x') }), true);
    assert.equal(permits(perms, { kind: 'read', key: b('/a'), rangeEnd: b('/b') }), true);
    assert.equal(permits(perms, { kind: 'read', key: b('/a'), rangeEnd: b('/c') }), false);
    assert.equal(permits(perms, { kind: 'read', key: b('/b') }), false, 'the range end is exclusive');
    assert.equal(permits(perms, { kind: 'read', key: b('/a'), rangeEnd: new Uint8Array([0]) }), false, 'from-key runs past the range');
  });

  it('adjacent grants cover a range together; a gap refuses it', () => {
    const joined = [perm('READ', 'a', 'c'), perm('READ', 'c', 'e')];
    assert.equal(permits(joined, { kind: 'read', key: b('b'), rangeEnd: b('d') }), true);
    const gap = [perm('READ', 'a', 'c'), perm('READ', 'd', 'e')];
    assert.equal(permits(gap, { kind: 'read', key: b('b'), rangeEnd: b('d2') }), false);
    // A single key joins the range that starts right after it.
    assert.equal(permits([perm('READ', 'a'), perm('READ', 'a\0', 'b')], { kind: 'read', key: b('a'), rangeEnd: b('b') }), true);
  });

  it('a range end of "\\0" is every key from the key on', () => {
    const perms = [perm('WRITE', 'm', '\0')];
    assert.equal(permits(perms, { kind: 'write', key: b('zzz') }), true);
    assert.equal(permits(perms, { kind: 'write', key: b('m'), rangeEnd: new Uint8Array([0]) }), true);
    assert.equal(permits(perms, { kind: 'write', key: b('a') }), false);
    assert.equal(permits([], { kind: 'write', key: b('a') }), false);
  });
});

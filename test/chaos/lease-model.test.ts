// The lease profile's model: histories that break lease semantics are
// rejected, legal ones (expiry at an unrecorded moment included) accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizable } from '../sim/linearizability.js';
import { leaseModel, type LeaseInput, type LeaseKv, type LeaseOperation, type LeaseOutput } from './lease-model.js';

const G = 'kl0';
let clock = 0;
/** An operation taking one time unit, after every earlier one (unless `at` says when). */
/** Omit over each member of a union. */
type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
function op(input: Without<LeaseInput, 'group'>, output: LeaseOutput | undefined, at?: { call: number; ret: number }): LeaseOperation {
  const call = at?.call ?? (clock += 2);
  const ret = output === undefined ? Infinity : (at?.ret ?? call + 1);
  return { clientId: 0, input: { group: G, ...input } as LeaseInput, output, call, ret };
}
const ok = { ok: true };
const notFound = { ok: false };
const kvs = (...list: LeaseKv[]): LeaseOutput => ({ kvs: list });
const check = (h: LeaseOperation[]): string => checkLinearizable(leaseModel, h).result;

test('lease model: a key read after its lease was revoked is rejected', () => {
  const h = [
    op({ op: 'grant', lease: '1' }, ok),
    op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '1' }, ok),
    op({ op: 'revoke', lease: '1' }, ok),
    op({ op: 'get', key: 'kl0/a' }, kvs({ key: 'kl0/a', value: 'v1', lease: '1' })),
  ];
  assert.equal(check(h), 'illegal');
  // Read before the revoke instead: fine.
  const fine = [h[0]!, h[1]!, op({ op: 'get', key: 'kl0/a' }, kvs({ key: 'kl0/a', value: 'v1', lease: '1' })), op({ op: 'revoke', lease: '1' }, ok), op({ op: 'get', key: 'kl0/a' }, kvs())];
  assert.equal(check(fine), 'ok');
});

test('lease model: a key read after a keep-alive found its lease expired is rejected', () => {
  const h = [
    op({ op: 'grant', lease: '1' }, ok),
    op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '1' }, ok),
    op({ op: 'keepalive', lease: '1' }, notFound),
    op({ op: 'get', key: 'kl0/a' }, kvs({ key: 'kl0/a', value: 'v1', lease: '1' })),
  ];
  assert.equal(check(h), 'illegal');
});

test('lease model: expiry may happen at any unrecorded moment, once', () => {
  // The key vanishes with nobody revoking: the lease expired.
  const expired = [
    op({ op: 'grant', lease: '1' }, ok),
    op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '1' }, ok),
    op({ op: 'get', key: 'kl0/a' }, kvs({ key: 'kl0/a', value: 'v1', lease: '1' })),
    op({ op: 'get', key: 'kl0/a' }, kvs()),
    op({ op: 'keepalive', lease: '1' }, notFound),
    op({ op: 'revoke', lease: '1' }, notFound),
    op({ op: 'put', key: 'kl0/b', value: 'v2', lease: '1' }, notFound),
  ];
  assert.equal(check(expired), 'ok');
  // But an expired lease never comes back: a later keep-alive that finds it is rejected.
  assert.equal(check([...expired.slice(0, 4), op({ op: 'keepalive', lease: '1' }, ok)]), 'illegal');
  // Nor can a put attach to it once it is gone.
  assert.equal(check([...expired.slice(0, 4), op({ op: 'put', key: 'kl0/b', value: 'v3', lease: '1' }, ok)]), 'illegal');
});

test('lease model: a key without a lease never vanishes, and reads report the right lease', () => {
  assert.equal(check([op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '' }, ok), op({ op: 'get', key: 'kl0/a' }, kvs())]), 'illegal');
  const h = [op({ op: 'grant', lease: '1' }, ok), op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '1' }, ok)];
  assert.equal(check([...h, op({ op: 'get', key: 'kl0/a' }, kvs({ key: 'kl0/a', value: 'v1', lease: '' }))]), 'illegal');
  // A put without a lease detaches the key: the lease's revoke leaves it.
  assert.equal(
    check([...h, op({ op: 'put', key: 'kl0/a', value: 'v2', lease: '' }, ok), op({ op: 'revoke', lease: '1' }, ok), op({ op: 'list' }, kvs({ key: 'kl0/a', value: 'v2', lease: '' }))]),
    'ok',
  );
});

test('lease model: a revoke or an expiry takes every key of the lease at once', () => {
  const h = [
    op({ op: 'grant', lease: '1' }, ok),
    op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '1' }, ok),
    op({ op: 'put', key: 'kl0/b', value: 'v2', lease: '1' }, ok),
  ];
  assert.equal(check([...h, op({ op: 'list' }, kvs({ key: 'kl0/b', value: 'v2', lease: '1' }))]), 'illegal');
  assert.equal(check([...h, op({ op: 'list' }, kvs())]), 'ok');
  // A revoke whose answer was lost may have happened: the keys may be gone or not.
  const lost = [...h, op({ op: 'revoke', lease: '1' }, undefined)];
  assert.equal(check([...lost, op({ op: 'get', key: 'kl0/a' }, kvs({ key: 'kl0/a', value: 'v1', lease: '1' }))]), 'ok');
  assert.equal(check([...lost, op({ op: 'list' }, kvs())]), 'ok');
  // A revoke answered "done" needs the lease alive: not after a keep-alive found it gone.
  assert.equal(check([...h, op({ op: 'keepalive', lease: '1' }, notFound), op({ op: 'revoke', lease: '1' }, ok)]), 'illegal');
});

test('lease model: a put attached to a lease whose grant is unknown needs the grant', () => {
  const grant = op({ op: 'grant', lease: '7' }, undefined);
  assert.equal(check([grant, op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '7' }, ok), op({ op: 'get', key: 'kl0/a' }, kvs({ key: 'kl0/a', value: 'v1', lease: '7' }))]), 'ok');
  // Without the grant in the history at all, a put attached to the lease cannot succeed.
  assert.equal(check([op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '7' }, ok)]), 'illegal');
});

test('lease model: concurrent operations may take effect in either order', () => {
  const h = [
    op({ op: 'grant', lease: '1' }, ok, { call: 0, ret: 1 }),
    op({ op: 'put', key: 'kl0/a', value: 'v1', lease: '1' }, ok, { call: 2, ret: 3 }),
    // The revoke overlaps the read that still sees the key.
    op({ op: 'revoke', lease: '1' }, ok, { call: 4, ret: 10 }),
    op({ op: 'get', key: 'kl0/a' }, kvs({ key: 'kl0/a', value: 'v1', lease: '1' }), { call: 5, ret: 6 }),
    op({ op: 'get', key: 'kl0/a' }, kvs(), { call: 11, ret: 12 }),
  ];
  assert.equal(check(h), 'ok');
});

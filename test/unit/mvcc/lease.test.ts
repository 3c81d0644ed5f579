import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_LEASE_TTL } from '../../../node/mvcc/index.js';
import { Driver, LEASE_NOT_FOUND, assertMvccError, bytes, text } from './helpers.js';

describe('leases', () => {
  it('grants with the server-chosen id and records what the expiry clock needs', () => {
    const d = new Driver();
    d.put('x', '1');
    const response = d.grant(1001, 30);
    assert.deepEqual([response.id, response.ttl, response.error], [1001n, 30, '']);
    assert.equal(d.store.revision, 2, 'granting does not take a revision');
    assert.deepEqual(d.store.lease(1001n), {
      id: 1001n,
      grantedTtl: 30,
      grantedIndex: d.index,
      grantedRevision: 2,
      remainingTtl: 0,
    });
  });

  it('rejects a duplicate id, id 0 and a TTL above etcd maximum', () => {
    const d = new Driver();
    d.grant(5);
    assertMvccError(() => d.grant(5), 'FAILED_PRECONDITION', 'etcdserver: lease already exists');
    assertMvccError(() => d.grant(0), 'NOT_FOUND', LEASE_NOT_FOUND);
    assertMvccError(() => d.grant(6, MAX_LEASE_TTL + 1), 'OUT_OF_RANGE', 'etcdserver: too large lease TTL');
  });

  it('refuses numbers that could not be persisted, changing nothing', () => {
    const d = new Driver();
    d.grant(7, 100);
    const invalid = 'etcdserver: remaining TTL must be an integer';
    assertMvccError(
      () => d.apply({ leaseCheckpoint: { checkpoints: [{ id: 7n, remainingTtl: 5 }, { id: 7n, remainingTtl: 1.5 }] } }),
      'INVALID_ARGUMENT',
      invalid,
    );
    assert.equal(d.store.lease(7n)!.remainingTtl, 0);
    assertMvccError(() => d.grant(8, 2.5), 'INVALID_ARGUMENT', 'etcdserver: lease TTL must be an integer');
    assertMvccError(() => d.compact(1.5), 'INVALID_ARGUMENT', 'etcdserver: compaction revision must be an integer');
  });

  it('lists leases by id and reports attached keys', () => {
    const d = new Driver();
    d.grant(30);
    d.grant(2 ** 52);
    d.grant(4);
    assert.deepEqual(d.store.leaseList().map((l) => l.id), [4n, 30n, 2n ** 52n]);
    d.put('b', '1', { lease: 4n });
    d.put('a', '1', { lease: 4n });
    const ttl = d.store.leaseTimeToLive(4n, true)!;
    assert.deepEqual(ttl.keys.map(text), ['a', 'b']);
    assert.deepEqual(d.store.leaseTimeToLive(4n)!.keys, []);
    assert.equal(d.store.leaseTimeToLive(99n), undefined);
  });

  it('moves a key between leases on put and detaches it on delete or a lease-less put', () => {
    const d = new Driver();
    d.grant(1);
    d.grant(2);
    d.put('k', 'v', { lease: 1n });
    d.put('k', 'v', { lease: 2n });
    assert.deepEqual(d.store.leaseTimeToLive(1n, true)!.keys, []);
    assert.deepEqual(d.store.leaseTimeToLive(2n, true)!.keys.map(text), ['k']);
    d.put('k', 'v');
    assert.deepEqual(d.store.leaseTimeToLive(2n, true)!.keys, []);
    d.put('j', 'v', { lease: 1n });
    d.del('j');
    assert.deepEqual(d.store.leaseTimeToLive(1n, true)!.keys, []);
    d.revoke(1);
    assert.equal(d.get('k')!.version, 3, 'a detached key survives its old lease');
  });

  it('revokes by deleting every attached key in one revision', () => {
    const d = new Driver();
    d.grant(7);
    d.put('a', '1', { lease: 7n });
    d.put('b', '1', { lease: 7n });
    d.put('c', '1');
    const revision = d.store.revision;
    d.revoke(7);
    assert.equal(d.store.revision, revision + 1);
    assert.deepEqual(d.dump(), ['c=1']);
    assert.equal(d.store.lease(7n), undefined);
    assertMvccError(() => d.revoke(7), 'NOT_FOUND', LEASE_NOT_FOUND);
    assertMvccError(() => d.put('x', '1', { lease: 7n }), 'NOT_FOUND', LEASE_NOT_FOUND);
  });

  it('revoking a lease without keys takes no revision', () => {
    const d = new Driver();
    d.grant(7);
    d.revoke(7);
    assert.equal(d.store.revision, 1);
  });

  it('records checkpoints of the remaining TTL and ignores unknown leases', () => {
    const d = new Driver();
    d.grant(7, 100);
    d.apply({ leaseCheckpoint: { checkpoints: [{ id: 7n, remainingTtl: 42 }, { id: 8n, remainingTtl: 1 }] } });
    assert.equal(d.store.lease(7n)!.remainingTtl, 42);
    assert.equal(d.store.lease(8n), undefined);
  });

  it('keeps a lease attached through ignoreLease and shows it in the key', () => {
    const d = new Driver();
    d.grant(3);
    d.apply({ put: { key: bytes('k'), value: bytes('1'), lease: 3n } });
    d.apply({ put: { key: bytes('k'), value: bytes('2'), ignoreLease: true } });
    assert.equal(d.get('k')!.lease, 3n);
    d.revoke(3);
    assert.equal(d.get('k'), undefined);
  });

  it('finding 8: grants negative IDs and IDs beyond 2^53, as etcd\'s lessor does (only 0 is refused)', () => {
    const d = new Driver();
    for (const id of [-1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n]) {
      assert.equal(d.grant(id, 30).id, id);
      d.put(`k${id}`, 'v', { lease: id });
      assert.equal(d.get(`k${id}`)!.lease, id);
      assert.deepEqual(d.store.leaseTimeToLive(id, true)!.keys.map(text), [`k${id}`]);
    }
    assert.deepEqual(d.store.leaseList().map((l) => l.id), [-(2n ** 63n), -1n, 2n ** 53n + 1n, 2n ** 63n - 1n]);
    d.revoke(-1n);
    assert.equal(d.get('k-1'), undefined);
    assertMvccError(() => d.put('x', 'v', { lease: -1n }), 'NOT_FOUND', LEASE_NOT_FOUND);
  });
});

// The lease table: which leases exist, their granted TTLs, and which keys each
// one keeps alive. It holds no clock. The leader's server tracks expiry from
// the facts recorded here and proposes a LeaseRevoke when a lease runs out.

import { errors } from './errors.js';
import { type ByteString, fromByteString } from './keys.js';
import type { LeaseInfo, LeaseTimeToLive } from './types.js';

/** etcd's upper bound on a lease TTL, in seconds. */
export const MAX_LEASE_TTL = 9_000_000_000;

interface Lease {
  readonly id: number;
  readonly grantedTtl: number;
  readonly grantedIndex: number;
  readonly grantedRevision: number;
  remainingTtl: number;
  readonly keys: Set<ByteString>;
}

export class LeaseTable {
  private readonly leases = new Map<number, Lease>();

  get size(): number {
    return this.leases.size;
  }

  has(id: number): boolean {
    return this.leases.has(id);
  }

  /** Checks a grant without changing anything. */
  checkGrant(id: number, ttl: number): void {
    // etcd's lessor answers "not found" for the reserved ID 0.
    if (!Number.isSafeInteger(id) || id <= 0) throw errors.leaseNotFound();
    if (!Number.isSafeInteger(ttl)) throw errors.notAnInteger('lease TTL');
    if (ttl > MAX_LEASE_TTL) throw errors.leaseTtlTooLarge();
    if (this.leases.has(id)) throw errors.leaseExists();
  }

  grant(info: Omit<LeaseInfo, 'remainingTtl'> & { remainingTtl?: number }): void {
    this.checkGrant(info.id, info.grantedTtl);
    this.leases.set(info.id, {
      id: info.id,
      grantedTtl: info.grantedTtl,
      grantedIndex: info.grantedIndex,
      grantedRevision: info.grantedRevision,
      remainingTtl: info.remainingTtl ?? 0,
      keys: new Set(),
    });
  }

  /** Forgets the lease and returns its keys in byte order (the caller deletes them). */
  revoke(id: number): ByteString[] {
    const lease = this.require(id);
    this.leases.delete(id);
    return [...lease.keys].sort();
  }

  /** Records a checkpointed remaining TTL; unknown leases are ignored, as in etcd. */
  checkpoint(id: number, remainingTtl: number): void {
    const lease = this.leases.get(id);
    if (lease !== undefined) lease.remainingTtl = remainingTtl;
  }

  attach(id: number, key: ByteString): void {
    if (id !== 0) this.require(id).keys.add(key);
  }

  detach(id: number, key: ByteString): void {
    if (id !== 0) this.leases.get(id)?.keys.delete(key);
  }

  info(id: number): LeaseInfo | undefined {
    const lease = this.leases.get(id);
    return lease === undefined ? undefined : describe(lease);
  }

  timeToLive(id: number, withKeys: boolean): LeaseTimeToLive | undefined {
    const lease = this.leases.get(id);
    if (lease === undefined) return undefined;
    const keys = withKeys ? [...lease.keys].sort().map(fromByteString) : [];
    return { ...describe(lease), keys };
  }

  /** Every lease, ordered by ID. */
  list(): LeaseInfo[] {
    return [...this.leases.values()].sort((a, b) => a.id - b.id).map(describe);
  }

  private require(id: number): Lease {
    const lease = this.leases.get(id);
    if (lease === undefined) throw errors.leaseNotFound();
    return lease;
  }
}

function describe(lease: Lease): LeaseInfo {
  return {
    id: lease.id,
    grantedTtl: lease.grantedTtl,
    grantedIndex: lease.grantedIndex,
    grantedRevision: lease.grantedRevision,
    remainingTtl: lease.remainingTtl,
  };
}

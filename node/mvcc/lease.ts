// The lease table: which leases exist, their granted TTLs, and which keys each
// one keeps alive. It holds no clock. The leader's server tracks expiry from
// the facts recorded here and proposes a LeaseRevoke when a lease runs out.

import { errors } from './errors.js';
import { type ByteString, fromByteString } from './keys.js';
import { type LeaseId, type LeaseInfo, type LeaseTimeToLive, NO_LEASE } from './types.js';

/** etcd's upper bound on a lease TTL, in seconds. */
export const MAX_LEASE_TTL = 9_000_000_000;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** True for an ID that the lease encodings of releases before int64 lease IDs carry: 1 to 2^53-1. */
export function isLegacyLeaseId(id: LeaseId): boolean {
  return id > 0n && id <= BigInt(Number.MAX_SAFE_INTEGER);
}

interface Lease {
  readonly id: LeaseId;
  readonly grantedTtl: number;
  readonly grantedIndex: number;
  readonly grantedRevision: number;
  remainingTtl: number;
  readonly keys: Set<ByteString>;
}

export class LeaseTable {
  private readonly leases = new Map<LeaseId, Lease>();

  get size(): number {
    return this.leases.size;
  }

  has(id: LeaseId): boolean {
    return this.leases.has(id);
  }

  /** Checks a grant without changing anything. */
  checkGrant(id: LeaseId, ttl: number): void {
    // etcd's lessor answers "not found" for the reserved ID 0 only: negative IDs are granted.
    if (id === NO_LEASE || id < INT64_MIN || id > INT64_MAX) throw errors.leaseNotFound();
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
  revoke(id: LeaseId): ByteString[] {
    const lease = this.require(id);
    this.leases.delete(id);
    return [...lease.keys].sort();
  }

  /** Records a checkpointed remaining TTL; unknown leases are ignored, as in etcd. */
  checkpoint(id: LeaseId, remainingTtl: number): void {
    const lease = this.leases.get(id);
    if (lease !== undefined) lease.remainingTtl = remainingTtl;
  }

  attach(id: LeaseId, key: ByteString): void {
    if (id !== NO_LEASE) this.require(id).keys.add(key);
  }

  detach(id: LeaseId, key: ByteString): void {
    if (id !== NO_LEASE) this.leases.get(id)?.keys.delete(key);
  }

  /** The table's own copy of the ID, so key records share one bigint per lease. */
  canonical(id: LeaseId): LeaseId {
    // The shared 0n, not the one each decoded request carries: a record holds its lease ID.
    if (id === NO_LEASE) return NO_LEASE;
    return this.leases.get(id)?.id ?? id;
  }

  info(id: LeaseId): LeaseInfo | undefined {
    const lease = this.leases.get(id);
    return lease === undefined ? undefined : describe(lease);
  }

  timeToLive(id: LeaseId, withKeys: boolean): LeaseTimeToLive | undefined {
    const lease = this.leases.get(id);
    if (lease === undefined) return undefined;
    const keys = withKeys ? [...lease.keys].sort().map(fromByteString) : [];
    return { ...describe(lease), keys };
  }

  /** Every lease, ordered by ID. */
  list(): LeaseInfo[] {
    return [...this.leases.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(describe);
  }

  private require(id: LeaseId): Lease {
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

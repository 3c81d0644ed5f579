// Lease expiry clocks. Every member keeps a wall-clock expiry per lease (so
// TimeToLive answers are close anywhere), but only the leader acts on it: a
// periodic check proposes the revoke of each expired lease. As etcd's lessor
// does, the leader renews keep-alives without a log entry; it shares the
// renewals with the followers in one batched entry per check. A new leader
// cannot know how long the old one let leases run, so it restarts every
// clock with a full TTL.
import type { Logger } from 'pino';
import type { MvccStore } from '../mvcc/store.js';
import type { LeaseId } from '../mvcc/types.js';

export interface LeaseClockOptions {
  store: MvccStore;
  isLeader: () => boolean;
  /** Proposes the revoke of an expired lease. */
  revoke: (id: LeaseId) => Promise<unknown>;
  /** Proposes the renewals the leader answered by itself, for the followers' clocks. */
  shareRenewals: (ids: LeaseId[]) => Promise<unknown>;
  /** How long a proposed revoke may take before it is proposed again. */
  retryAfterMs: number;
  logger: Logger;
  now?: () => number;
}

/** How often the leader looks for expired leases. */
const CHECK_INTERVAL_MS = 500;

export class LeaseClock {
  /** Lease ID -> wall-clock expiry in ms. */
  private readonly expiry = new Map<LeaseId, number>();
  /** Leases whose revoke the leader has proposed, with the time it did. */
  private readonly revoking = new Map<LeaseId, number>();
  /** Leases the leader renewed locally since it last told the followers. */
  private renewedByLeader = new Set<LeaseId>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: LeaseClockOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A lease was granted (applied): its clock starts now. */
  granted(id: LeaseId, ttlSeconds: number): void {
    this.expiry.set(id, this.now() + ttlSeconds * 1000);
  }

  /** A lease was revoked (applied). */
  revoked(id: LeaseId): void {
    this.expiry.delete(id);
    this.revoking.delete(id);
  }

  /** A keep-alive applied through the log, or one a peer leader shared: the clock restarts. */
  renewed(id: LeaseId, ttlSeconds: number): void {
    this.granted(id, ttlSeconds);
  }

  /** The leader answered a keep-alive by itself. */
  renewedByThisLeader(id: LeaseId, ttlSeconds: number): void {
    this.granted(id, ttlSeconds);
    this.renewedByLeader.add(id);
  }

  /** Seconds left on a lease's clock (its granted TTL if the clock has not started). */
  remaining(id: LeaseId, grantedTtl: number): number {
    const expiry = this.expiry.get(id);
    if (expiry === undefined) return grantedTtl;
    return Math.max(0, Math.ceil((expiry - this.now()) / 1000));
  }

  /** This member became the leader: every lease gets a full TTL from now, as etcd does on promotion. */
  becameLeader(): void {
    const now = this.now();
    for (const lease of this.opts.store.leaseList()) this.expiry.set(lease.id, now + lease.grantedTtl * 1000);
    this.revoking.clear();
  }

  /** The whole state was replaced (a snapshot): clocks start again on the next check. */
  reset(): void {
    this.expiry.clear();
  }

  /** Leader only: shares local renewals and revokes leases whose clock ran out. */
  check(): void {
    if (!this.opts.isLeader()) {
      this.renewedByLeader.clear();
      return;
    }
    this.shareRenewals();
    const now = this.now();
    for (const lease of this.opts.store.leaseList()) {
      let expiry = this.expiry.get(lease.id);
      if (expiry === undefined) {
        expiry = now + lease.grantedTtl * 1000;
        this.expiry.set(lease.id, expiry);
      }
      if (expiry > now) continue;
      const since = this.revoking.get(lease.id);
      if (since !== undefined && now - since < this.opts.retryAfterMs) continue;
      this.revoking.set(lease.id, now);
      this.opts.revoke(lease.id).catch((err: unknown) => this.opts.logger.warn({ err, lease: String(lease.id) }, 'revoking an expired lease failed; will retry'));
    }
  }

  private shareRenewals(): void {
    if (this.renewedByLeader.size === 0) return;
    const ids = [...this.renewedByLeader];
    this.renewedByLeader = new Set<LeaseId>();
    this.opts.shareRenewals(ids).catch((err: unknown) => this.opts.logger.debug({ err }, 'sharing lease renewals failed'));
  }
}

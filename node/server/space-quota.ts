// etcd's --quota-backend-bytes. When the store grows past the quota, the
// leader proposes a NOSPACE alarm; once it applies, every member refuses
// writes that add data until an operator disarms it. The alarm itself changes
// only in apply. Until it applies, a local flag (not replicated) already
// refuses writes here, so the leader does not keep admitting them meanwhile.
import type { Logger } from 'pino';
import type { MvccStore } from '../mvcc/store.js';
import type { Alarms } from './alarms.js';
import { errNoSpace } from './errors.js';

export interface SpaceQuotaOptions {
  store: MvccStore;
  alarms: Alarms;
  memberId: number;
  quotaBytes: number;
  isLeader: () => boolean;
  /** Proposes the NOSPACE alarm for this member; resolves once it applied. */
  raiseAlarm: () => Promise<unknown>;
  logger: Logger;
}

export class SpaceQuota {
  /** This member proposed the alarm and it has not applied (or failed) yet. */
  private raising = false;

  constructor(private readonly opts: SpaceQuotaOptions) {}

  /** Refuses a write that adds data while the space alarm is raised or being raised. */
  admit(): void {
    if (this.raising || this.opts.alarms.raised('NOSPACE')) throw errNoSpace();
  }

  /** After entries applied: the leader raises the alarm once the store is past the quota. */
  check(): void {
    const { store, alarms, memberId, quotaBytes } = this.opts;
    if (this.raising || !this.opts.isLeader() || store.sizeBytes <= quotaBytes || alarms.has(memberId, 'NOSPACE')) return;
    this.raising = true;
    this.opts.logger.warn({ size: store.sizeBytes, quota: quotaBytes }, 'database space exceeded: raising the NOSPACE alarm');
    this.opts.raiseAlarm().then(
      () => {
        this.raising = false;
      },
      (err: unknown) => {
        this.raising = false;
        this.opts.logger.warn({ err }, 'raising the NOSPACE alarm failed; will retry after the next write');
      },
    );
  }
}

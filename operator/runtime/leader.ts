// Leader election on a coordination.k8s.io/v1 Lease, so that of several
// operator replicas exactly one runs the reconcilers. The holder renews the
// Lease every `renewMs`; a candidate takes it over when it has not seen the
// Lease change for `leaseDurationMs` (measured on its own clock, so clock skew
// between machines does not matter). Writes are optimistic (resourceVersion),
// so two candidates can never both win the same round. A leader that cannot
// renew within `renewDeadlineMs` steps down, because another replica may
// already have taken over.
import type { Logger } from 'pino';
import { isAlreadyExists, isConflict, type KubeClient, type KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import { sleep } from './informer.js';

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewMs?: number;
  renewDeadlineMs?: number;
  retryMs?: number;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Leadership was lost (not released): the process should stop acting at once. */
  onStoppedLeading(): void;
}

const microTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');

export class LeaderElector {
  private leading = false;
  private observed: { record: string; at: number } | undefined;
  private lease: Lease | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  readonly leaseDurationMs: number;
  readonly renewMs: number;
  readonly renewDeadlineMs: number;
  readonly retryMs: number;

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly opts: LeaderElectionOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewMs = opts.renewMs ?? 5_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(cb: LeaderCallbacks): void {
    this.loop ??= this.run(cb);
  }

  /** Stops campaigning and, if leading, gives the Lease up so a standby can take it at once. */
  async release(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (!this.leading || !this.lease) return;
    this.leading = false;
    try {
      const lease = structuredClone(this.lease);
      lease.spec = { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, acquireTime: null, renewTime: microTime(this.now()) };
      await this.client.update(RESOURCES.lease, lease);
      this.log.info({ lease: this.opts.name }, 'released the leader lease');
    } catch (err) {
      this.log.warn({ err }, 'could not release the leader lease (it will expire)');
    }
  }

  private async run(cb: LeaderCallbacks): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted && !this.leading) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.log.info({ identity: this.opts.identity, lease: this.opts.name }, 'became the leader');
        cb.onStartedLeading();
        break;
      }
      await sleep(this.retryMs, signal);
    }
    let lastRenew = this.now();
    while (!signal.aborted && this.leading) {
      await sleep(this.renewMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = this.now();
        continue;
      }
      if (this.now() - lastRenew >= this.renewDeadlineMs || (this.lease?.spec?.holderIdentity ?? '') !== this.opts.identity) {
        this.leading = false;
        this.log.error({ identity: this.opts.identity }, 'lost the leader lease');
        cb.onStoppedLeading();
      }
    }
  }

  /** One election round; true when we hold the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const t = this.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    try {
      const current = await this.client.get<Lease>(RESOURCES.lease, namespace, name);
      if (!current) {
        this.lease = await this.client.create<Lease>(RESOURCES.lease, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { namespace, name },
          spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: microTime(t), renewTime: microTime(t), leaseTransitions: 0 },
        });
        return true;
      }
      this.lease = current;
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const record = `${holder}|${spec.renewTime ?? ''}|${spec.leaseDurationSeconds ?? ''}`;
      if (this.observed?.record !== record) this.observed = { record, at: t };
      const heldByOther = holder !== '' && holder !== identity;
      const otherDurationMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (heldByOther && t - this.observed.at < otherDurationMs) return false;
      const next = structuredClone(current);
      next.spec = {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: microTime(t),
        acquireTime: holder === identity ? (spec.acquireTime ?? microTime(t)) : microTime(t),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
      };
      this.lease = await this.client.update<Lease>(RESOURCES.lease, next);
      return true;
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) return false;
      this.log.warn({ err }, 'leader election round failed');
      return false;
    }
  }
}

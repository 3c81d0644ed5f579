import type { Logger } from 'pino';

/**
 * etcd's automatic compaction (--auto-compaction-mode and
 * --auto-compaction-retention), with etcd's semantics:
 *
 * - periodic: keep `retentionMs` of history. The planner samples the head
 *   revision every tenth of the window (at most every 6 minutes) and, once a
 *   window has passed since the last success, compacts to the revision it
 *   sampled one window ago; after the first compaction it does so every
 *   window, or every hour when the window is longer.
 * - revision: every 5 minutes, compact to `head - retention`.
 *
 * Only the leader compacts (etcd pauses the compactor on followers), but
 * every member samples, so a new leader knows the revisions of the last
 * window. The planners are pure: the driver below owns the timer.
 */
export type AutoCompactionPolicy = { mode: 'periodic'; retentionMs: number } | { mode: 'revision'; retention: number };

const HOUR_MS = 3_600_000;
/** etcd's fixed interval of the revision compactor. */
export const REVISION_MODE_INTERVAL_MS = 5 * 60_000;

interface Planner {
  /** How often step() must be called. */
  readonly intervalMs: number;
  /** One pass: the revision to compact to now, if any. */
  step(nowMs: number, head: number, leading: boolean): number | undefined;
  /** The compaction of step()'s revision committed (or was already done). */
  succeeded(nowMs: number, revision: number): void;
}

export class PeriodicPlanner implements Planner {
  readonly intervalMs: number;
  private readonly samplesKept: number;
  /** Head revisions sampled every intervalMs, oldest first; the first is one window old once full. */
  private readonly samples: number[] = [];
  private lastSuccessMs: number;
  private waitMs: number;

  /** `startHead`: the head revision at `startMs`, the first sample. */
  constructor(
    private readonly retentionMs: number,
    startMs: number,
    startHead: number,
  ) {
    const cycle = Math.min(retentionMs, HOUR_MS);
    this.intervalMs = cycle / 10;
    this.samplesKept = Math.floor(retentionMs / this.intervalMs) + 1;
    this.lastSuccessMs = startMs;
    this.waitMs = retentionMs;
    this.samples.push(startHead);
  }

  step(nowMs: number, head: number, leading: boolean): number | undefined {
    this.samples.push(head);
    if (this.samples.length > this.samplesKept) this.samples.shift();
    if (!leading || nowMs - this.lastSuccessMs < this.waitMs) return undefined;
    const oldest = this.samples[0]!;
    return oldest > 0 ? oldest : undefined;
  }

  succeeded(nowMs: number): void {
    this.lastSuccessMs = nowMs;
    // The first compaction waits a whole window; later ones come every cycle.
    this.waitMs = Math.min(this.retentionMs, HOUR_MS);
  }
}

export class RevisionPlanner implements Planner {
  private last = 0;

  constructor(
    private readonly retention: number,
    readonly intervalMs = REVISION_MODE_INTERVAL_MS,
  ) {}

  step(_nowMs: number, head: number, leading: boolean): number | undefined {
    if (!leading) return undefined;
    const target = head - this.retention;
    return target > 0 && target !== this.last ? target : undefined;
  }

  succeeded(_nowMs: number, revision: number): void {
    this.last = revision;
  }
}

export function plannerFor(policy: AutoCompactionPolicy, nowMs: number, head: number): Planner {
  return policy.mode === 'periodic' ? new PeriodicPlanner(policy.retentionMs, nowMs, head) : new RevisionPlanner(policy.retention);
}

export interface AutoCompactorOptions {
  planner: Planner;
  head: () => number;
  isLeader: () => boolean;
  compact: (revision: number) => Promise<unknown>;
  logger: Logger;
  now?: () => number;
}

/** Drives a planner on a timer and proposes its compactions; one in flight at a time. */
export class AutoCompactor {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly opts: AutoCompactorOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.pass(), this.opts.planner.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass of the planner: sample, and compact when it says so. */
  private async pass(): Promise<void> {
    if (this.busy) return;
    const now = this.opts.now ?? Date.now;
    const { planner, logger } = this.opts;
    const revision = planner.step(now(), this.opts.head(), this.opts.isLeader());
    if (revision === undefined) return;
    this.busy = true;
    try {
      await this.opts.compact(revision);
      planner.succeeded(now(), revision);
      logger.info({ revision }, 'auto compaction done');
    } catch (err) {
      if (err instanceof Error && /required revision has been compacted/.test(err.message)) {
        planner.succeeded(now(), revision);
      } else {
        logger.warn({ err, revision }, 'auto compaction failed; will retry on the next pass');
      }
    } finally {
      this.busy = false;
    }
  }
}

/**
 * Reads the two flags the way etcd 3.4 does: periodic retention is a Go
 * duration, or a bare number of hours; revision retention is a count. A
 * retention of 0 turns automatic compaction off.
 */
export function parseAutoCompaction(
  mode: string,
  retention: string,
  parseDurationMs: (text: string) => number,
): AutoCompactionPolicy | undefined {
  if (mode !== 'periodic' && mode !== 'revision') {
    throw new Error(`unknown auto compaction mode "${mode}"; use "periodic" or "revision"`);
  }
  const text = retention.trim();
  if (mode === 'revision') {
    if (!/^\d+$/.test(text)) throw new Error(`revision retention must be a whole number of revisions, not "${retention}"`);
    const count = Number(text);
    return count === 0 ? undefined : { mode, retention: count };
  }
  const ms = /^\d+$/.test(text) ? Number(text) * HOUR_MS : parseDurationMs(text);
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`periodic retention must be a duration (1h, 30m) or a number of hours, not "${retention}"`);
  return ms === 0 ? undefined : { mode, retentionMs: ms };
}

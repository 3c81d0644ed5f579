// When a backup schedule fires. Cron expressions are parsed by croner (5
// fields or an @-macro, read in an optional IANA time zone). After any
// downtime the schedule fires once for the newest missed time and never
// replays the backlog.
import { Cron } from 'croner';

export class ScheduleError extends Error {
  constructor(
    readonly field: 'schedule' | 'timeZone',
    message: string,
  ) {
    super(message);
    this.name = 'ScheduleError';
  }
}

const MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** A parsed schedule; throws ScheduleError naming the field when the expression or zone is not valid. */
export function parseSchedule(expression: string, timeZone?: string): Cron {
  const expr = expression.trim();
  if (expr.startsWith('@')) {
    if (!MACROS.has(expr)) throw new ScheduleError('schedule', `spec.schedule: unknown macro ${JSON.stringify(expr)} (use one of ${[...MACROS].join(', ')})`);
  } else if (expr.split(/\s+/).length !== 5) {
    throw new ScheduleError('schedule', `spec.schedule: ${JSON.stringify(expr)} must have 5 fields (minute hour day-of-month month day-of-week)`);
  }
  let cron: Cron;
  try {
    cron = new Cron(expr, { paused: true, ...(timeZone && { timezone: timeZone }) });
  } catch (err) {
    throw new ScheduleError('schedule', `spec.schedule: ${(err as Error).message}`);
  }
  try {
    cron.nextRun(new Date(0));
  } catch (err) {
    throw new ScheduleError('timeZone', `spec.timeZone: ${JSON.stringify(timeZone)} is not an IANA time zone (${(err as Error).message.split('.')[0]})`);
  }
  return cron;
}

export interface ScheduleDecision {
  /** The scheduled time to take a backup for now, if one is due. */
  due?: Date;
  /** The next scheduled time after `due` (or after the last run when nothing is due). */
  next?: Date;
}

/**
 * Whether a backup is due: the newest scheduled time in (last, now]. `last`
 * is the last time the schedule fired, or its creation time when it never
 * did. However many times were missed, at most one is due.
 */
export function decide(cron: Cron, last: Date, now: Date): ScheduleDecision {
  let first = cron.nextRun(last);
  if (!first || first > now) return first ? { next: first } : {};
  // Walk forward to the newest missed time; jump ahead for long outages.
  let due = first;
  for (let i = 0; i < 10_000; i++) {
    const n = cron.nextRun(due);
    if (!n || n > now) return { due, ...(n && { next: n }) };
    due = n;
  }
  first = cron.nextRun(new Date(now.getTime() - 1));
  return { due, ...(first && { next: first }) };
}

/** The time between two consecutive runs after `from` (for staleness: a backup older than twice this is stale). */
export function intervalMs(cron: Cron, from: Date): number | undefined {
  const [a, b] = cron.nextRuns(2, from);
  return a && b ? b.getTime() - a.getTime() : undefined;
}

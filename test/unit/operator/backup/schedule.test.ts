import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, intervalMs, parseSchedule, ScheduleError } from '../../../../operator/backup/schedule.js';
import { parseDuration, toPrune, type RetainedBackup } from '../../../../operator/backup/retention.js';

const at = (s: string): Date => new Date(s);

test('a due run is the newest missed time: one catch-up after any outage, never a backlog', () => {
  const cron = parseSchedule('*/5 * * * *');
  assert.deepEqual(decide(cron, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:03:00Z')), { next: at('2026-01-01T00:05:00Z') }, 'nothing due before the first run');
  const d = decide(cron, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:05:30Z'));
  assert.deepEqual(d, { due: at('2026-01-01T00:05:00Z'), next: at('2026-01-01T00:10:00Z') });
  // Down for three days: 864 runs missed, one is due, and the next is after now.
  const long = decide(cron, at('2026-01-01T00:00:00Z'), at('2026-01-04T00:01:00Z'));
  assert.deepEqual(long, { due: at('2026-01-04T00:00:00Z'), next: at('2026-01-04T00:05:00Z') });
});

test('schedules are read in their time zone; macros work; bad expressions and zones name their field', () => {
  const berlin = parseSchedule('0 3 * * *', 'Europe/Berlin');
  assert.deepEqual(decide(berlin, at('2026-01-01T00:00:00Z'), at('2026-01-01T01:00:00Z')), { next: at('2026-01-01T02:00:00Z') }, '03:00 in Berlin is 02:00 UTC in winter');
  assert.deepEqual(decide(berlin, at('2026-07-01T00:00:00Z'), at('2026-07-01T00:30:00Z')), { next: at('2026-07-01T01:00:00Z') }, 'and 01:00 UTC in summer');
  assert.equal(intervalMs(parseSchedule('@daily'), at('2026-01-01T00:00:00Z')), 86_400_000);
  assert.equal(intervalMs(parseSchedule('*/5 * * * *'), at('2026-01-01T00:00:00Z')), 300_000);
  const bad = (expr: string, tz: string | undefined, field: string, re: RegExp): void => {
    assert.throws(() => parseSchedule(expr, tz), (e: unknown) => e instanceof ScheduleError && e.field === field && re.test(e.message));
  };
  bad('61 * * * *', undefined, 'schedule', /spec\.schedule: .*minute/);
  bad('* * * * * *', undefined, 'schedule', /must have 5 fields/);
  bad('@fortnightly', undefined, 'schedule', /unknown macro/);
  bad('0 3 * * *', 'Mars/Olympus', 'timeZone', /spec\.timeZone: "Mars\/Olympus" is not an IANA time zone/);
});

const b = (name: string, phase: string, time: string, pinned = false): RetainedBackup => ({ name, phase, time: at(time), pinned });

test('retention: keepLast counts Completed only, newest first; pinned and unfinished ones stay', () => {
  const backups = [
    b('b1', 'Completed', '2026-01-01T01:00:00Z'),
    b('b2', 'Completed', '2026-01-01T02:00:00Z', true),
    b('b3', 'Failed', '2026-01-01T03:00:00Z'),
    b('b4', 'Completed', '2026-01-01T04:00:00Z'),
    b('b5', 'Completed', '2026-01-01T05:00:00Z'),
    b('b6', 'Running', '2026-01-01T06:00:00Z'),
  ];
  assert.deepEqual(toPrune(backups, { keepLast: 2 }, at('2026-01-01T07:00:00Z')), ['b1'], 'b5 and b4 kept; b2 pinned; the failed one does not count');
  assert.deepEqual(toPrune(backups, { keepLast: 1 }, at('2026-01-01T07:00:00Z')), ['b4', 'b1']);
});

test('retention: maxAge prunes old Completed backups but never the newest one; old failures beyond a few go', () => {
  const backups = [b('old1', 'Completed', '2026-01-01T00:00:00Z'), b('old2', 'Completed', '2026-01-02T00:00:00Z')];
  assert.deepEqual(toPrune(backups, { maxAgeMs: parseDuration('24h') }, at('2026-01-10T00:00:00Z')), ['old1'], 'the newest Completed backup survives however old');
  assert.deepEqual(toPrune(backups, { keepLast: 5, maxAgeMs: parseDuration('168h') }, at('2026-01-05T00:00:00Z')), [], 'both limits apply; neither says prune');
  const failures = ['f1', 'f2', 'f3', 'f4', 'f5'].map((n, i) => b(n, 'Failed', `2026-01-0${i + 1}T00:00:00Z`));
  assert.deepEqual(toPrune(failures, { keepLast: 3 }, at('2026-01-10T00:00:00Z')), ['f2', 'f1']);
});

test('durations', () => {
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('168h'), 604_800_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.throws(() => parseDuration('a week'), /retention\.maxAge/);
  assert.throws(() => parseDuration('5h junk'), /retention\.maxAge/);
});

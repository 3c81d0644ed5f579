import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PeriodicPlanner, RevisionPlanner, parseAutoCompaction } from '../../../node/server/auto-compaction.js';
import { ConfigError, parseGoDurationMs, parseNodeConfig } from '../../../node/config.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

const START_HEAD = 1000;

/** Runs a planner the way the driver does: one step per interval, the head growing by 100 each step from START_HEAD. */
function run(planner: PeriodicPlanner | RevisionPlanner, untilMs: number, leading = (_t: number) => true): { at: number; revision: number }[] {
  const done: { at: number; revision: number }[] = [];
  for (let t = planner.intervalMs, head = START_HEAD + 100; t <= untilMs; t += planner.intervalMs, head += 100) {
    const rev = planner.step(t, head, leading(t));
    if (rev !== undefined) {
      planner.succeeded(t, rev);
      done.push({ at: t, revision: rev });
    }
  }
  return done;
}

describe('periodic auto compaction (etcd 3.4 semantics)', () => {
  test('a 1h window: samples every 6 min, first compaction after one window to the revision seen one window earlier, then hourly', () => {
    const p = new PeriodicPlanner(HOUR, 0, START_HEAD);
    assert.equal(p.intervalMs, 6 * MIN);
    const done = run(p, 3 * HOUR);
    assert.deepEqual(
      done.map((d) => d.at / MIN),
      [60, 120, 180],
    );
    // Each time, the head sampled exactly one window (10 steps) earlier.
    assert.deepEqual(
      done.map((d) => d.revision - START_HEAD),
      [0, 1000, 2000],
    );
  });

  test('a 10h window keeps 10h of history but compacts every hour once the first window passed', () => {
    const p = new PeriodicPlanner(10 * HOUR, 0, START_HEAD);
    assert.equal(p.intervalMs, 6 * MIN);
    const done = run(p, 13 * HOUR);
    assert.deepEqual(
      done.map((d) => d.at / HOUR),
      [10, 11, 12, 13],
    );
    for (const d of done) {
      const headNow = START_HEAD + (d.at / (6 * MIN)) * 100;
      assert.equal(headNow - d.revision, 100 * 100, 'always the revision from 10h (100 samples) ago');
    }
  });

  test('a follower samples but never compacts; once it leads it compacts to the revision of one window ago at once', () => {
    const p = new PeriodicPlanner(HOUR, 0, START_HEAD);
    const done = run(p, 2 * HOUR, (t) => t > 90 * MIN);
    assert.equal(done[0]?.at, 96 * MIN);
    assert.equal(done[0]?.revision, START_HEAD + 600, 'the head at 36 min');
  });

  test('a failed compaction is retried on the next pass', () => {
    const p = new PeriodicPlanner(HOUR, 0, START_HEAD);
    let first: number | undefined;
    for (let t = 6 * MIN, head = START_HEAD + 100; t <= 60 * MIN; t += 6 * MIN, head += 100) first = p.step(t, head, true);
    assert.equal(first, START_HEAD);
    assert.equal(p.step(66 * MIN, START_HEAD + 1100, true), START_HEAD + 100, 'not marked succeeded, so it tries again a step later');
  });
});

describe('revision auto compaction', () => {
  test('compacts to head - retention each pass, skipping a target already done or below 1', () => {
    const r = new RevisionPlanner(1000);
    assert.equal(r.intervalMs, 5 * MIN);
    assert.equal(r.step(0, 900, true), undefined);
    assert.equal(r.step(0, 5000, false), undefined, 'followers do not compact');
    assert.equal(r.step(0, 5000, true), 4000);
    r.succeeded(0, 4000);
    assert.equal(r.step(0, 5000, true), undefined, 'nothing new since');
    assert.equal(r.step(0, 5001, true), 4001);
  });
});

describe('--auto-compaction-mode and --auto-compaction-retention', () => {
  const dur = (t: string): number => parseGoDurationMs(t, 'test');
  test('periodic takes a duration or a bare number of hours; 0 is off', () => {
    assert.deepEqual(parseAutoCompaction('periodic', '1', dur), { mode: 'periodic', retentionMs: HOUR });
    assert.deepEqual(parseAutoCompaction('periodic', '30m', dur), { mode: 'periodic', retentionMs: 30 * MIN });
    assert.equal(parseAutoCompaction('periodic', '0', dur), undefined);
  });
  test('revision takes a count', () => {
    assert.deepEqual(parseAutoCompaction('revision', '1000', dur), { mode: 'revision', retention: 1000 });
    assert.throws(() => parseAutoCompaction('revision', '1h', dur), /whole number of revisions/);
    assert.throws(() => parseAutoCompaction('hourly', '1', dur), /unknown auto compaction mode "hourly"/);
  });
  test('the node config reads the flags and the ETCD_ variables, off by default, errors naming the flag', () => {
    assert.equal(parseNodeConfig([], {}).autoCompaction, undefined);
    assert.deepEqual(parseNodeConfig(['--auto-compaction-retention=2h'], {}).autoCompaction, { mode: 'periodic', retentionMs: 2 * HOUR });
    assert.deepEqual(
      parseNodeConfig([], { ETCD_AUTO_COMPACTION_MODE: 'revision', ETCD_AUTO_COMPACTION_RETENTION: '500' }).autoCompaction,
      { mode: 'revision', retention: 500 },
    );
    assert.throws(
      () => parseNodeConfig(['--auto-compaction-mode=revision', '--auto-compaction-retention=1h'], {}),
      (e: unknown) => e instanceof ConfigError && /--auto-compaction-retention: revision retention/.test(e.message),
    );
    assert.throws(() => parseNodeConfig(['--auto-compaction-retention=soon'], {}), /--auto-compaction-retention: "soon" is not a duration/);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../../node/api/fast-histogram.js';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function body(text: string): string {
  return text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
}

test('FastHistogram exposes what prom-client Histogram exposes for the same observations', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new FastHistogram('h_seconds', 'help', BOUNDS, ours);
  const reference = new Histogram({ name: 'h_seconds', help: 'help', labelNames: ['m'], buckets: BOUNDS, registers: [theirs] });
  const a = fast.child({ m: 'a' });
  const b = fast.child({ m: 'b' });
  fast.child({ m: 'never' });
  // Values on, between, below and above the bounds.
  const observations: Array<['a' | 'b', number]> = [['a', 0], ['a', 0.005], ['a', 0.0051], ['b', 0.3], ['a', 10], ['b', 11], ['a', 2.5], ['b', 0.001]];
  for (const [m, v] of observations) {
    (m === 'a' ? a : b).observe(v);
    reference.observe({ m }, v);
  }
  assert.equal(body(await ours.metrics()), body(await theirs.metrics()));
  assert.match(await ours.metrics(), /# TYPE h_seconds histogram/);
  assert.doesNotMatch(await ours.metrics(), /never/, 'a label set with no observation has no series');
});

test('FastHistogram reset zeroes every series and rejects unordered bounds', async () => {
  const reg = new Registry();
  const h = new FastHistogram('r_seconds', 'help', [1, 2], reg);
  const c = h.child({ m: 'x' });
  c.observe(1.5);
  assert.match(await reg.metrics(), /r_seconds_count\{m="x"\} 1/);
  reg.resetMetrics();
  assert.doesNotMatch(await reg.metrics(), /r_seconds_count/);
  c.observe(3);
  assert.match(await reg.metrics(), /r_seconds_bucket\{le="2",m="x"\} 0/);
  assert.match(await reg.metrics(), /r_seconds_bucket\{le="\+Inf",m="x"\} 1/);
  assert.throws(() => new FastHistogram('bad', 'help', [2, 1], new Registry()), /must increase/);
});

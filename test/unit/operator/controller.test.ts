import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Controller } from '../../../operator/runtime/controller.js';
import { OperatorMetrics } from '../../../operator/runtime/metrics.js';
import { WorkQueue } from '../../../operator/runtime/workqueue.js';

async function counts(metrics: OperatorMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.reconcileTotal.get()).values) out[String(v.labels.result)] = v.value;
  return out;
}

test('controller: reconciles that ask for a later look count as successes, thrown errors as errors and are retried', async () => {
  const queue = new WorkQueue({ baseDelayMs: 5, maxDelayMs: 5 });
  const metrics = new OperatorMetrics(false);
  const seen: string[] = [];
  let failures = 1;
  const controller = new Controller(
    queue,
    async (key) => {
      seen.push(key);
      if (key === 'ns/flaky' && failures-- > 0) throw new Error('apiserver unavailable');
      return key === 'ns/watched' ? { requeueAfterMs: 60_000 } : undefined;
    },
    pino({ level: 'silent' }),
    metrics,
    1,
  );
  controller.start();
  queue.add('ns/watched');
  queue.add('ns/flaky');
  const deadline = Date.now() + 5000;
  while (seen.filter((k) => k === 'ns/flaky').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await controller.stop();
  assert.deepEqual(await counts(metrics), { success: 2, error: 1 });
  assert.equal(seen.filter((k) => k === 'ns/flaky').length, 2, 'the failed key was retried after its back-off');
  assert.equal(seen.filter((k) => k === 'ns/watched').length, 1, 'the later look is not due yet');
});

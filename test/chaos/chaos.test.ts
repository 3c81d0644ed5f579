// The bounded chaos run of `npm test`: 40 seconds of faults of every kind
// (faults.ts: kill -9, SIGSTOP, partitions, loss and delay between members,
// stalling and failing disks, torn WAL tails, membership changes, MoveLeader)
// and compaction against three real member processes under six concurrent
// clients, two of each traffic profile (profiles.ts: kv, lease, kubernetes),
// two resuming watchers and two informers, with a fixed seed. Each
// profile's history must be linearizable against its model, the watch
// streams must keep etcd's watch guarantees (the informers' also continue
// their lists exactly) and the members must agree at the end. A failing run keeps
// its results folder (named in the failure) and prints its seed. A second,
// short run with deliberately stale reads shows the checks can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChaos } from './harness.js';

const SEED = 14;

test(`chaos: 40 s of faults against 3 member processes, seed ${SEED}, has no violation`, { timeout: 150_000 }, async (t) => {
  const resultsDir = mkdtempSync(join(tmpdir(), `kvorum-chaos-${SEED}-`));
  const result = await runChaos({ durationMs: 40_000, seed: SEED, resultsDir });
  t.diagnostic(`${result.operations} operations, ${result.unknown} unknown outcome; faults ${JSON.stringify(result.faultsByKind)}; profiles ${JSON.stringify(result.profiles)}`);
  assert.deepEqual(result.violations, [], `seed ${SEED}: violations; results in ${resultsDir}`);
  assert.ok(result.faults >= 3, `only ${result.faults} faults were injected`);
  assert.ok(result.acknowledged >= 300, `only ${result.acknowledged} operations were acknowledged; results in ${resultsDir}`);
  for (const profile of ['kv', 'lease', 'kubernetes'] as const) {
    const p = result.profiles[profile];
    assert.ok(p !== undefined && p.result === 'ok', `the ${profile} profile was not checked ok: ${JSON.stringify(p)}`);
    assert.ok(p.acknowledged >= 60, `only ${p.acknowledged} ${profile} operations were acknowledged; results in ${resultsDir}`);
  }
  assert.ok(result.informerLists >= 2, `only ${result.informerLists} informer lists were checked against their watches`);
  rmSync(resultsDir, { recursive: true, force: true });
});

test('chaos: clients that read stale local state as if linearizable are caught', { timeout: 90_000 }, async () => {
  const resultsDir = mkdtempSync(join(tmpdir(), 'kvorum-chaos-stale-'));
  const result = await runChaos({ durationMs: 12_000, seed: SEED, resultsDir, faults: false, staleReads: true, keys: 2, profiles: ['kv'] });
  assert.equal(result.linearizability.result, 'illegal', `stale reads went unnoticed in ${result.operations} operations; results in ${resultsDir}`);
  assert.match(result.violations.join('\n'), /^linearizability: .*not linearizable/);
  rmSync(resultsDir, { recursive: true, force: true });
});

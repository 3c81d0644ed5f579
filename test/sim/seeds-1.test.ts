// Randomized simulation runs with faults, seeds 1..250 (half of the 500 that
// `npm test` runs; split in two files so the runner can use both cores).
// Each run is checked for the safety invariants, liveness after healing and
// linearizability of its client history. `npm run sim` runs more seeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomRun } from './random-run.js';

const FIRST = 1;
const COUNT = 250;

test(`randomized runs with faults, seeds ${FIRST}..${FIRST + COUNT - 1}`, () => {
  for (let seed = FIRST; seed < FIRST + COUNT; seed++) {
    const r = randomRun(seed);
    const why = [...r.violations, r.linearizability?.result === 'unknown' ? `linearizability undecided: ${r.linearizability.explanation}` : ''].filter(Boolean);
    assert.ok(r.ok, `seed ${seed} (${r.config}) failed; reproduce with: npm run sim -- --seeds 1 --seed ${seed} --trace\n${why.join('\n')}\n${r.trace.split('\n').slice(-60).join('\n')}`);
    assert.ok(r.operations > 0, `seed ${seed} checked no client operations`);
  }
});

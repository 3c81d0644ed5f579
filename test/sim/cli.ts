// `npm run sim -- [--seeds N] [--seed S] [--trace] [--chaos T]`
// Runs N randomized simulations starting at seed S (default 1) and reports
// each failure with the command that reproduces it. With --trace, a failing
// (or single) run prints its whole event trace.
import { parseArgs } from 'node:util';
import { randomRun } from './random-run.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    trace: { type: 'boolean', default: false },
    chaos: { type: 'string' },
  },
});

const first = Number(values.seed);
const count = Number(values.seeds);
if (!Number.isInteger(first) || !Number.isInteger(count) || count < 1) {
  process.stderr.write('usage: npm run sim -- [--seeds N] [--seed S] [--trace] [--chaos T]\n');
  process.exit(2);
}
const chaosTime = values.chaos === undefined ? undefined : Number(values.chaos);

let failures = 0;
let operations = 0;
const started = Date.now();
for (let seed = first; seed < first + count; seed++) {
  const result = randomRun(seed, { fullTrace: values.trace, chaosTime });
  operations += result.operations;
  if (!result.ok) {
    failures++;
    process.stdout.write(`FAIL seed ${seed} (${result.config})\n`);
    for (const v of result.violations) process.stdout.write(`  ${v}\n`);
    if (result.linearizability?.result === 'unknown') process.stdout.write(`  linearizability undecided: ${result.linearizability.explanation}\n`);
    process.stdout.write(`  reproduce: npm run sim -- --seeds 1 --seed ${seed} --trace\n`);
  }
  if (values.trace && (count === 1 || !result.ok)) process.stdout.write(`${result.trace}\n`);
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
process.stdout.write(`${count - failures} passed, ${failures} failed (seeds ${first}..${first + count - 1}, ${operations} client operations checked, ${seconds}s)\n`);
process.exit(failures === 0 ? 0 : 1);

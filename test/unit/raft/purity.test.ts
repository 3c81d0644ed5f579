// The Raft core must stay a pure state machine: no I/O, timers, clocks or
// ambient randomness, so the simulator can replay any run from its seed.
// (ESLint enforces the same rules while editing; this test makes it part of
// the contract.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const RAFT_DIR = join(process.cwd(), 'node', 'raft');
const FORBIDDEN: [RegExp, string][] = [
  [/from\s+['"](node:)?(fs|net|dgram|http|https|http2|tls|child_process|timers|worker_threads|os)(\/[^'"]*)?['"]/, 'an I/O or timer module'],
  [/\bMath\.random\b/, 'Math.random'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/, 'a timer'],
  [/\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/, 'a clock'],
  [/\bprocess\./, 'the process object'],
];

test('the Raft core imports no I/O, timers, clocks or Math.random', () => {
  const files = readdirSync(RAFT_DIR).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 5, `expected the core's sources in ${RAFT_DIR}`);
  for (const file of files) {
    const source = readFileSync(join(RAFT_DIR, file), 'utf8');
    for (const [pattern, what] of FORBIDDEN) {
      assert.doesNotMatch(source, pattern, `node/raft/${file} uses ${what}`);
    }
  }
});

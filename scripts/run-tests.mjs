#!/usr/bin/env node
// Runs every compiled test file under dist/test with Node's built-in runner.
// Node 20's runner does not expand globs, so the files are listed here.
// Usage: node scripts/run-tests.mjs [path-fragment ...] to run a subset.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      // End-to-end suites need a control plane and run through `npm run test:e2e`.
      if (path === join('dist', 'test', 'e2e')) continue;
      collect(path, out);
    } else if (name.endsWith('.test.js')) {
      out.push(path);
    }
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect(join('dist', 'test'), [])
  .filter((f) => filters.length === 0 || filters.some((frag) => f.includes(frag)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/test');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);

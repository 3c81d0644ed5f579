#!/usr/bin/env node
// Runs every compiled test file under dist/test with Node's built-in runner.
// Node 20's runner does not expand globs, so the files are listed here.
// Usage: node scripts/run-tests.mjs [path-fragment ...] to run a subset.
//
// The process integration tests drive etcdctl and compare Kvorum with etcd;
// before any of them runs, scripts/etcd-tools.sh makes sure both can be run
// (on PATH, from Debian's packages, or built from etcd's Go modules) and
// their directory goes on the tests' PATH. When it cannot, nothing runs and
// the exit code is 1: a missing tool fails the run instead of skipping tests.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

const INTEGRATION = join('dist', 'test', 'integration');

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      // End-to-end suites need a control plane and run through `npm run test:e2e`.
      if (path === join('dist', 'test', 'e2e')) continue;
      // The etcd mixin test needs promtool and runs through `npm run test:mixin`.
      if (path === join('dist', 'test', 'mixin')) continue;
      collect(path, out);
    } else if (name.endsWith('.test.js') && existsSync(sourceOf(path))) {
      // (A compiled test whose source was renamed or deleted is stale output, not a test.)
      out.push(path);
    }
  }
  return out;
}

/** dist/test/a/b.test.js -> test/a/b.test.ts */
function sourceOf(compiled) {
  return compiled.slice('dist'.length + 1).replace(/\.js$/, '.ts');
}

/** The PATH for the tests, with etcd's and etcdctl's directories added when they are not on it already. */
function pathWithEtcdTools(env) {
  const tools = spawnSync('bash', [join('scripts', 'etcd-tools.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env, timeout: 30 * 60_000 });
  if (tools.status !== 0) {
    console.error(
      `run-tests: the process integration tests (${INTEGRATION.replace(/^dist\//, '')}/) need etcd and etcdctl, and scripts/etcd-tools.sh could not provide them (see above). No tests were run.`,
    );
    process.exit(1);
  }
  const path = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const line of tools.stdout.split('\n')) {
    const m = /^(etcd|etcdctl)=(.+)$/.exec(line.trim());
    if (m && !path.includes(dirname(m[2]))) path.unshift(dirname(m[2]));
  }
  return path.join(delimiter);
}

const filters = process.argv.slice(2);
const files = collect(join('dist', 'test'), [])
  .filter((f) => filters.length === 0 || filters.some((frag) => f.includes(frag)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/test');
  process.exit(1);
}
const env = { ...process.env };
if (files.some((f) => f.startsWith(INTEGRATION))) env.PATH = pathWithEtcdTools(env);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(result.status ?? 1);

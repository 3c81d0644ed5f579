#!/usr/bin/env node
// `npm run test:k8s-storage`: kube-apiserver's own etcd3 storage tests
// (k8s.io/apiserver/pkg/storage/etcd3, pinned with test/e2e/tools/go.mod),
// each against a fresh `kvorum node` process (test/k8s-storage/). Prints
// how many tests ran, passed, failed and were skipped (with the reasons in
// test/k8s-storage/skips.txt); exits 1 if any failed.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync('bash', [join(repo, 'test', 'k8s-storage', 'build.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
const binary = /^etcd3-storage-tests=(.+)$/m.exec(build.stdout ?? '')?.[1];
if (build.status !== 0 || !binary) {
  process.stderr.write('k8s-storage: test/k8s-storage/build.sh did not build the test binary (see above)\n');
  process.exit(1);
}
const skips = readFileSync(join(repo, 'test', 'k8s-storage', 'skips.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() && !l.startsWith('#'))
  .map((l) => {
    const [name, ...why] = l.trim().split(/\s+/);
    return { name, why: why.join(' ') };
  });
const args = ['-test.v', '-test.timeout=30m', '-test.count=1'];
if (skips.length > 0) args.push(`-test.skip=^(${skips.map((s) => s.name).join('|')})$`);
const filter = process.argv[2];
if (filter) args.push(`-test.run=${filter}`);

const child = spawn(binary, args, { cwd: dirname(binary), env: { ...process.env, KVORUM_REPO: repo }, stdio: ['ignore', 'pipe', 'pipe'] });
const results = new Map();
let buf = '';
const onData = (c) => {
  process.stdout.write(c);
  buf += c.toString('utf8');
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    // Top-level tests only: subtests are indented and named Parent/child.
    const m = /^--- (PASS|FAIL|SKIP): (\S+) /.exec(line);
    if (m && !m[2].includes('/')) results.set(m[2], m[1]);
  }
};
child.stdout.on('data', onData);
child.stderr.on('data', onData);
child.on('close', (code) => {
  const by = (s) => [...results].filter(([, r]) => r === s).map(([n]) => n);
  const failed = by('FAIL');
  process.stdout.write(
    `\nk8s-storage: ${results.size} tests run against Kvorum: ${by('PASS').length} passed, ${failed.length} failed, ${by('SKIP').length} skipped by the tests themselves; ${skips.length} not run (test/k8s-storage/skips.txt)\n`,
  );
  for (const s of skips) process.stdout.write(`  not run: ${s.name}: ${s.why}\n`);
  for (const f of failed) process.stdout.write(`  FAILED: ${f}\n`);
  process.exit(failed.length > 0 || code !== 0 ? 1 : 0);
});

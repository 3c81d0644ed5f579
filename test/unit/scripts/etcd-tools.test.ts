// scripts/etcd-tools.sh and the test runner on a machine without etcd: each
// way of getting etcd and etcdctl (PATH, the tools cache, Debian's packages,
// a Go build) is tried in order with stand-in commands, and when none works
// the script and `npm test`'s runner stop with a clear message. Nothing here
// installs or builds anything real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve('scripts/etcd-tools.sh');
const VERSION = /go\.etcd\.io\/etcd\/server\/v3 (v\S+)/.exec(readFileSync('scripts/etcd-tools/go.mod', 'utf8'))![1]!;
const BASH = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p))!;

/** A fake command: a shell script with the given body. */
function fake(dir: string, name: string, body: string): void {
  writeFileSync(join(dir, name), `#!${BASH}\n${body}\n`);
  chmodSync(join(dir, name), 0o755);
}

/** A machine with nothing on PATH but what the test puts in bin/ (and bash itself). */
function machine(): { root: string; bin: string; cache: string; env: NodeJS.ProcessEnv; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'kvorum-etcd-tools-'));
  const bin = join(root, 'bin');
  const cache = join(root, 'cache');
  mkdirSync(bin);
  symlinkSync(BASH, join(bin, 'bash'));
  return {
    root,
    bin,
    cache,
    env: { PATH: bin, HOME: root, KVORUM_TOOLS_DIR: cache },
    done: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Puts a real system command (mkdir, chmod, ...) on the fake machine's PATH. */
function link(bin: string, tool: string): void {
  symlinkSync(['/bin', '/usr/bin'].map((d) => join(d, tool)).find((p) => existsSync(p))!, join(bin, tool));
}

const FAKE_ETCD = 'echo "etcd Version: 3.4.99"';
const FAKE_ETCDCTL = 'echo "etcdctl version: 3.4.99"';

function run(env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(BASH, [SCRIPT], { env, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('etcd and etcdctl on PATH are used as they are', () => {
  const m = machine();
  try {
    fake(m.bin, 'etcd', FAKE_ETCD);
    fake(m.bin, 'etcdctl', FAKE_ETCDCTL);
    const r = run({ ...m.env, KVORUM_NO_APT: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `etcd=${join(m.bin, 'etcd')}\netcdctl=${join(m.bin, 'etcdctl')}\n`);
  } finally {
    m.done();
  }
});

test('a copy built earlier into the tools cache is used without building again', () => {
  const m = machine();
  try {
    const built = join(m.cache, `etcd-${VERSION}`);
    mkdirSync(built, { recursive: true });
    fake(built, 'etcd', FAKE_ETCD);
    fake(built, 'etcdctl', FAKE_ETCDCTL);
    fake(m.bin, 'go', 'echo "go must not run" >&2; exit 3');
    const r = run({ ...m.env, KVORUM_NO_APT: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `etcd=${join(built, 'etcd')}\netcdctl=${join(built, 'etcdctl')}\n`);
  } finally {
    m.done();
  }
});

test('with apt-get and the right to install, Debian’s etcd-server and etcd-client are installed', { skip: process.getuid?.() !== 0 && 'needs root: the script only installs packages as root or with passwordless sudo' }, () => {
  const m = machine();
  try {
    const calls = join(m.root, 'apt-calls');
    link(m.bin, 'chmod');
    fake(
      m.bin,
      'apt-get',
      [
        `echo "$*" >> ${calls}`,
        'if [ "$1" = install ]; then',
        `  printf '#!${BASH}\\n${FAKE_ETCD}\\n' > ${join(m.bin, 'etcd')}`,
        `  printf '#!${BASH}\\n${FAKE_ETCDCTL}\\n' > ${join(m.bin, 'etcdctl')}`,
        `  chmod +x ${join(m.bin, 'etcd')} ${join(m.bin, 'etcdctl')}`,
        'fi',
      ].join('\n'),
    );
    const r = run(m.env);
    assert.equal(r.status, 0, r.stderr);
    const apt = readFileSync(calls, 'utf8');
    assert.match(apt, /^update/m);
    assert.match(apt, /^install .*etcd-server etcd-client/m);
    assert.equal(r.stdout, `etcd=${join(m.bin, 'etcd')}\netcdctl=${join(m.bin, 'etcdctl')}\n`);
  } finally {
    m.done();
  }
});

test('without packages, etcd and etcdctl are built with Go from etcd’s modules into the tools cache', () => {
  const m = machine();
  try {
    for (const tool of ['mkdir', 'mv', 'rm', 'chmod']) link(m.bin, tool);
    const calls = join(m.root, 'go-calls');
    // Stands in for `go build -trimpath -o OUT PACKAGE`: writes an executable that answers --version.
    fake(
      m.bin,
      'go',
      [
        `echo "$* (in $PWD)" >> ${calls}`,
        'out=""; while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out="$2"; shift; fi; shift; done',
        `printf '#!${BASH}\\necho fake 3.5\\n' > "$out"`,
        'chmod +x "$out"',
      ].join('\n'),
    );
    const r = run({ ...m.env, KVORUM_NO_APT: '1' });
    assert.equal(r.status, 0, r.stderr);
    const built = join(m.cache, `etcd-${VERSION}`);
    assert.equal(r.stdout, `etcd=${join(built, 'etcd')}\netcdctl=${join(built, 'etcdctl')}\n`);
    const go = readFileSync(calls, 'utf8');
    assert.match(go, new RegExp(`build -trimpath -o ${built}/etcd.tmp go.etcd.io/etcd/server/v3 \\(in .*scripts/etcd-tools\\)`));
    assert.match(go, new RegExp(`build -trimpath -o ${built}/etcdctl.tmp go.etcd.io/etcd/etcdctl/v3 `));
    assert.match(r.stderr, new RegExp(`building etcd and etcdctl ${VERSION}`));
  } finally {
    m.done();
  }
});

test('when nothing works the script says what it tried and how to fix it', () => {
  const m = machine();
  try {
    const r = run({ ...m.env, KVORUM_NO_APT: '1' });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /etcd and etcdctl are needed and could not be provided/);
    assert.match(r.stderr, /- etcd and etcdctl are not on PATH/);
    assert.match(r.stderr, /- Debian packages not tried \(KVORUM_NO_APT=1\)/);
    assert.match(r.stderr, new RegExp(`- no go toolchain to build them from go.etcd.io/etcd ${VERSION}`));
    assert.match(r.stderr, /sudo apt-get install etcd-server etcd-client/);
  } finally {
    m.done();
  }
});

test('the test runner runs no test when the integration tests cannot get etcd, and exits 1 saying why', () => {
  const m = machine();
  try {
    const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'integration/startup-ports'], { env: { ...m.env, KVORUM_NO_APT: '1' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /etcd and etcdctl are needed and could not be provided/);
    assert.match(r.stderr, /need etcd and etcdctl, and scripts\/etcd-tools\.sh could not provide them \(see above\)\. No tests were run\./);
    assert.doesNotMatch(r.stdout, /^# tests/m, 'no test ran');
  } finally {
    m.done();
  }
});

// `kvorum local` as a user runs it (output to a pipe): the banner, plain
// status lines that reach a leader, no raw JSON in the terminal, and each
// member's full JSON log in a file under the data dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

function portFree(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
}

/** A port p with p, p + 1 and p + 2 free: one member's client, peer and metrics ports. */
async function freeTriple(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if ((await portFree(p)) && (await portFree(p + 1)) && (await portFree(p + 2))) return p;
  }
  throw new Error('no three consecutive free ports found');
}

test('kvorum local: banner, status lines, quiet terminal, full logs in files', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kvorum-local-'));
  const base = await freeTriple();
  const child = spawn(process.execPath, [resolve('bin/kvorum'), 'local', '--members', '1', '--data-dir', dataDir, '--base-port', String(base)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  try {
    const deadline = Date.now() + 30_000;
    while (!/status: leader m1 · term \d+ · revision \d+ · 1\/1 members healthy/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no status line with a leader within 30 s; output:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 0, `exit code; output:\n${out}`);

    const logFile = join(dataDir, 'logs', 'm1.log');
    assert.ok(out.includes(`http://127.0.0.1:${base}`), 'the banner names the client URL');
    assert.ok(out.includes(logFile), 'the banner says where the log is');
    assert.ok(out.includes(`etcdctl --endpoints=127.0.0.1:${base} put hello world`));
    assert.doesNotMatch(out, /^\{"level"/m, 'no raw JSON log lines in the terminal');
    const lines = readFileSync(logFile, 'utf8').trim().split('\n');
    const entries = lines.map((l) => JSON.parse(l) as { msg: string; level: number });
    assert.ok(entries.some((e) => e.msg === 'member started'), 'the file has the member’s info lines');
    assert.ok(entries.some((e) => e.msg === 'stopping'), 'and its last words');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

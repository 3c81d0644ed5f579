import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { KVORUM_VERSION } from '../../node/version.js';

test('kvorum version prints the release version', () => {
  const out = spawnSync(process.execPath, ['bin/kvorum', 'version'], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout.trim(), new RegExp(`^kvorum ${KVORUM_VERSION} `));
});

test('kvorum rejects an unknown command with usage and exit code 2', () => {
  const out = spawnSync(process.execPath, ['bin/kvorum', 'frobnicate'], { encoding: 'utf8' });
  assert.equal(out.status, 2);
  assert.match(out.stderr, /unknown command "frobnicate"/);
  assert.match(out.stderr, /usage: kvorum/);
});

// KVORUM_VERSION: package.json's version, or KVORUM_VERSION_OVERRIDE (tests
// that want two distinct releases from one build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { KVORUM_VERSION } from '../../../contract/version.js';

const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
const versionModule = new URL('../../../contract/version.js', import.meta.url).href;

test('KVORUM_VERSION is the package version', () => {
  assert.equal(KVORUM_VERSION, pkg.version);
});

test('KVORUM_VERSION_OVERRIDE replaces it', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `import { KVORUM_VERSION } from ${JSON.stringify(versionModule)}; process.stdout.write(KVORUM_VERSION);`], {
    env: { ...process.env, KVORUM_VERSION_OVERRIDE: '9.9.9-test' },
    encoding: 'utf8',
  });
  assert.equal(out, '9.9.9-test');
});

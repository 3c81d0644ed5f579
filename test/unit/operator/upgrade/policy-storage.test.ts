// The version policy (patch and next-minor upgrades pass; downgrades and
// skipped minors are refused unless overridden) and the storage growth plan
// (one claim at a time, refusal on a class without expansion).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateClusterSpec } from '../../../../operator/api/index.js';
import { judgeVersionChange, planStorage, type ClaimFacts } from '../../../../operator/upgrade/index.js';

test('version policy: patch, next minor and pre-release to release pass; downgrade, skipped minor and major refused; the override lets them through', () => {
  assert.deepEqual(judgeVersionChange('0.1.0', '0.1.3', false), { allowed: true });
  assert.deepEqual(judgeVersionChange('0.1.0', '0.2.0', false), { allowed: true });
  assert.deepEqual(judgeVersionChange('0.1.0-pre.230a543', '0.1.0', false), { allowed: true });
  assert.deepEqual(judgeVersionChange(undefined, '0.5.0', false), { allowed: true });
  const down = judgeVersionChange('0.2.0', '0.1.0', false);
  assert.equal(down.allowed, false);
  assert.equal(!down.allowed && down.reason, 'VersionDowngrade');
  assert.match(!down.allowed ? down.message : '', /kvorum.io\/allow-version-change/);
  const skip = judgeVersionChange('0.1.4', '0.3.0', false);
  assert.equal(!skip.allowed && skip.reason, 'VersionSkip');
  assert.match(!skip.allowed ? skip.message : '', /skips minor version 0\.2/);
  assert.equal(judgeVersionChange('0.9.0', '1.0.0', false).allowed, false);
  assert.equal(judgeVersionChange('0.2.0', '0.1.0', true).allowed, true);
  assert.equal(judgeVersionChange('latest', 'dev', false).allowed, true, 'tags that are not versions are not judged');
});

const claim = (o: number, requested: string, capacity: string, pending = false): ClaimFacts => ({ name: `data-kv-${o}`, member: `kv-${o}`, requested, capacity, fileSystemResizePending: pending });

test('storage: grows one claim at a time, waits for it, restarts a member whose file system must follow', () => {
  const all1 = [claim(0, '1Gi', '1Gi'), claim(1, '1Gi', '1Gi'), claim(2, '1Gi', '1Gi')];
  const first = planStorage({ desired: '2Gi', claims: all1, storageClassName: 'fast', allowVolumeExpansion: true });
  assert.deepEqual(first.action, { kind: 'expand', claim: 'data-kv-0', size: '2Gi', message: 'growing claim data-kv-0 from 1Gi to 2Gi' });
  assert.deepEqual(first.status.pendingClaims, ['data-kv-0', 'data-kv-1', 'data-kv-2']);

  const growing = planStorage({ desired: '2Gi', claims: [claim(0, '2Gi', '1Gi'), claim(1, '1Gi', '1Gi'), claim(2, '1Gi', '1Gi')], allowVolumeExpansion: true });
  assert.equal(growing.action.kind, 'wait');
  const fs = planStorage({ desired: '2Gi', claims: [claim(0, '2Gi', '2Gi', true), claim(1, '1Gi', '1Gi'), claim(2, '1Gi', '1Gi')], allowVolumeExpansion: true });
  assert.deepEqual(fs.action.kind === 'restartMember' && fs.action.member, 'kv-0');
  const next = planStorage({ desired: '2Gi', claims: [claim(0, '2Gi', '2Gi'), claim(1, '1Gi', '1Gi'), claim(2, '1Gi', '1Gi')], allowVolumeExpansion: true });
  assert.deepEqual(next.action.kind === 'expand' && next.action.claim, 'data-kv-1');
  assert.deepEqual(next.status.resizedClaims, ['data-kv-0']);
  const done = planStorage({ desired: '2Gi', claims: [claim(0, '2Gi', '2Gi'), claim(1, '2048Mi', '2Gi'), claim(2, '2Gi', '3Gi')], allowVolumeExpansion: false });
  assert.deepEqual(done.action, { kind: 'none' });
});

test('storage: a class without expansion is refused with a reason that names it, and nothing is planned', () => {
  const r = planStorage({ desired: '2Gi', claims: [claim(0, '1Gi', '1Gi')], storageClassName: 'fixed', allowVolumeExpansion: false });
  assert.equal(r.action.kind, 'refuse');
  assert.equal(r.action.kind === 'refuse' && r.action.reason, 'ExpansionNotAllowed');
  assert.match(r.action.kind === 'refuse' ? r.action.message : '', /StorageClass fixed does not allow volume expansion/);
  const unknown = planStorage({ desired: '2Gi', claims: [claim(0, '1Gi', '1Gi')], storageClassName: 'gone' });
  assert.equal(unknown.action.kind === 'refuse' && unknown.action.reason, 'StorageClassUnknown');
});

test('validation: shrinking spec.storage.size is refused with the old and new size; growing is fine; updateStrategy is an enum', () => {
  assert.deepEqual(validateClusterSpec({ storage: { size: '2Gi' } }, { storage: { size: '1Gi' } }), []);
  assert.deepEqual(validateClusterSpec({ storage: { size: '1Gi' } }, { storage: { size: '2Gi' } }), ['spec.storage.size: cannot shrink (was 2Gi, now 1Gi): volumes can only grow']);
  assert.deepEqual(validateClusterSpec({ updateStrategy: 'Supervised' }), []);
  assert.equal(validateClusterSpec({ updateStrategy: 'Whenever' }).length, 1);
});

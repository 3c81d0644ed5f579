import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupKeys, normalizePrefix } from '../../../../operator/backup/layout.js';
import { BackupManifestError, encodeManifest, parseManifest, type BackupManifest } from '../../../../operator/backup/manifest.js';
import { describe } from '../../../../operator/backup/object-store.js';

test('the key layout: <prefix>/<namespace>/<cluster>/<backup>/{snapshot.kvsnap,manifest.json}', () => {
  assert.deepEqual(backupKeys('/nightly/', 'prod', 'main', 'main-1'), {
    dir: 'nightly/prod/main/main-1/',
    snapshot: 'nightly/prod/main/main-1/snapshot.kvsnap',
    manifest: 'nightly/prod/main/main-1/manifest.json',
  });
  assert.equal(backupKeys(undefined, 'ns', 'c', 'b').snapshot, 'ns/c/b/snapshot.kvsnap');
  assert.equal(normalizePrefix('a//'), 'a/');
  assert.equal(normalizePrefix(''), '');
});

const manifest: BackupManifest = {
  formatVersion: 1,
  cluster: { name: 'main', namespace: 'prod', id: 'a1b2' },
  backup: 'main-1',
  kvorumVersion: '3.5.0',
  member: { name: 'main-1', id: 'ff' },
  revision: 1200,
  compactRevision: 3,
  raftIndex: 1500,
  raftTerm: 4,
  hashKv: 123456789,
  sha256: 'ab'.repeat(32),
  size: 4096,
  snapshotKey: 'prod/main/main-1/snapshot.kvsnap',
  startedAt: '2026-01-01T00:00:00.000Z',
  completedAt: '2026-01-01T00:00:05.000Z',
};

test('a manifest round-trips; a bad one names its field', () => {
  assert.deepEqual(parseManifest(encodeManifest(manifest)), manifest);
  const broken = (patch: Record<string, unknown>, field: string): void => {
    assert.throws(() => parseManifest(JSON.stringify({ ...manifest, ...patch })), (e: unknown) => e instanceof BackupManifestError && e.field === field);
  };
  broken({ formatVersion: 2 }, 'formatVersion');
  broken({ revision: -1 }, 'revision');
  broken({ sha256: 'xyz' }, 'sha256');
  broken({ cluster: { name: 'main', namespace: 'prod' } }, 'cluster.id');
  assert.throws(() => parseManifest('{'), (e: unknown) => e instanceof BackupManifestError && /not JSON/.test(e.message));
});

test('object store errors are named by cause, and only network trouble is transient', () => {
  const named = (err: unknown): [string, boolean] => {
    const e = describe(err, 'upload s3://b/k');
    return [e.reason, e.transient];
  };
  assert.deepEqual(named({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } }), ['InvalidCredentials', false]);
  assert.deepEqual(named({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } }), ['InvalidCredentials', false]);
  assert.deepEqual(named({ name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }), ['BucketNotFound', false]);
  assert.deepEqual(named({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }), ['ObjectNotFound', false]);
  assert.deepEqual(named(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:9000'), { code: 'ECONNREFUSED' })), ['Unreachable', true]);
  assert.deepEqual(named({ name: 'TimeoutError', message: 'timed out' }), ['DeadlineExceeded', true]);
  assert.deepEqual(named({ name: 'InternalError', $metadata: { httpStatusCode: 503 } }), ['Unknown', true]);
  assert.match(describe({ name: 'NoSuchBucket' }, 'upload s3://b/k').message, /upload s3:\/\/b\/k: the bucket does not exist/);
});

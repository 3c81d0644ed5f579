import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  API_VERSION,
  KINDS,
  validateBackupScheduleSpec,
  validateBackupSpec,
  validateClusterSpec,
  type KVClusterSpec,
} from '../../../operator/api/index.js';
import { dig, readRepoFile, yamlDocs, type Doc } from './helpers.js';

const load = (name: string): Doc[] => yamlDocs(readRepoFile(join('manifests', 'examples', name)));

test('minimal.yaml: one three-member KVCluster that relies on defaults', () => {
  const docs = load('minimal.yaml');
  assert.equal(docs.length, 1);
  const [c] = docs;
  assert.equal(c.apiVersion, API_VERSION);
  assert.equal(c.kind, KINDS.cluster);
  assert.deepEqual(c.spec, { replicas: 3 });
  assert.deepEqual(validateClusterSpec(c.spec), []);
});

test('production.yaml: five members, storage class, resources, anti-affinity, spread, S3 backups on a schedule', () => {
  const docs = load('production.yaml');
  const cluster = docs.find((d) => d.kind === KINDS.cluster);
  const schedule = docs.find((d) => d.kind === KINDS.backupSchedule);
  assert.ok(cluster && schedule);
  const spec = cluster.spec as KVClusterSpec;
  assert.deepEqual(validateClusterSpec(spec), []);
  assert.equal(spec.replicas, 5);
  assert.ok(spec.storage?.storageClassName);
  assert.ok(spec.resources?.requests?.cpu && spec.resources?.limits?.memory);
  assert.ok(dig(spec, 'podTemplate', 'affinity', 'podAntiAffinity'));
  assert.ok((spec.podTemplate?.topologySpreadConstraints ?? []).length > 0);
  assert.ok(spec.backup?.destination.bucket && spec.backup.credentialsSecret?.name);
  assert.deepEqual(validateBackupScheduleSpec(schedule.spec), []);
  assert.equal(dig(schedule, 'spec', 'cluster'), dig(cluster, 'metadata', 'name'));
  // The anti-affinity and spread selectors match the labels the operator puts on member pods.
  const selector = dig(spec, 'podTemplate', 'affinity', 'podAntiAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 0, 'labelSelector', 'matchLabels');
  assert.deepEqual(selector, { 'app.kubernetes.io/name': 'kvorum', 'app.kubernetes.io/instance': dig(cluster, 'metadata', 'name') });
});

test('backup.yaml: an on-demand backup kept in the bucket and a six-hourly schedule with retention', () => {
  const docs = load('backup.yaml');
  const backup = docs.find((d) => d.kind === KINDS.backup);
  const schedule = docs.find((d) => d.kind === KINDS.backupSchedule);
  assert.ok(backup && schedule);
  assert.deepEqual(validateBackupSpec(backup.spec), []);
  assert.deepEqual(validateBackupScheduleSpec(schedule.spec), []);
  assert.equal(dig(backup, 'spec', 'deletionPolicy'), 'Retain');
  assert.ok(dig(schedule, 'spec', 'retention', 'keepLast'));
});

test('restore examples: a new cluster from a bucket location, and an in-place KVRestore naming a backup', () => {
  const [cluster] = load('restore-new-cluster.yaml');
  assert.equal(cluster.kind, KINDS.cluster);
  assert.deepEqual(validateClusterSpec(cluster.spec), []);
  assert.ok(dig(cluster, 'spec', 'bootstrap', 'fromBackup', 'location', 'bucket'));
  const [restore] = load('restore-in-place.yaml');
  assert.equal(restore.kind, KINDS.restore);
  assert.equal(dig(restore, 'spec', 'cluster'), 'prod');
  assert.equal(dig(restore, 'spec', 'backupName'), 'before-upgrade');
});

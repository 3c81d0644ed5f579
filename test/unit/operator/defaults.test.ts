import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_VERSION,
  clusterLabels,
  cronProblems,
  defaultsFor,
  imageFor,
  LABELS,
  ownerReferenceFor,
  parseDuration,
  parseQuantity,
  quantityToBytes,
  selectorLabels,
  specWithDefaults,
  statusSelector,
  validateClusterSpec,
  type KVCluster,
} from '../../../operator/api/index.js';
import { crdSchema, dig, loadCrd, type Doc } from './helpers.js';

const cluster = (spec: KVCluster['spec'] = {}): KVCluster => ({
  apiVersion: API_VERSION,
  kind: 'KVCluster',
  metadata: { name: 'demo', namespace: 'ns', uid: 'u-1' },
  spec,
});

test('defaultsFor fills the schema defaults and leaves the input alone', () => {
  const input = cluster();
  const out = defaultsFor(input);
  assert.deepEqual(input.spec, {});
  assert.equal(out.spec.replicas, 3);
  assert.equal(out.spec.version, '0.1.0');
  assert.equal(out.spec.storage?.size, '1Gi');
  assert.deepEqual(out.spec.storage?.retentionPolicy, { whenScaled: 'Delete', whenDeleted: 'Retain' });
  assert.equal(out.spec.tls?.mode, 'OperatorManaged');
  assert.equal(out.spec.backup, undefined);
  assert.deepEqual(out.metadata, input.metadata);
  assert.deepEqual(validateClusterSpec(out.spec), []);
});

test('defaultsFor keeps what the user set', () => {
  const out = defaultsFor(
    cluster({
      replicas: 5,
      storage: { size: '5Gi', storageClassName: 'fast', retentionPolicy: { whenDeleted: 'Delete' } },
      tls: { mode: 'Disabled' },
      backup: { destination: { bucket: 'bkt' }, credentialsSecret: { name: 's3', accessKeyIdKey: 'id' } },
      bootstrap: { fromBackup: { location: { bucket: 'bkt', key: 'k', credentialsSecret: { name: 's3' } } } },
    }),
  );
  assert.equal(out.spec.replicas, 5);
  assert.deepEqual(out.spec.storage, { size: '5Gi', storageClassName: 'fast', retentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Delete' } });
  assert.equal(out.spec.tls?.mode, 'Disabled');
  assert.deepEqual(out.spec.backup?.credentialsSecret, { name: 's3', accessKeyIdKey: 'id', secretAccessKeyKey: 'AWS_SECRET_ACCESS_KEY' });
  assert.deepEqual(out.spec.bootstrap?.fromBackup?.location?.credentialsSecret, {
    name: 's3',
    accessKeyIdKey: 'AWS_ACCESS_KEY_ID',
    secretAccessKeyKey: 'AWS_SECRET_ACCESS_KEY',
  });
});

test('every default in the KVCluster schema is applied by specWithDefaults', () => {
  // Collect (path, default) pairs whose parents are always present after defaulting.
  const schema = dig(crdSchema(loadCrd('kvorum.io_kvclusters.yaml')), 'properties', 'spec') as Doc;
  const defaults: [string[], unknown][] = [];
  const walk = (s: Doc, path: string[]): void => {
    for (const [name, child] of Object.entries((s.properties as Record<string, Doc> | undefined) ?? {})) {
      if (child.default === undefined) continue;
      defaults.push([[...path, name], child.default]);
      walk(child, [...path, name]);
    }
  };
  walk(schema, []);
  assert.ok(defaults.length >= 6, `found ${defaults.length} defaults`);
  const spec = specWithDefaults({}) as Record<string, unknown>;
  for (const [path, value] of defaults) {
    const got = dig(spec, ...path);
    if (value !== null && typeof value === 'object') assert.ok(got && typeof got === 'object', path.join('.'));
    else assert.equal(got, value, `spec.${path.join('.')}`);
  }
});

test('imageFor: repository plus version, or a full reference as it is', () => {
  assert.equal(imageFor({}), 'ghcr.io/kvorum/kvorum:0.1.0');
  assert.equal(imageFor({ version: '0.2.0' }), 'ghcr.io/kvorum/kvorum:0.2.0');
  assert.equal(imageFor({ version: '0.2.0', image: 'registry:5000/kv' }), 'registry:5000/kv:0.2.0');
  assert.equal(imageFor({ version: '0.2.0', image: 'registry:5000/kv:custom' }), 'registry:5000/kv:custom');
  assert.equal(imageFor({ image: 'kv@sha256:abcd' }), 'kv@sha256:abcd');
  assert.equal(imageFor({ version: '1.0.0' }, 'kvorum'), 'kvorum:1.0.0');
});

test('labels: operator labels win over user labels; selector is stable and sorted', () => {
  const labels = clusterLabels('demo', { team: 'a', [LABELS.instance]: 'spoofed' });
  assert.equal(labels[LABELS.instance], 'demo');
  assert.equal(labels.team, 'a');
  assert.equal(labels['app.kubernetes.io/name'], 'kvorum');
  assert.equal(labels['app.kubernetes.io/managed-by'], 'kvorum-operator');
  assert.equal(labels['kvorum.io/cluster'], 'demo');
  assert.deepEqual(selectorLabels('demo'), { 'app.kubernetes.io/name': 'kvorum', 'app.kubernetes.io/instance': 'demo' });
  assert.equal(statusSelector('demo'), 'app.kubernetes.io/instance=demo,app.kubernetes.io/name=kvorum');
});

test('ownerReferenceFor makes the cluster the controller and needs a uid', () => {
  assert.deepEqual(ownerReferenceFor(cluster()), {
    apiVersion: 'kvorum.io/v1alpha1',
    kind: 'KVCluster',
    name: 'demo',
    uid: 'u-1',
    controller: true,
    blockOwnerDeletion: true,
  });
  assert.throws(() => ownerReferenceFor({ metadata: { name: 'x' } }), /uid/);
});

test('quantities', () => {
  assert.equal(parseQuantity('1Gi'), 1073741824);
  assert.equal(parseQuantity('500M'), 500_000_000);
  assert.equal(parseQuantity('250m'), 0.25);
  assert.equal(parseQuantity('2k'), 2000);
  assert.equal(parseQuantity('1e3'), 1000);
  assert.equal(parseQuantity('.5Ki'), 512);
  assert.equal(parseQuantity(42), 42);
  assert.equal(quantityToBytes('1.5'), 2);
  assert.throws(() => parseQuantity('10XYZ'), /invalid quantity/);
  assert.throws(() => parseQuantity('1 Gi'), /invalid quantity/);
});

test('durations', () => {
  assert.equal(parseDuration('168h'), 168 * 3_600_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('250ms'), 250);
  assert.throws(() => parseDuration('7d'), /invalid duration/);
  assert.throws(() => parseDuration(''), /invalid duration/);
});

test('cron expressions', () => {
  assert.deepEqual(cronProblems('0 3 * * *'), []);
  assert.deepEqual(cronProblems('0 0 ? * SUN'), []);
  assert.deepEqual(cronProblems('0 0 1 DEC 7'), []);
  assert.equal(cronProblems('0 ? * * *').length, 1, '? only in day fields');
  assert.equal(cronProblems('1-2-3 * * * *').length, 1);
  assert.equal(cronProblems('0 0 * FOO *').length, 1);
  assert.deepEqual(cronProblems('@daily'), [], 'the @-macros are accepted');
  assert.equal(cronProblems('@fortnightly').length, 1, 'unknown macros are not');
});

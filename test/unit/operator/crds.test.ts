import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ALLOWED_REPLICAS,
  BACKUP_PHASES,
  BYTE_QUANTITY_PATTERN,
  CATEGORY,
  CLUSTER_PHASES,
  CRON_PATTERN,
  DEFAULT_REPLICAS,
  DEFAULT_STORAGE_SIZE,
  DEFAULT_VERSION,
  DURATION_PATTERN,
  GROUP,
  KINDS,
  MAX_CLIENT_WORKERS,
  MEMBER_ROLES,
  PLURALS,
  RESOURCE_QUANTITY_PATTERN,
  SHORT_NAMES,
  TLS_MODES,
  VERSION,
  validateClusterSpec,
} from '../../../operator/api/index.js';
import { ROTATION_PHASES, ROTATION_REASONS } from '../../../operator/tls/rotation.js';
import { CRD_FILES, crdSchema, dig, loadCrd, repoRoot, type Doc } from './helpers.js';

type Rule = { rule: string; message: string; fieldPath?: string };

const cluster = loadCrd('kvorum.io_kvclusters.yaml');
const backup = loadCrd('kvorum.io_kvbackups.yaml');
const schedule = loadCrd('kvorum.io_kvbackupschedules.yaml');
const clusterSpec = dig(crdSchema(cluster), 'properties', 'spec') as Doc;
const clusterStatus = dig(crdSchema(cluster), 'properties', 'status') as Doc;

function prop(schema: Doc, path: string): Doc {
  let cur: unknown = schema;
  for (const name of path.split('.')) cur = dig(cur, 'properties', name);
  assert.ok(cur && typeof cur === 'object', `schema has no property ${path}`);
  return cur as Doc;
}

function rules(schema: Doc): Rule[] {
  return (schema['x-kubernetes-validations'] as Rule[] | undefined) ?? [];
}

test('each CRD file is one apiextensions.k8s.io/v1 CRD of group kvorum.io, served and stored at v1alpha1', () => {
  const expected = [
    [cluster, KINDS.cluster, PLURALS.cluster, SHORT_NAMES.cluster],
    [backup, KINDS.backup, PLURALS.backup, SHORT_NAMES.backup],
    [schedule, KINDS.backupSchedule, PLURALS.backupSchedule, SHORT_NAMES.backupSchedule],
  ] as const;
  for (const [crd, kind, plural, short] of expected) {
    assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(crd.kind, 'CustomResourceDefinition');
    assert.equal(dig(crd, 'metadata', 'name'), `${plural}.${GROUP}`);
    assert.equal(dig(crd, 'spec', 'group'), GROUP);
    assert.equal(dig(crd, 'spec', 'scope'), 'Namespaced');
    assert.equal(dig(crd, 'spec', 'names', 'kind'), kind);
    assert.equal(dig(crd, 'spec', 'names', 'plural'), plural);
    assert.deepEqual(dig(crd, 'spec', 'names', 'shortNames'), [short]);
    assert.deepEqual(dig(crd, 'spec', 'names', 'categories'), [CATEGORY]);
    const versions = dig(crd, 'spec', 'versions') as Doc[];
    assert.equal(versions.length, 1);
    assert.equal(versions[0].name, VERSION);
    assert.equal(versions[0].served, true);
    assert.equal(versions[0].storage, true);
    assert.deepEqual(dig(versions[0], 'subresources', 'status'), {});
  }
});

test('KVCluster replicas: enum 1, 3, 5, 7 with default 3, matching the TypeScript constants', () => {
  const replicas = prop(clusterSpec, 'replicas');
  assert.equal(replicas.type, 'integer');
  assert.deepEqual(replicas.enum, [...ALLOWED_REPLICAS]);
  assert.deepEqual(replicas.enum, [1, 3, 5, 7]);
  assert.equal(replicas.default, DEFAULT_REPLICAS);
  assert.equal(prop(clusterSpec, 'version').default, DEFAULT_VERSION);
});

test('KVCluster storage.size is an int-or-string quantity with a pattern that rejects 10XYZ', () => {
  const size = prop(clusterSpec, 'storage.size');
  assert.equal(size['x-kubernetes-int-or-string'], true);
  assert.equal(size.pattern, BYTE_QUANTITY_PATTERN);
  assert.equal(size.default, DEFAULT_STORAGE_SIZE);
  const re = new RegExp(size.pattern as string);
  for (const good of ['1Gi', '500M', '10', '1.5Ti', '1e9']) assert.ok(re.test(good), good);
  for (const bad of ['10XYZ', 'Gi', '-1Gi', '1 Gi', '1gi', '']) assert.ok(!re.test(bad), bad);
  assert.equal(prop(clusterSpec, 'nodeConfig.quotaBackendBytes').pattern, BYTE_QUANTITY_PATTERN);
  const retention = new RegExp(prop(clusterSpec, 'nodeConfig.autoCompactionRetention').pattern as string);
  for (const good of ['0', '1', '1h', '30m', '1h30m', '500ms', '1000']) assert.ok(retention.test(good), good);
  for (const bad of ['', 'an hour', '1d', '-1']) assert.ok(!retention.test(bad), bad);
  for (const kind of ['limits', 'requests']) {
    assert.equal(dig(prop(clusterSpec, `resources.${kind}`), 'additionalProperties', 'pattern'), RESOURCE_QUANTITY_PATTERN);
  }
});

test('KVCluster nodeConfig.clientWorkers: an integer 0..64 with no default, and every nodeConfig field is one the operator validates', () => {
  const cw = prop(clusterSpec, 'nodeConfig.clientWorkers');
  assert.equal(cw.type, 'integer');
  assert.equal(cw.minimum, 0);
  assert.equal(cw.maximum, MAX_CLIENT_WORKERS);
  assert.equal(cw.maximum, 64);
  assert.match(String(cw.description), /half/);
  // A default would put --client-workers into every existing cluster's pods and roll them.
  assert.equal(cw.default, undefined);
  for (const name of Object.keys(prop(clusterSpec, 'nodeConfig').properties as Doc)) {
    const problems = validateClusterSpec({ nodeConfig: { [name]: {} } });
    assert.ok(!problems.some((p) => /unknown field/.test(p)), `${name}: ${JSON.stringify(problems)}`);
  }
});

test('KVCluster enums match the TypeScript constants', () => {
  assert.deepEqual(prop(clusterSpec, 'tls.mode').enum, [...TLS_MODES]);
  assert.equal(prop(clusterSpec, 'tls.mode').default, 'OperatorManaged');
  assert.deepEqual(prop(clusterSpec, 'storage.retentionPolicy.whenScaled').enum, ['Retain', 'Delete']);
  assert.deepEqual(prop(clusterSpec, 'storage.retentionPolicy.whenDeleted').enum, ['Retain', 'Delete']);
  assert.deepEqual(prop(clusterStatus, 'phase').enum, [...CLUSTER_PHASES]);
  assert.deepEqual(dig(prop(clusterStatus, 'members'), 'items', 'properties', 'role', 'enum'), [...MEMBER_ROLES]);
  assert.deepEqual(prop(crdSchema(backup), 'status.phase').enum, [...BACKUP_PHASES]);
});

test('KVCluster CEL rules: immutability of storageClassName, tls.mode and bootstrap, with messages naming the field', () => {
  const sc = rules(prop(clusterSpec, 'storage.storageClassName'));
  assert.equal(sc.length, 1);
  assert.equal(sc[0].rule, 'self == oldSelf');
  assert.match(sc[0].message, /spec\.storage\.storageClassName/);
  // Removing the class is caught one level up, where the old and new objects can be compared.
  const storageRules = rules(prop(clusterSpec, 'storage'));
  assert.ok(storageRules.some((r) => r.rule.includes('oldSelf.storageClassName') && r.fieldPath === '.storageClassName'));

  const mode = rules(prop(clusterSpec, 'tls.mode'));
  assert.equal(mode[0].rule, 'self == oldSelf');
  assert.match(mode[0].message, /spec\.tls\.mode/);

  const specRules = rules(clusterSpec);
  const boot = specRules.find((r) => r.rule.includes('oldSelf.bootstrap'));
  assert.ok(boot, 'a transition rule on spec.bootstrap');
  assert.match(boot.message, /spec\.bootstrap/);
  assert.equal(boot.fieldPath, '.bootstrap');

  const fromBackup = rules(prop(clusterSpec, 'bootstrap.fromBackup'));
  assert.equal(fromBackup.length, 1);
  assert.match(fromBackup[0].rule, /has\(self\.backupName\) != has\(self\.location\)/);
  assert.match(fromBackup[0].message, /backupName or location/);

  assert.ok(rules(prop(clusterSpec, 'tls')).some((r) => /serverSecretName/.test(r.message)));
  assert.ok(rules(prop(clusterSpec, 'nodeConfig')).some((r) => /electionTimeoutMs/.test(r.message)));
});

test('every CEL rule message names a spec field, and every rule mentioning oldSelf sits on spec or below', () => {
  const found: Rule[] = [];
  const walk = (schema: unknown): void => {
    if (!schema || typeof schema !== 'object') return;
    if (Array.isArray(schema)) return schema.forEach(walk);
    found.push(...rules(schema as Doc));
    for (const v of Object.values(schema as Doc)) walk(v);
  };
  for (const crd of [cluster, backup, schedule]) walk(crdSchema(crd));
  assert.ok(found.length >= 8, `expected the CEL rules, found ${found.length}`);
  for (const r of found) assert.match(r.message, /^spec(\.| )/, `message of ${r.rule} should start with the field`);
});

test('KVCluster status has the standard condition shape, members keyed by name, and a selector', () => {
  const conditions = prop(clusterStatus, 'conditions');
  assert.equal(conditions['x-kubernetes-list-type'], 'map');
  assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
  const item = conditions.items as Doc;
  assert.deepEqual(item.required, ['type', 'status', 'lastTransitionTime', 'reason', 'message']);
  assert.deepEqual(dig(item, 'properties', 'status', 'enum'), ['True', 'False', 'Unknown']);
  assert.equal(dig(item, 'properties', 'lastTransitionTime', 'format'), 'date-time');
  const members = prop(clusterStatus, 'members');
  assert.deepEqual(members['x-kubernetes-list-map-keys'], ['name']);
  for (const f of ['name', 'id', 'peerURL', 'clientURL', 'role', 'healthy', 'appliedIndex']) {
    assert.ok(dig(members, 'items', 'properties', f), `members[].${f}`);
  }
  for (const f of ['leader', 'readyReplicas', 'currentVersion', 'clusterID', 'lastSuccessfulBackup', 'observedGeneration', 'selector']) {
    assert.ok(prop(clusterStatus, f), `status.${f}`);
  }
});

test('KVCluster status.tlsRotation: the phases and reasons the operator writes, and the fingerprints it resumes from', () => {
  assert.deepEqual(prop(clusterStatus, 'tlsRotation.phase').enum, [...ROTATION_PHASES]);
  assert.deepEqual(prop(clusterStatus, 'tlsRotation.reason').enum, Object.values(ROTATION_REASONS));
  assert.deepEqual(prop(clusterStatus, 'tlsRotation').required, ['phase', 'startedAt', 'oldCAFingerprints', 'newCAFingerprint']);
  for (const f of ['message', 'phaseStartedAt', 'completedAt', 'requestedAt']) assert.equal(prop(clusterStatus, `tlsRotation.${f}`).type, 'string');
  assert.equal(prop(clusterStatus, 'tlsRotation.oldCAFingerprints').type, 'array');
});

test('KVCluster scale subresource points at spec.replicas, status.readyReplicas and status.selector', () => {
  assert.deepEqual(dig(cluster, 'spec', 'versions', 0, 'subresources', 'scale'), {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.readyReplicas',
    labelSelectorPath: '.status.selector',
  });
});

test('printer columns', () => {
  const columns = (crd: Doc): string[] =>
    (dig(crd, 'spec', 'versions', 0, 'additionalPrinterColumns') as Doc[]).filter((c) => !c.priority).map((c) => c.name as string);
  assert.deepEqual(columns(cluster), ['Replicas', 'Ready', 'Leader', 'Version', 'Phase', 'Age']);
  assert.deepEqual(columns(backup), ['Cluster', 'Phase', 'Revision', 'Size', 'Reason', 'Completed', 'Age']);
  assert.deepEqual(columns(schedule), ['Cluster', 'Schedule', 'Suspend', 'Next', 'Last Schedule', 'Age']);
  // Every column's JSON path exists in the schema (or is metadata).
  for (const crd of [cluster, backup, schedule]) {
    for (const c of dig(crd, 'spec', 'versions', 0, 'additionalPrinterColumns') as Doc[]) {
      const path = (c.jsonPath as string).slice(1);
      if (path.startsWith('metadata.')) continue;
      assert.ok(prop(crdSchema(crd), path), `${c.name}: ${c.jsonPath}`);
    }
  }
});

test('KVBackup: cluster required, spec immutable, sha256 pattern; destination has the shape of KVCluster spec.backup', () => {
  const spec = prop(crdSchema(backup), 'spec');
  assert.deepEqual(spec.required, ['cluster']);
  assert.ok(rules(spec).some((r) => r.rule === 'self == oldSelf'));
  assert.deepEqual(prop(spec, 'destination'), prop(clusterSpec, 'backup.destination'));
  assert.deepEqual(prop(spec, 'credentialsSecret'), prop(clusterSpec, 'backup.credentialsSecret'));
  const sha = new RegExp(prop(crdSchema(backup), 'status.sha256').pattern as string);
  assert.ok(sha.test('a'.repeat(64)));
  assert.ok(!sha.test('a'.repeat(63)));
  for (const f of ['phase', 'location', 'size', 'revision', 'startedAt', 'completedAt', 'error']) assert.ok(prop(crdSchema(backup), `status.${f}`));
});

test('KVBackupSchedule: five-field cron pattern, keepLast >= 1, Go duration maxAge', () => {
  const spec = prop(crdSchema(schedule), 'spec');
  assert.deepEqual(spec.required, ['cluster', 'schedule']);
  assert.equal(prop(spec, 'schedule').pattern, CRON_PATTERN);
  const cron = new RegExp(CRON_PATTERN);
  assert.ok(cron.test('0 3 * * *'));
  assert.ok(cron.test('*/15 0-6 1,15 JAN-MAR MON-FRI'));
  assert.ok(!cron.test('0 3 * *'));
  assert.ok(!cron.test('0 3 * * * *'));
  assert.ok(cron.test('@daily'));
  assert.ok(!cron.test('@fortnightly'));
  assert.equal(prop(spec, 'retention.keepLast').minimum, 1);
  assert.equal(prop(spec, 'retention.maxAge').pattern, DURATION_PATTERN);
  assert.equal(prop(spec, 'suspend').default, false);
  const active = prop(crdSchema(schedule), 'status.active');
  assert.equal(active.type, 'array');
  for (const f of ['lastScheduleTime', 'lastSuccessfulTime']) assert.equal(prop(crdSchema(schedule), `status.${f}`).format, 'date-time');
});

test('structural schema basics: every property has a type, int-or-string or preserve-unknown', () => {
  const problems: string[] = [];
  const walk = (schema: Doc, path: string): void => {
    const ok = schema.type !== undefined || schema['x-kubernetes-int-or-string'] === true || schema['x-kubernetes-preserve-unknown-fields'] === true;
    if (!ok) problems.push(path);
    for (const [name, child] of Object.entries((schema.properties as Record<string, Doc> | undefined) ?? {})) walk(child, `${path}.${name}`);
    if (schema.items) walk(schema.items as Doc, `${path}[]`);
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object') walk(schema.additionalProperties as Doc, `${path}{}`);
  };
  for (const crd of [cluster, backup, schedule]) walk(crdSchema(crd), String(dig(crd, 'spec', 'names', 'kind')));
  assert.deepEqual(problems, []);
});

test('the chart ships byte-identical copies of crds/', () => {
  const root = repoRoot();
  for (const file of CRD_FILES) {
    const top = readFileSync(join(root, 'crds', file));
    const chart = readFileSync(join(root, 'charts', 'kvorum-operator', 'crds', file));
    assert.ok(top.equals(chart), `charts/kvorum-operator/crds/${file} differs from crds/${file}; copy it over`);
  }
});

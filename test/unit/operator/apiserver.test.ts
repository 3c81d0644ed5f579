// Checks the CRDs against a real kube-apiserver: defaults, rejections with
// messages that name the field, the scale subresource, the examples, and a
// helm install of the chart. It changes the cluster (installs or updates the
// CRDs, creates a namespace and a Helm release), so it runs only when
// KVORUM_OPERATOR_TEST_KUBECONFIG points at a disposable cluster, for example
// the one `npm run e2e:up` prints. `npm run test:e2e` runs it that way; by hand:
//
//   KVORUM_OPERATOR_TEST_KUBECONFIG=$PWD/.e2e/admin.kubeconfig \
//     node --test dist/test/unit/operator/apiserver.test.js
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { specWithDefaults, validateClusterSpec, type KVClusterSpec } from '../../../operator/api/index.js';
import { findHelm, findKubectl, repoRoot } from './helpers.js';

const kubeconfig = process.env.KVORUM_OPERATOR_TEST_KUBECONFIG;
const kubectl = findKubectl();
const skip = !kubeconfig
  ? 'set KVORUM_OPERATOR_TEST_KUBECONFIG to a disposable cluster (e.g. the e2e control plane) to run these'
  : !kubectl
    ? 'no kubectl: set $KUBECTL or build it with test/e2e/tools/build.sh'
    : false;
const ns = `kvorum-api-${randomBytes(3).toString('hex')}`;

function run(cmd: string, args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: repoRoot(), encoding: 'utf8', input, env: { ...process.env, KUBECONFIG: kubeconfig } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const k = (args: string[], input?: string): { status: number | null; out: string } => run(kubectl as string, args, input);

function clusterYaml(name: string, spec: KVClusterSpec): string {
  return JSON.stringify({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name, namespace: ns }, spec });
}

/** Applying `spec` fails, the API server names `field`, and validateClusterSpec flags the same field. */
function rejected(spec: KVClusterSpec, field: string, pattern?: RegExp): void {
  const r = k(['create', '-f', '-'], clusterYaml(`bad-${randomBytes(2).toString('hex')}`, spec));
  assert.notEqual(r.status, 0, `accepted: ${JSON.stringify(spec)}`);
  assert.ok(r.out.includes(field), `API server message should name ${field}: ${r.out}`);
  if (pattern) assert.match(r.out, pattern);
  assert.ok(validateClusterSpec(spec).some((p) => p.startsWith(field)), `validateClusterSpec should flag ${field}`);
}

/** A patch to an existing cluster fails and the message names `field`. */
function patchRejected(name: string, patch: object, field: string, pattern: RegExp, type = 'merge'): void {
  const r = k(['-n', ns, 'patch', 'kvcluster', name, '--type', type, '-p', JSON.stringify(patch)]);
  assert.notEqual(r.status, 0, `patch accepted: ${JSON.stringify(patch)}`);
  assert.ok(r.out.includes(field), `message should name ${field}: ${r.out}`);
  assert.match(r.out, pattern);
}

before(() => {
  if (skip) return;
  const apply = k(['apply', '--server-side', '--force-conflicts', '-f', join('crds')]);
  assert.equal(apply.status, 0, apply.out);
  const wait = k(['wait', '--for=condition=Established', '--timeout=60s', 'crd/kvclusters.kvorum.io', 'crd/kvbackups.kvorum.io', 'crd/kvbackupschedules.kvorum.io', 'crd/kvrestores.kvorum.io']);
  assert.equal(wait.status, 0, wait.out);
  const created = k(['create', 'namespace', ns]);
  assert.equal(created.status, 0, created.out);
});

after(() => {
  if (skip) return;
  k(['delete', 'namespace', ns, '--wait=false']);
});

test('a minimal KVCluster gets the same defaults from the API server as from specWithDefaults', { skip }, () => {
  const r = k(['create', '-f', '-'], clusterYaml('minimal', { replicas: 3 }));
  assert.equal(r.status, 0, r.out);
  const got = k(['-n', ns, 'get', 'kvcluster', 'minimal', '-o', 'jsonpath={.spec}']);
  assert.equal(got.status, 0, got.out);
  assert.deepEqual(JSON.parse(got.out), specWithDefaults({ replicas: 3 }));
});

test('invalid KVClusters are rejected with messages naming the field', { skip }, () => {
  rejected({ replicas: 2 }, 'spec.replicas', /supported values: "1", "3", "5", "7"/);
  rejected({ storage: { size: '10XYZ' } }, 'spec.storage.size');
  rejected({ storage: { size: '0Gi' } }, 'spec.storage.size', /positive quantity/);
  rejected({ tls: { mode: 'Secrets', serverSecretName: 'a' } }, 'spec.tls', /peerSecretName/);
  rejected({ bootstrap: { fromBackup: {} } }, 'spec.bootstrap.fromBackup', /exactly one of backupName or location/);
  rejected({ nodeConfig: { electionTimeoutMs: 300 } }, 'spec.nodeConfig.electionTimeoutMs', /5 times/);
  rejected({ resources: { requests: { cpu: 'lots' } } }, 'spec.resources.requests.cpu');
});

test('immutable fields: storageClassName, tls.mode, bootstrap', { skip }, () => {
  const r = k(['create', '-f', '-'], clusterYaml('fixed', { storage: { storageClassName: 'fast' } }));
  assert.equal(r.status, 0, r.out);
  patchRejected('fixed', { spec: { storage: { storageClassName: 'slow' } } }, 'spec.storage.storageClassName', /immutable/);
  patchRejected('fixed', [{ op: 'remove', path: '/spec/storage/storageClassName' }], 'spec.storage.storageClassName', /cannot be removed/, 'json');
  patchRejected('fixed', { spec: { tls: { mode: 'Disabled' } } }, 'spec.tls.mode', /immutable/);
  patchRejected('fixed', { spec: { bootstrap: { fromBackup: { backupName: 'b' } } } }, 'spec.bootstrap', /immutable/);
  const ok = k(['-n', ns, 'patch', 'kvcluster', 'fixed', '--type', 'merge', '-p', '{"spec":{"replicas":5,"version":"0.2.0"}}']);
  assert.equal(ok.status, 0, ok.out);
});

test('the scale subresource accepts 1/3/5/7 and refuses even sizes', { skip }, () => {
  const r = k(['create', '-f', '-'], clusterYaml('scaled', {}));
  assert.equal(r.status, 0, r.out);
  const bad = k(['-n', ns, 'scale', 'kvcluster', 'scaled', '--replicas=4']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.out, /spec\.replicas/);
  const good = k(['-n', ns, 'scale', 'kvcluster', 'scaled', '--replicas=5']);
  assert.equal(good.status, 0, good.out);
  assert.equal(k(['-n', ns, 'get', 'kvcluster', 'scaled', '-o', 'jsonpath={.spec.replicas}']).out, '5');
});

test('KVBackup and KVBackupSchedule validation', { skip }, () => {
  const backup = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackup', metadata: { name: 'b1', namespace: ns }, spec: { cluster: 'minimal' } };
  assert.equal(k(['create', '-f', '-'], JSON.stringify(backup)).status, 0);
  const change = k(['-n', ns, 'patch', 'kvbackup', 'b1', '--type', 'merge', '-p', '{"spec":{"cluster":"other"}}']);
  assert.notEqual(change.status, 0);
  assert.match(change.out, /immutable/);
  const schedule = (s: string, retention: object): string =>
    JSON.stringify({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackupSchedule', metadata: { name: `s-${randomBytes(2).toString('hex')}`, namespace: ns }, spec: { cluster: 'minimal', schedule: s, retention } });
  assert.equal(k(['create', '-f', '-'], schedule('0 3 * * *', { keepLast: 7, maxAge: '168h' })).status, 0);
  const bad = k(['create', '-f', '-'], schedule('0 3 * *', { keepLast: 0, maxAge: '7d' }));
  assert.notEqual(bad.status, 0);
  for (const field of ['spec.schedule', 'spec.retention.keepLast', 'spec.retention.maxAge']) assert.ok(bad.out.includes(field), `${field}: ${bad.out}`);
});

test('the examples pass server-side validation', { skip }, () => {
  const r = k(['apply', '--dry-run=server', '-n', ns, '-f', join('manifests', 'examples')]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /kvcluster.kvorum.io\/prod created \(server dry run\)/);
});

test('helm install of the chart succeeds and creates the operator objects', { skip: skip || (findHelm() ? false : 'no helm binary') }, () => {
  const helm = findHelm() as string;
  const release = `kvt-${randomBytes(2).toString('hex')}`;
  const install = run(helm, ['install', release, join('charts', 'kvorum-operator'), '--namespace', ns, '--wait=false']);
  assert.equal(install.status, 0, install.out);
  try {
    const status = run(helm, ['status', release, '--namespace', ns]);
    assert.match(status.out, /STATUS: deployed/);
    const objects = k(['-n', ns, 'get', 'deployment,service,serviceaccount,configmap,role,rolebinding', '-o', 'name']);
    for (const name of [`deployment.apps/${release}-kvorum-operator`, `service/${release}-kvorum-operator-metrics`, `serviceaccount/${release}-kvorum-operator`]) {
      assert.ok(objects.out.includes(name), `${name} in ${objects.out}`);
    }
    const sa = `system:serviceaccount:${ns}:${release}-kvorum-operator`;
    const can = (verb: string, what: string, extra: string[] = []): string => k(['auth', 'can-i', verb, what, '--as', sa, ...extra]).out.trim().split('\n').pop() ?? '';
    assert.equal(can('patch', 'kvclusters.kvorum.io', ['--subresource=status']), 'yes');
    assert.equal(can('patch', 'kvclusters.kvorum.io'), 'no', 'the spec is the user\'s: only status is written');
    assert.equal(can('delete', 'pods'), 'yes');
    assert.equal(can('create', 'pods'), 'no');
    assert.equal(can('create', 'kvclusters.kvorum.io'), 'no');
    assert.equal(can('update', 'leases.coordination.k8s.io', ['-n', ns]), 'yes');
    assert.equal(can('update', 'leases.coordination.k8s.io', ['-n', 'default']), 'no');
  } finally {
    run(helm, ['uninstall', release, '--namespace', ns]);
  }
});

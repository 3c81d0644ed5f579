import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { OPERATOR_ENV, OPERATOR_HEALTH_PORT, OPERATOR_METRICS } from '../../../operator/api/index.js';
import { dig, findHelm, readRepoFile, repoRoot, yamlDocs, type Doc } from './helpers.js';

const helm = findHelm();
const noHelm = helm ? false : 'no helm binary: set $HELM, put helm on PATH, or build it with test/e2e/tools/build.sh';
const chartDir = join('charts', 'kvorum-operator');

function runHelm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(helm as string, args, { cwd: repoRoot(), encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function render(...sets: string[]): Doc[] {
  const r = runHelm(['template', 'kvorum-operator', chartDir, '--namespace', 'kvorum-system', ...sets.flatMap((s) => ['--set', s])]);
  assert.equal(r.status, 0, r.stderr);
  return yamlDocs(r.stdout);
}

const byKind = (docs: Doc[], kind: string): Doc[] => docs.filter((d) => d.kind === kind);

type PolicyRule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/** "group/resource" -> sorted verbs, merged over all rules. */
function permissions(rules: PolicyRule[]): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const r of rules) {
    for (const g of r.apiGroups) {
      for (const res of r.resources) {
        const key = `${g || 'core'}/${res}`;
        const set = out.get(key) ?? new Set<string>();
        r.verbs.forEach((v) => set.add(v));
        out.set(key, set);
      }
    }
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

const expectedPermissions: Record<string, string[]> = {
  'kvorum.io/kvclusters': ['get', 'list', 'watch'],
  'kvorum.io/kvbackups': ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  'kvorum.io/kvbackupschedules': ['get', 'list', 'watch'],
  'kvorum.io/kvclusters/status': ['get', 'patch', 'update'],
  'kvorum.io/kvbackups/status': ['get', 'patch', 'update'],
  'kvorum.io/kvbackupschedules/status': ['get', 'patch', 'update'],
  'kvorum.io/kvrestores': ['get', 'list', 'watch'],
  'kvorum.io/kvrestores/status': ['get', 'patch', 'update'],
  'kvorum.io/kvclusters/finalizers': ['update'],
  'kvorum.io/kvbackups/finalizers': ['update'],
  'apps/statefulsets': ['create', 'get', 'list', 'patch', 'watch'],
  'core/services': ['create', 'get', 'list', 'patch', 'watch'],
  'core/configmaps': ['create', 'get', 'list', 'patch', 'watch'],
  'core/secrets': ['create', 'get', 'list', 'patch', 'watch'],
  'core/pods': ['delete', 'get', 'list', 'watch'],
  'core/persistentvolumeclaims': ['delete', 'get', 'list', 'patch', 'watch'],
  'policy/poddisruptionbudgets': ['create', 'get', 'list', 'patch', 'watch'],
  'storage.k8s.io/storageclasses': ['get'],
  'events.k8s.io/events': ['create'],
};

test('Chart.yaml: apiVersion v2, appVersion 0.1.0', () => {
  const chart = load(readRepoFile(join(chartDir, 'Chart.yaml'))) as Doc;
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.name, 'kvorum-operator');
  assert.equal(chart.appVersion, '0.1.0');
});

test('values.yaml defaults: two replicas, monitoring objects off, and it satisfies values.schema.json types', () => {
  const values = load(readRepoFile(join(chartDir, 'values.yaml'))) as Doc;
  const schema = JSON.parse(readRepoFile(join(chartDir, 'values.schema.json'))) as Doc;
  assert.equal(values.replicaCount, 2);
  assert.equal(dig(values, 'serviceMonitor', 'enabled'), false);
  assert.equal(dig(values, 'prometheusRule', 'enabled'), false);
  assert.equal(dig(values, 'metrics', 'port'), OPERATOR_HEALTH_PORT);
  // Every top-level value is declared in the schema (which forbids others).
  assert.equal(schema.additionalProperties, false);
  const declared = Object.keys(schema.properties as Doc);
  for (const key of Object.keys(values)) assert.ok(declared.includes(key), `values.${key} missing from values.schema.json`);
  for (const key of ['image', 'replicaCount', 'resources', 'nodeSelector', 'tolerations', 'affinity', 'serviceAccount', 'metrics', 'serviceMonitor', 'prometheusRule', 'logLevel', 'watchNamespaces']) {
    assert.ok(declared.includes(key), key);
  }
});

test('helm lint --strict passes', { skip: noHelm }, () => {
  const r = runHelm(['lint', '--strict', chartDir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /0 chart\(s\) failed/);
});

test('values.schema.json rejects bad values', { skip: noHelm }, () => {
  for (const set of ['replicaCount=0', 'logLevel=verbose', 'image.pullPolicy=Sometimes', 'unknownKey=1']) {
    const r = runHelm(['template', 'x', chartDir, '--set', set]);
    assert.notEqual(r.status, 0, `--set ${set} should be rejected`);
  }
});

test('default render: exactly the expected objects, all in the release namespace', { skip: noHelm }, () => {
  const docs = render();
  const kinds = docs.map((d) => `${d.kind}/${dig(d, 'metadata', 'name')}`).sort();
  assert.deepEqual(kinds, [
    'ClusterRole/kvorum-operator',
    'ClusterRoleBinding/kvorum-operator',
    'ConfigMap/kvorum-operator-dashboard',
    'Deployment/kvorum-operator',
    'Role/kvorum-operator-leader-election',
    'RoleBinding/kvorum-operator-leader-election',
    'Service/kvorum-operator-metrics',
    'ServiceAccount/kvorum-operator',
  ]);
  for (const d of docs) {
    if (d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding') continue;
    assert.equal(dig(d, 'metadata', 'namespace'), 'kvorum-system', `${d.kind} namespace`);
  }
});

test('RBAC: the ClusterRole grants exactly the needed verbs; leases only in the release namespace', { skip: noHelm }, () => {
  const docs = render();
  const [role] = byKind(docs, 'ClusterRole');
  assert.deepEqual(Object.fromEntries(permissions(role.rules as PolicyRule[])), expectedPermissions);
  const [binding] = byKind(docs, 'ClusterRoleBinding');
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'kvorum-operator', namespace: 'kvorum-system' }]);
  const [lease] = byKind(docs, 'Role');
  assert.deepEqual(Object.fromEntries(permissions(lease.rules as PolicyRule[])), { 'coordination.k8s.io/leases': ['create', 'get', 'update'] });
  assert.equal(dig(lease, 'metadata', 'namespace'), 'kvorum-system');
});

test('RBAC with watchNamespaces: a Role per namespace, no ClusterRole', { skip: noHelm }, () => {
  const docs = render('watchNamespaces={team-a,team-b}');
  assert.equal(byKind(docs, 'ClusterRole').length, 0);
  const roles = byKind(docs, 'Role').filter((r) => !String(dig(r, 'metadata', 'name')).endsWith('leader-election'));
  assert.deepEqual(roles.map((r) => dig(r, 'metadata', 'namespace')), ['team-a', 'team-b']);
  for (const r of roles) assert.deepEqual(Object.fromEntries(permissions(r.rules as PolicyRule[])), expectedPermissions);
  const [deploy] = byKind(docs, 'Deployment');
  const env = dig(deploy, 'spec', 'template', 'spec', 'containers', 0, 'env') as Doc[];
  assert.equal(env.find((e) => e.name === OPERATOR_ENV.watchNamespaces)?.value, 'team-a,team-b');
});

test('Deployment: kvorum operator, non-root, read-only root, probes on 8080, downward-API env', { skip: noHelm }, () => {
  const [deploy] = byKind(render(), 'Deployment');
  assert.equal(dig(deploy, 'spec', 'replicas'), 2);
  const pod = dig(deploy, 'spec', 'template', 'spec') as Doc;
  assert.equal(pod.serviceAccountName, 'kvorum-operator');
  assert.equal(dig(pod, 'securityContext', 'runAsNonRoot'), true);
  assert.equal(dig(pod, 'securityContext', 'runAsUser'), 65532);
  const [c] = pod.containers as Doc[];
  assert.equal(c.image, 'ghcr.io/kvorum/kvorum:0.1.0');
  assert.deepEqual(c.args, ['operator']);
  assert.equal(c.command, undefined, 'the image entrypoint (kvorum) must stay in charge');
  assert.equal(dig(c, 'securityContext', 'readOnlyRootFilesystem'), true);
  assert.equal(dig(c, 'securityContext', 'allowPrivilegeEscalation'), false);
  assert.deepEqual(dig(c, 'securityContext', 'capabilities', 'drop'), ['ALL']);
  assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: OPERATOR_HEALTH_PORT, protocol: 'TCP' }]);
  assert.equal(dig(c, 'livenessProbe', 'httpGet', 'path'), '/healthz');
  assert.equal(dig(c, 'readinessProbe', 'httpGet', 'path'), '/readyz');
  assert.equal(dig(c, 'livenessProbe', 'httpGet', 'port'), 'metrics');
  const env = new Map((c.env as Doc[]).map((e) => [e.name as string, e]));
  assert.equal(dig(env.get(OPERATOR_ENV.podName), 'valueFrom', 'fieldRef', 'fieldPath'), 'metadata.name');
  assert.equal(dig(env.get(OPERATOR_ENV.podNamespace), 'valueFrom', 'fieldRef', 'fieldPath'), 'metadata.namespace');
  for (const name of Object.values(OPERATOR_ENV)) assert.ok(env.has(name), `env ${name}`);
  assert.equal(env.get(OPERATOR_ENV.metricsAddress)?.value, ':8080');
  assert.equal(env.get(OPERATOR_ENV.leaderElect)?.value, 'true');
  // A writable /tmp, since the root file system is read-only.
  assert.ok((c.volumeMounts as Doc[]).some((m) => m.mountPath === '/tmp'));
});

test('values reach the Deployment: image, log level, scheduling', { skip: noHelm }, () => {
  const docs = render('image.repository=kvorum', 'image.tag=dev', 'logLevel=debug', 'nodeSelector.disk=ssd', 'replicaCount=1');
  const [deploy] = byKind(docs, 'Deployment');
  const pod = dig(deploy, 'spec', 'template', 'spec') as Doc;
  const [c] = pod.containers as Doc[];
  assert.equal(c.image, 'kvorum:dev');
  assert.equal((c.env as Doc[]).find((e) => e.name === OPERATOR_ENV.logLevel)?.value, 'debug');
  assert.deepEqual(pod.nodeSelector, { disk: 'ssd' });
  assert.equal(dig(deploy, 'spec', 'replicas'), 1);
});

test('metrics Service selects the operator pods on the metrics port', { skip: noHelm }, () => {
  const docs = render();
  const [svc] = byKind(docs, 'Service');
  const [deploy] = byKind(docs, 'Deployment');
  const podLabels = dig(deploy, 'spec', 'template', 'metadata', 'labels') as Record<string, string>;
  for (const [k, v] of Object.entries(dig(svc, 'spec', 'selector') as Record<string, string>)) assert.equal(podLabels[k], v, k);
  assert.deepEqual(dig(svc, 'spec', 'ports'), [{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
});

test('ServiceMonitor, PodMonitor and PrometheusRule only when enabled; the five alerts', { skip: noHelm }, () => {
  const off = render();
  assert.equal(byKind(off, 'ServiceMonitor').length + byKind(off, 'PodMonitor').length + byKind(off, 'PrometheusRule').length, 0);
  const on = render('serviceMonitor.enabled=true', 'prometheusRule.enabled=true');
  assert.equal(byKind(on, 'ServiceMonitor').length, 1);
  assert.equal(byKind(on, 'PodMonitor').length, 1);
  const [rule] = byKind(on, 'PrometheusRule');
  const alerts = (dig(rule, 'spec', 'groups', 0, 'rules') as Doc[]).map((r) => [r.alert, r.expr]);
  assert.deepEqual(alerts, [
    ['KvorumNoLeader', 'etcd_server_has_leader == 0'],
    ['KvorumLeaderChurn', 'increase(etcd_server_leader_changes_seen_total[15m]) > 3'],
    ['KvorumMemberDown', `${OPERATOR_METRICS.membersHealthy} < ${OPERATOR_METRICS.membersDesired}`],
    ['KvorumBackupStale', `time() - ${OPERATOR_METRICS.backupLastSuccess} > 2 * ${OPERATOR_METRICS.backupScheduleInterval}`],
    ['KvorumBackupFailing', `increase(${OPERATOR_METRICS.backupFailures}[1h]) > 0`],
  ]);
  // Prometheus templates survive Helm's templating.
  const noLeader = (dig(rule, 'spec', 'groups', 0, 'rules') as Doc[])[0];
  assert.match(String(dig(noLeader, 'annotations', 'description')), /\{\{ \$labels\.pod \}\}/);
});

test('Grafana dashboard ConfigMap: labelled for the sidecar, valid JSON, panels over etcd metric names', { skip: noHelm }, () => {
  const [cm] = byKind(render(), 'ConfigMap');
  assert.equal(dig(cm, 'metadata', 'labels', 'grafana_dashboard'), '1');
  const dashboard = JSON.parse(String(dig(cm, 'data', 'kvorum.json'))) as Doc;
  const file = JSON.parse(readFileSync(join(repoRoot(), chartDir, 'dashboards', 'kvorum.json'), 'utf8')) as Doc;
  assert.deepEqual(dashboard, file);
  const exprs = (dashboard.panels as Doc[]).flatMap((p) => (p.targets as Doc[]).map((t) => String(t.expr)));
  assert.ok((dashboard.panels as Doc[]).length >= 4);
  for (const metric of ['etcd_server_has_leader', 'etcd_server_leader_changes_seen_total', 'etcd_server_proposals_committed_total', 'etcd_disk_wal_fsync_duration_seconds_bucket', 'etcd_mvcc_db_total_size_in_bytes']) {
    assert.ok(exprs.some((e) => e.includes(metric)), metric);
  }
  const ids = (dashboard.panels as Doc[]).map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
});

test('manifests/install.yaml is what scripts/gen-install-manifest.mjs produces now', (t) => {
  const r = spawnSync(process.execPath, [join(repoRoot(), 'scripts', 'gen-install-manifest.mjs'), '--stdout'], { cwd: repoRoot(), encoding: 'utf8' });
  if (r.status === 3) {
    t.skip('no helm binary: set $HELM, put helm on PATH, or build it with test/e2e/tools/build.sh');
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  const committed = readRepoFile(join('manifests', 'install.yaml'));
  assert.ok(committed === r.stdout, 'manifests/install.yaml is stale: run node scripts/gen-install-manifest.mjs');
  const docs = yamlDocs(committed);
  assert.deepEqual(docs[0], { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kvorum-system', labels: { 'app.kubernetes.io/part-of': 'kvorum' } } });
  assert.equal(byKind(docs, 'CustomResourceDefinition').length, 4);
  assert.equal(byKind(docs, 'Deployment').length, 1);
});

test('install.yaml carries the same CRDs as crds/', () => {
  const docs = yamlDocs(readRepoFile(join('manifests', 'install.yaml')));
  const inManifest = byKind(docs, 'CustomResourceDefinition').map((d) => dig(d, 'metadata', 'name')).sort();
  assert.deepEqual(inManifest, ['kvbackups.kvorum.io', 'kvbackupschedules.kvorum.io', 'kvclusters.kvorum.io', 'kvrestores.kvorum.io']);
  for (const crd of byKind(docs, 'CustomResourceDefinition')) {
    const file = `kvorum.io_${String(dig(crd, 'spec', 'names', 'plural'))}.yaml`;
    assert.deepEqual(crd, yamlDocs(readRepoFile(join('crds', file)))[0], file);
  }
});

// Acceptance (issue 6): invalid KVClusters are rejected by the API server
// with a message that names the field — replicas 2, a malformed storage size,
// and changes of the immutable storage class and TLS mode. The CRDs come from
// `helm install` of the chart; the operator itself plays no part here, so it
// is told to watch only its own namespace.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeObject } from './kube/client.js';
import { installOperator, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { kvcPath } from './operator/kvcluster.js';
import { createNamespace, deleteNamespace, kubeClient, kubectl } from './operator/util.js';

function kvcluster(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name }, spec };
}

describe('invalid KVClusters are rejected with field-specific messages', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-val');
    ns = await createNamespace(kube, 'kvc-val');
    op = await installOperator(kube, opNs, { wait: false, sets: [`watchNamespaces={${opNs}}`] });
  });

  after(async () => {
    await kube.delete(kvcPath(ns, 'immutable')).catch(() => false);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
  });

  const apply = (obj: KubeObject): ReturnType<typeof kubectl> => kubectl(['apply', '-n', ns, '-f', '-'], toYaml(obj));

  test('replicas 2: spec.replicas is named, with the allowed values', async () => {
    const r = await apply(kvcluster('two', { replicas: 2 }));
    assert.notEqual(r.code, 0, 'apply must fail');
    assert.match(r.err, /spec\.replicas/);
    assert.match(r.err, /Unsupported value: 2/);
    assert.match(r.err, /"1", "3", "5", "7"/);
    assert.equal(await kube.find(kvcPath(ns, 'two')), undefined);
  });

  test('a malformed storage size: spec.storage.size is named', async () => {
    for (const size of ['ten gigs', '1GB', '-1Gi']) {
      const r = await apply(kvcluster('badsize', { replicas: 3, storage: { size } }));
      assert.notEqual(r.code, 0, `size ${size} must be refused`);
      assert.match(r.err, /spec\.storage\.size/, `size ${size}: ${r.err}`);
    }
    assert.equal(await kube.find(kvcPath(ns, 'badsize')), undefined);
  });

  test('other out-of-range values name their fields too', async () => {
    const r = await apply(kvcluster('badtls', { replicas: 3, tls: { mode: 'Sometimes' } }));
    assert.notEqual(r.code, 0);
    assert.match(r.err, /spec\.tls\.mode/);
    const s = await apply(kvcluster('nosecrets', { replicas: 3, tls: { mode: 'Secrets' } }));
    assert.notEqual(s.code, 0);
    assert.match(s.err, /spec\.tls\.serverSecretName/);
  });

  test('changing the storage class or the TLS mode of an existing cluster is refused, naming the field', async () => {
    const ok = await apply(kvcluster('immutable', { replicas: 3, storage: { size: '1Gi', storageClassName: 'kvorum-e2e-local' }, tls: { mode: 'OperatorManaged' } }));
    assert.equal(ok.code, 0, ok.err);

    const sc = await kubectl(['patch', 'kvc', 'immutable', '-n', ns, '--type=merge', '-p', '{"spec":{"storage":{"storageClassName":"fast-ssd"}}}']);
    assert.notEqual(sc.code, 0, 'storage class change must fail');
    assert.match(sc.err, /spec\.storage\.storageClassName/);
    assert.match(sc.err, /immutable/);

    const tls = await kubectl(['patch', 'kvc', 'immutable', '-n', ns, '--type=merge', '-p', '{"spec":{"tls":{"mode":"Disabled"}}}']);
    assert.notEqual(tls.code, 0, 'TLS mode change must fail');
    assert.match(tls.err, /spec\.tls\.mode/);
    assert.match(tls.err, /immutable/);

    // The stored object kept its values; a mutable field still changes.
    const kvc = await kube.get(kvcPath(ns, 'immutable'));
    assert.equal(kvc.spec.storage.storageClassName, 'kvorum-e2e-local');
    assert.equal(kvc.spec.tls.mode, 'OperatorManaged');
    const scale = await kubectl(['patch', 'kvc', 'immutable', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":5}}']);
    assert.equal(scale.code, 0, scale.err);
  });
});

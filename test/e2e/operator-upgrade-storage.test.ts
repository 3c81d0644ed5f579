// Acceptance (issue 12, storage growth): growing spec.storage.size on a
// StorageClass that allows expansion ends with every member's claim at the
// new size while the cluster stays Available; on the e2e default class (no
// expansion) the StorageResized condition and an Event say why and no claim
// changes; the API server rejects a shrink outright.
//
// Run: flock /tmp/kvorum-e2e.lock env KVORUM_E2E_SUBNET=233 npm run test:e2e -- operator-upgrade
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeList, KubeObject } from './kube/client.js';
import { provisionerName } from './env/config.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { condition, kvcPath, summary, waitAvailable } from './operator/kvcluster.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note } from './operator/util.js';

const EXPANDABLE = 'kvorum-e2e-expandable';

describe('growing members volumes', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));
  const claims = async (cluster: string): Promise<string[]> => {
    const list = await kube.get<KubeList>(`/api/v1/namespaces/${ns}/persistentvolumeclaims`);
    return list.items
      .filter((c: KubeObject) => (c.metadata.name ?? '').startsWith(`data-${cluster}-`))
      .map((c: KubeObject) => `${c.metadata.name}=${c.spec.resources.requests.storage}/${c.status?.capacity?.storage ?? '?'}`)
      .sort();
  };
  const create = async (name: string, storage: object): Promise<void> => {
    const kvc = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name }, spec: { replicas: 3, storage } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(kvc));
    assert.equal(r.code, 0, r.err);
    await waitAvailable(kube, ns, name, 3, 240_000, logs);
  };
  const patchSize = (name: string, size: string): Promise<{ code: number; err: string }> =>
    kubectl(['patch', 'kvc', name, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { storage: { size } } })]);

  before(async () => {
    kube = kubeClient();
    await kube.ensure('/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: EXPANDABLE },
      provisioner: provisionerName,
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
      allowVolumeExpansion: true,
    });
    opNs = await createNamespace(kube, 'kvop-vol');
    ns = await createNamespace(kube, 'kvc-vol');
    op = await installOperator(kube, opNs, { sets: ['replicaCount=1'] });
  });

  after(async () => {
    for (const n of ['grow', 'fixed']) await kube.delete(kvcPath(ns, n)).catch(() => false);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    await kube.delete(`/apis/storage.k8s.io/v1/storageclasses/${EXPANDABLE}`).catch(() => false);
    kube.close();
  });

  test('an expandable class: every claim grows to the new size, one at a time, the cluster Available throughout; a shrink is rejected', async () => {
    await create('grow', { size: '1Gi', storageClassName: EXPANDABLE });
    const t0 = Date.now();
    assert.equal((await patchSize('grow', '2Gi')).code, 0);
    let unavailable = 0;
    let last: KubeObject | undefined;
    await eventually(
      'every claim at 2Gi and StorageResized=True',
      240_000,
      async () => {
        const kvc = await kube.get(kvcPath(ns, 'grow'));
        last = kvc;
        if (condition(kvc, 'Available')?.status !== 'True') unavailable++;
        const c = await claims('grow');
        return c.every((x) => x.endsWith('=2Gi/2Gi')) && c.length === 3 && condition(kvc, 'StorageResized')?.status === 'True';
      },
      async () => `claims ${(await claims('grow')).join(', ')}; ${summary(last)}\n${await logs()}`,
      1000,
    );
    note(`storage growth 1Gi -> 2Gi on 3 members: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(unavailable, 0, 'Available stayed True');
    const shrink = await patchSize('grow', '1Gi');
    assert.notEqual(shrink.code, 0);
    assert.match(shrink.err, /cannot shrink/);
  });

  test('a class without expansion: a condition and an Event say so, and no claim changes', async () => {
    await create('fixed', { size: '1Gi' });
    const before = await claims('fixed');
    assert.equal((await patchSize('fixed', '2Gi')).code, 0);
    let last: KubeObject | undefined;
    await eventually(
      'StorageResized=False ExpansionNotAllowed',
      120_000,
      async () => {
        const kvc = await kube.get(kvcPath(ns, 'fixed'));
        last = kvc;
        return condition(kvc, 'StorageResized')?.reason === 'ExpansionNotAllowed';
      },
      async () => `${summary(last)}\n${await logs()}`,
    );
    assert.match(condition(last!, 'StorageResized')?.message ?? '', /does not allow volume expansion/);
    assert.equal(condition(last!, 'Available')?.status, 'True');
    const events = await kube.get<KubeList>(`/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent('involvedObject.kind=KVCluster,involvedObject.name=fixed')}`);
    assert.ok(events.items.some((e: KubeObject) => e.reason === 'ExpansionNotAllowed' && e.type === 'Warning'));
    assert.deepEqual(await claims('fixed'), before);
  });
});

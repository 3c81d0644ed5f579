// Self-test of the operator suite's tools, without the operator: a hand-made
// 3-member StatefulSet of `kvorum node` (plain text) is the target. The
// continuous writer keeps acknowledging writes while a member pod is deleted;
// the checker finds every acknowledged key, the member list matches the
// StatefulSet, and the checker does notice a key that was never written and a
// member list that does not match.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeClient } from './kube/client.js';
import { everyMemberHasWrites, findLostWrites, membershipMismatch, membershipView, type ClusterRef } from './operator/checker.js';
import { runEtcdctlPod } from './operator/etcdctl-pod.js';
import { ContinuousWriter } from './operator/writer.js';
import { createNamespace, deleteNamespace, eventually, isPodReady, kubeClient, note } from './operator/util.js';

const CLUSTER = 'plain';

function plainStatefulSet(ns: string): object {
  const labels = { 'app.kubernetes.io/name': 'kvorum', 'app.kubernetes.io/instance': CLUSTER };
  const peer = (i: number): string => `http://${CLUSTER}-${i}.${CLUSTER}-peer.${ns}.svc:2380`;
  const initialCluster = [0, 1, 2].map((i) => `${CLUSTER}-${i}=${peer(i)}`).join(',');
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: CLUSTER, labels },
    spec: {
      serviceName: `${CLUSTER}-peer`,
      replicas: 3,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'kvorum',
              image: 'ghcr.io/kvorum/kvorum:0.1.0',
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              args: [
                'node',
                '--name=$(POD_NAME)',
                '--data-dir=/data',
                '--listen-client-urls=http://0.0.0.0:2379',
                `--advertise-client-urls=http://$(POD_NAME).${CLUSTER}-peer.${ns}.svc:2379`,
                '--listen-peer-urls=http://0.0.0.0:2380',
                `--initial-advertise-peer-urls=http://$(POD_NAME).${CLUSTER}-peer.${ns}.svc:2380`,
                `--initial-cluster=${initialCluster}`,
                '--initial-cluster-state=new',
                '--listen-metrics-urls=http://0.0.0.0:2381',
              ],
              readinessProbe: { httpGet: { path: '/readyz', port: 2381 }, periodSeconds: 2 },
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
    },
  };
}

describe('operator e2e tools against a plain kvorum StatefulSet', () => {
  let kube: KubeClient;
  let ns: string;
  let ref: ClusterRef;

  before(async () => {
    kube = kubeClient();
    ns = await createNamespace(kube, 'kvtools');
    ref = { kube, namespace: ns, cluster: CLUSTER, tls: undefined };
    const svc = (name: string, headless: boolean): object => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: {
        ...(headless ? { clusterIP: 'None', publishNotReadyAddresses: true } : {}),
        selector: { 'app.kubernetes.io/instance': CLUSTER },
        ports: [{ name: 'client', port: 2379 }, ...(headless ? [{ name: 'peer', port: 2380 }] : [])],
      },
    });
    await kube.create(`/api/v1/namespaces/${ns}/services`, svc(`${CLUSTER}-peer`, true));
    await kube.create(`/api/v1/namespaces/${ns}/services`, svc(`${CLUSTER}-client`, false));
    await kube.create(`/apis/apps/v1/namespaces/${ns}/statefulsets`, plainStatefulSet(ns));
  });

  after(async () => {
    await deleteNamespace(kube, ns);
    kube.close();
  });

  const readyPods = (): Promise<boolean> =>
    eventually('3 ready kvorum pods', 120_000, async () => {
      const sts = await kube.get(`/apis/apps/v1/namespaces/${ns}/statefulsets/${CLUSTER}`);
      return sts.status?.readyReplicas === 3 && sts.status?.replicas === 3;
    });

  test('etcdctl in a debian pod reaches the client Service by name', async () => {
    await readyPods();
    const r = await runEtcdctlPod(kube, { namespace: ns, endpoint: `http://${CLUSTER}-client.${ns}.svc:2379`, script: '$ETCDCTL put greeting hello\n$ETCDCTL get greeting --print-value-only' });
    assert.equal(r.exitCode, 0, r.log);
    assert.match(r.log, /^OK\nhello\n?$/m);
  });

  test('the writer keeps writing through a member pod deletion and the checker finds every acknowledged key', async () => {
    await readyPods();
    const prefix = 'tools/';
    const writer = new ContinuousWriter({ kube, namespace: ns, cluster: CLUSTER, tls: undefined, prefix, maxWrites: 15_000, maxDurationMs: 120_000 }).start();
    await writer.progressed(50, 30_000);
    const victim = await kube.get(`/api/v1/namespaces/${ns}/pods/${CLUSTER}-1`);
    await kube.delete(`/api/v1/namespaces/${ns}/pods/${CLUSTER}-1`);
    await eventually('plain-1 back and ready', 120_000, async () => {
      const p = await kube.find(`/api/v1/namespaces/${ns}/pods/${CLUSTER}-1`);
      return p !== undefined && p.metadata.uid !== victim.metadata.uid && isPodReady(p);
    });
    await writer.progressed(50, 30_000);
    const report = await writer.stop();
    note(`writer: ${report.acknowledged} acknowledged, ${report.failed} failed, longest gap ${report.longestGapMs}ms; errors ${writer.errorSummary()}`);
    assert.ok(report.acknowledged >= 100, `acknowledged ${report.acknowledged}`);

    const lost = await findLostWrites(ref, prefix, writer.acknowledged);
    assert.deepEqual({ missing: lost.missing, wrongValue: lost.wrongValue }, { missing: [], wrongValue: [] });
    assert.equal(lost.checked, report.acknowledged);
    await everyMemberHasWrites(ref, prefix, writer.acknowledged);

    // The checker is not blind: a key never written and a changed value are reported.
    const forged = new Map(writer.acknowledged);
    const [someKey] = forged.keys();
    forged.set(someKey, 'another value');
    forged.set(`${prefix}never-written`, 'x');
    const caught = await findLostWrites(ref, prefix, forged);
    assert.deepEqual(caught.missing, [`${prefix}never-written`]);
    assert.deepEqual(caught.wrongValue, [someKey]);
  });

  test('the member list matches the StatefulSet, and a mismatch is described', async () => {
    await readyPods();
    const view = await eventually('member list == StatefulSet', 60_000, async () => {
      const v = await membershipView(ref);
      return membershipMismatch(v, 3) === undefined && v;
    });
    assert.deepEqual(view.members.map((m) => m.name).sort(), [`${CLUSTER}-0`, `${CLUSTER}-1`, `${CLUSTER}-2`]);
    assert.match(membershipMismatch(view, 5) ?? '', /StatefulSet replicas 3, want 5/);
    const withLearner = { ...view, members: view.members.map((m, i) => (i === 0 ? { ...m, isLearner: true } : m)) };
    assert.match(membershipMismatch(withLearner, 3) ?? '', /learners left: plain-/);
    const missing = { ...view, members: view.members.slice(1) };
    assert.match(membershipMismatch(missing, 3) ?? '', /2 members for 3 pods/);
  });
});

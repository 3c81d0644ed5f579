// The reconciler's rollOut step against fakes: with the StatefulSet's
// updateRevision ahead of every pod, one pass deletes exactly one pod (a
// follower), after status.upgrade names it; the next pass, with that member
// still restarting, deletes nothing; a version skip is refused and the
// StatefulSet keeps the members' version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { KVCluster } from '../../../../operator/api/index.js';
import { ClusterReconciler, type ClusterAPI } from '../../../../operator/cluster/reconciler.js';
import type { KubeClient, KubeObject } from '../../../../operator/kube/client.js';
import type { ResourceType } from '../../../../operator/kube/resources.js';
import type { EndpointStatus } from '../../../../operator/membership/client.js';
import { OperatorMetrics } from '../../../../operator/runtime/metrics.js';

const NS = 'team';
const NAME = 'kv';
const id = (o: number): string => (2n ** 63n + BigInt(o)).toString();
const host = (o: number): string => `${NAME}-${o}.${NAME}-peer.${NS}.svc`;

function setUp(version: string, podVersion = version) {
  const log: string[] = [];
  const objects = new Map<string, KubeObject>();
  const key = (r: ResourceType, ns: string | undefined, name: string | undefined): string => `${r.plural}/${ns ?? ''}/${name ?? ''}`;
  const healthy = new Set([0, 1, 2]);
  const kvc: KVCluster = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: NAME, namespace: NS, uid: 'u', generation: 2 }, spec: { replicas: 3, version, tls: { mode: 'Disabled' } } };
  const pods = [0, 1, 2].map((o) => ({
    metadata: { name: `${NAME}-${o}`, labels: { 'controller-revision-hash': 'kv-old', 'app.kubernetes.io/version': podVersion } },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  }));
  objects.set(`configmaps/${NS}/${NAME}-config`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${NAME}-config`, namespace: NS }, data: { 'initial-cluster-state': 'existing', 'initial-cluster': '' } } as KubeObject);
  objects.set(`statefulsets/${NS}/${NAME}`, { metadata: { name: NAME, namespace: NS }, spec: { replicas: 3 }, status: { readyReplicas: 3, updatedReplicas: 0, replicas: 3, currentRevision: 'kv-old', updateRevision: 'kv-new' } } as KubeObject);
  const client = {
    get: async (r: ResourceType, ns: string | undefined, name: string) => objects.get(key(r, ns, name)),
    apply: async (r: ResourceType, obj: KubeObject) => {
      const k = key(r, obj.metadata.namespace, obj.metadata.name);
      if (r.plural === 'statefulsets') log.push(`apply sts image ${(obj.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image}`);
      const prev = objects.get(k);
      const merged = { ...prev, ...obj, ...(prev?.status ? { status: prev.status } : {}) };
      objects.set(k, merged);
      return merged;
    },
    applyStatus: async (_r: ResourceType, obj: KubeObject) => {
      const st = obj.status as KVCluster['status'];
      log.push(`status upgrade.currentStep=${st?.upgrade?.currentStep?.member ?? '-'}`);
      kvc.status = st;
      return obj;
    },
    mergePatch: async () => ({}),
    delete: async (r: ResourceType, _ns: string, name: string) => (log.push(`delete ${r.plural}/${name}`), true),
  };
  const api: ClusterAPI = {
    memberList: async () => [0, 1, 2].map((o) => ({ id: id(o), name: `${NAME}-${o}`, peerURLs: [`http://${host(o)}:2380`], clientURLs: [`http://${host(o)}:2379`], isLearner: false })),
    status: async (endpoint: string): Promise<EndpointStatus> => {
      const o = [0, 1, 2].find((x) => endpoint.includes(host(x)))!;
      if (!healthy.has(o)) throw new Error('unreachable');
      return { endpoint, memberId: id(o), clusterId: '4096', leaderId: id(0), raftIndex: 50, raftAppliedIndex: 50, raftTerm: 3, isLearner: false, version: '3.5.0', errors: [], dbSize: 1 };
    },
    memberAdd: async () => assert.fail('no membership change'),
    memberRemove: async () => assert.fail('no membership change'),
    memberPromote: async () => assert.fail('no membership change'),
    moveLeader: async () => assert.fail('no leader move expected'),
    close: () => undefined,
  };
  const reconciler = new ClusterReconciler({
    client: client as unknown as KubeClient,
    caches: { getCluster: () => kvc, owned: (kind) => (kind === 'pod' ? pods : []) as KubeObject[] },
    events: { record: async (_o, type, reason, note) => void log.push(`event ${type} ${reason}: ${note}`) },
    log: pino({ level: 'silent' }),
    metrics: new OperatorMetrics(),
    options: {},
    clusterClient: () => api,
  });
  return { pass: () => reconciler.reconcile(`${NS}/${NAME}`), log, kvc, pods, healthy };
}

test('one pass replaces exactly one follower, recording it in status.upgrade before the deletion; the next pass waits for it', async () => {
  const s = setUp('0.2.0', '0.1.0');
  await s.pass();
  const deletes = s.log.filter((l) => l.startsWith('delete'));
  assert.deepEqual(deletes, ['delete pods/kv-2']);
  const recorded = s.log.findIndex((l) => l === 'status upgrade.currentStep=kv-2');
  assert.ok(recorded >= 0 && recorded < s.log.indexOf('delete pods/kv-2'), s.log.join('\n'));
  assert.equal(s.kvc.status?.upgrade?.targetRevision, 'kv-new');
  assert.equal(s.kvc.status?.targetVersion, '0.2.0');
  assert.equal(s.kvc.status?.conditions?.find((c) => c.type === 'Progressing')?.reason, 'Upgrading');
  assert.equal(s.kvc.status?.phase, 'Upgrading');

  // kv-2 comes back on the new revision but is not healthy yet: nothing else is deleted.
  s.pods[2]!.metadata.labels['controller-revision-hash'] = 'kv-new';
  s.pods[2]!.status.conditions = [{ type: 'Ready', status: 'False' }];
  s.healthy.delete(2);
  s.log.length = 0;
  await s.pass();
  assert.deepEqual(s.log.filter((l) => l.startsWith('delete')), []);
  assert.match(s.kvc.status?.conditions?.find((c) => c.type === 'Progressing')?.message ?? '', /waiting for kv-2/);
});

test('a skipped minor version is refused: the StatefulSet keeps the members version, a condition and an Event say why', async () => {
  const s = setUp('0.3.0', '0.1.0');
  await s.pass();
  assert.ok(s.log.includes('apply sts image ghcr.io/kvorum/kvorum:0.1.0'), s.log.join('\n'));
  const progressing = s.kvc.status?.conditions?.find((c) => c.type === 'Progressing');
  assert.equal(progressing?.status, 'False');
  assert.equal(progressing?.reason, 'VersionSkip');
  assert.ok(s.log.some((l) => l.startsWith('event Warning VersionSkip')));
});

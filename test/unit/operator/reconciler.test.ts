// The KVCluster reconciler end to end against fakes: a Kubernetes API kept in
// memory and a cluster API that counts its calls. One pass reads the cluster
// once, and status and membership agree on what they read; a full quota is
// reported as NoSpace, not as a lost quorum.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { KVCluster } from '../../../operator/api/index.js';
import { membershipRunner } from '../../../operator/cluster/membership-port.js';
import { ClusterReconciler, type ClusterAPI } from '../../../operator/cluster/reconciler.js';
import type { KubeClient, KubeObject } from '../../../operator/kube/client.js';
import type { EventRecorder } from '../../../operator/kube/events.js';
import type { ResourceType } from '../../../operator/kube/resources.js';
import type { ClusterMember, EndpointStatus } from '../../../operator/membership/client.js';
import { OperatorMetrics } from '../../../operator/runtime/metrics.js';
import { caFingerprint, desiredTLSSecrets } from '../../../operator/tls/index.js';

const NS = 'team';
const NAME = 'kv';
const id = (o: number): string => (2n ** 63n + BigInt(o)).toString();
const host = (o: number): string => `${NAME}-${o}.${NAME}-peer.${NS}.svc`;

function fakeKube(): { client: KubeClient; objects: Map<string, KubeObject>; statuses: KubeObject[] } {
  const objects = new Map<string, KubeObject>();
  const statuses: KubeObject[] = [];
  const key = (r: ResourceType, ns: string | undefined, name: string | undefined): string => `${r.plural}/${ns ?? ''}/${name ?? ''}`;
  const client = {
    get: async (r: ResourceType, ns: string | undefined, name: string) => objects.get(key(r, ns, name)),
    apply: async (r: ResourceType, obj: KubeObject) => {
      const k = key(r, obj.metadata.namespace, obj.metadata.name);
      const merged = { ...objects.get(k), ...obj };
      objects.set(k, merged);
      return merged;
    },
    applyStatus: async (_r: ResourceType, obj: KubeObject) => {
      statuses.push(obj);
      return obj;
    },
    mergePatch: async () => ({}),
    delete: async () => true,
  };
  return { client: client as unknown as KubeClient, objects, statuses };
}

interface ClusterState {
  errors: string[];
  dbSize: number;
}

function fakeClusterAPI(state: ClusterState): ClusterAPI & { calls: string[] } {
  const members: ClusterMember[] = [0, 1, 2].map((o) => ({ id: id(o), name: `${NAME}-${o}`, peerURLs: [`http://${host(o)}:2380`], clientURLs: [`http://${host(o)}:2379`], isLearner: false }));
  const calls: string[] = [];
  const refuse = async (): Promise<never> => {
    throw new Error('no membership change expected');
  };
  return {
    calls,
    memberList: async () => (calls.push('memberList'), members),
    status: async (endpoint: string): Promise<EndpointStatus> => {
      calls.push(`status ${endpoint}`);
      const m = members.find((x) => x.clientURLs[0] === endpoint);
      if (!m) throw new Error(`unknown endpoint ${endpoint}`);
      return { endpoint, memberId: m.id, clusterId: '4096', leaderId: id(0), raftIndex: 50, raftAppliedIndex: 50, raftTerm: 3, isLearner: false, version: '3.5.0', errors: state.errors, dbSize: state.dbSize };
    },
    memberAdd: refuse,
    memberRemove: refuse,
    memberPromote: refuse,
    moveLeader: refuse,
    close: () => undefined,
  };
}

function setUp(state: ClusterState, spec: Partial<KVCluster['spec']> = {}) {
  const kube = fakeKube();
  const api = fakeClusterAPI(state);
  const events: string[] = [];
  const recorder: EventRecorder = { record: async (_o, type, reason, note) => void events.push(`${type} ${reason}: ${note}`) };
  const kvc: KVCluster = {
    apiVersion: 'kvorum.io/v1alpha1',
    kind: 'KVCluster',
    metadata: { name: NAME, namespace: NS, uid: 'u-1', generation: 1 },
    spec: { replicas: 3, tls: { mode: 'Disabled' }, nodeConfig: { quotaBackendBytes: '16Mi' }, ...spec },
  };
  const pods = [0, 1, 2].map((o) => ({ metadata: { name: `${NAME}-${o}` }, status: { phase: 'Running', podIP: `10.0.0.${o + 2}`, conditions: [{ type: 'Ready', status: 'True' }] } }));
  const pvcs = [0, 1, 2].map((o) => ({ metadata: { name: `data-${NAME}-${o}`, uid: `pvc-${o}`, annotations: { 'kvorum.io/member-id': id(o) } } }));
  // A bootstrapped cluster of three: the ConfigMap says `existing`, the StatefulSet runs three ready pods.
  kube.objects.set(`configmaps/${NS}/${NAME}-config`, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${NAME}-config`, namespace: NS },
    data: { 'initial-cluster-state': 'existing', 'initial-cluster': [0, 1, 2].map((o) => `${NAME}-${o}=http://${host(o)}:2380`).join(',') },
  } as KubeObject);
  kube.objects.set(`statefulsets/${NS}/${NAME}`, { metadata: { name: NAME, namespace: NS }, spec: { replicas: 3 }, status: { readyReplicas: 3, updatedReplicas: 3, replicas: 3 } } as KubeObject);
  const reconciler = new ClusterReconciler({
    client: kube.client,
    caches: {
      getCluster: () => kvc,
      owned: (kind) => (kind === 'pod' ? pods : kind === 'pvc' ? pvcs : []) as KubeObject[],
    },
    events: recorder,
    log: pino({ level: 'silent' }),
    metrics: new OperatorMetrics(),
    membership: membershipRunner(kube.client, recorder),
    options: {},
    clusterClient: () => api,
  });
  // What the informer would hand the next pass: the status last written.
  const pass = async () => {
    const r = await reconciler.reconcile(`${NS}/${NAME}`);
    const last = kube.statuses.at(-1);
    if (last) kvc.status = last.status as KVCluster['status'];
    return r;
  };
  return { pass, api, events, kvc, statuses: kube.statuses, objects: kube.objects, pods: pods as KubeObject[] };
}

const cond = (kvc: KVCluster, type: string) => kvc.status?.conditions?.find((c) => c.type === type);

test('one pass reads the cluster once: one member list and one status per member, for status and membership alike', async () => {
  const s = setUp({ errors: [], dbSize: 1_000_000 });
  const r = await s.pass();
  assert.deepEqual(s.api.calls.sort(), ['memberList', ...[0, 1, 2].map((o) => `status http://${host(o)}:2379`)]);
  assert.equal(s.kvc.status?.leader, `${NAME}-0`);
  assert.equal(s.kvc.status?.phase, 'Available');
  assert.equal(cond(s.kvc, 'Available')?.status, 'True');
  assert.equal(cond(s.kvc, 'Progressing')?.reason, 'MembersMatchSpec');
  assert.deepEqual(
    s.kvc.status?.members?.map((m) => [m.name, m.role, m.healthy]),
    [[`${NAME}-0`, 'leader', true], [`${NAME}-1`, 'follower', true], [`${NAME}-2`, 'follower', true]],
  );
  assert.equal(r.requeueAfterMs, 30_000, 'settled: the idle requeue');
  assert.ok(s.events.some((e) => e.startsWith('Normal Available')));
});

test('a full quota is NoSpace with the size and the quota, not a lost quorum; the Event says how to recover', async () => {
  const state = { errors: [`memberID:${BigInt(id(0)).toString(16)} alarm:NOSPACE`], dbSize: 17 * 1024 * 1024 };
  const s = setUp(state);
  await s.pass();
  const available = cond(s.kvc, 'Available');
  assert.equal(available?.status, 'False');
  assert.equal(available?.reason, 'NoSpace');
  assert.match(available?.message ?? '', /3\/3 voting members healthy, leader kv-0/);
  const degraded = cond(s.kvc, 'Degraded');
  assert.equal(degraded?.status, 'True');
  assert.equal(degraded?.reason, 'NoSpace');
  assert.match(degraded?.message ?? '', /database size 17 MiB reached the quota of 16 MiB/);
  assert.doesNotMatch(degraded?.message ?? '', /quorum/i);
  assert.equal(cond(s.kvc, 'MembersHealthy')?.status, 'True');
  assert.equal(s.kvc.status?.phase, 'Degraded');
  assert.ok(s.kvc.status?.members?.every((m) => m.healthy), 'members healthy for quorum purposes');
  const noSpace = s.events.filter((e) => e.startsWith('Warning NoSpace'));
  assert.equal(noSpace.length, 1);
  assert.match(noSpace[0]!, /etcdctl compact <revision>.*etcdctl alarm disarm/);
  assert.ok(!s.events.some((e) => /QuorumLost|QuorumAtRisk/.test(e)), s.events.join('\n'));

  // Compacted and disarmed: Available again.
  state.errors = [];
  state.dbSize = 2 * 1024 * 1024;
  await s.pass();
  assert.equal(cond(s.kvc, 'Available')?.status, 'True');
  assert.equal(cond(s.kvc, 'Degraded')?.status, 'False');
  assert.equal(s.kvc.status?.phase, 'Available');
  assert.equal(s.events.filter((e) => e.startsWith('Normal Available')).length, 1);
});

test('an invalid spec is reported as such and nothing else happens: no objects, no cluster calls', async () => {
  const s = setUp({ errors: [], dbSize: 1 }, { replicas: 2 });
  const r = await s.pass();
  assert.deepEqual(r, {});
  assert.equal(s.kvc.status?.phase, 'Failed');
  assert.equal(cond(s.kvc, 'Degraded')?.reason, 'InvalidSpec');
  assert.match(cond(s.kvc, 'Degraded')?.message ?? '', /replicas/);
  assert.deepEqual(s.api.calls, []);
});

describe('CA rotation through the reconciler (operator/tls/rotation.ts)', () => {
  type Annotated = KubeObject & { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } };
  const TLS_HASH = 'kvorum.io/tls-hash';

  test('a lost CA with no member Secret to recover it from: TLSTrustNotFound, and no Secret or StatefulSet is written', async () => {
    const s = setUp({ errors: [], dbSize: 1 }, { tls: { mode: 'OperatorManaged' } });
    const before = JSON.stringify(s.objects.get(`statefulsets/${NS}/${NAME}`));
    await s.pass();
    assert.equal(cond(s.kvc, 'Degraded')?.reason, 'TLSTrustNotFound');
    assert.match(cond(s.kvc, 'Degraded')?.message ?? '', /no member's Secret carries the CA/);
    assert.deepEqual([...s.objects.keys()].filter((k) => k.startsWith('secrets/')), []);
    assert.equal(JSON.stringify(s.objects.get(`statefulsets/${NS}/${NAME}`)), before, 'the StatefulSet is untouched');
    assert.deepEqual(s.api.calls, [], 'nothing dialled');
  });

  test('requested by annotation: each phase waits for every member pod to carry its TLS hash, then the next; the record ends Completed', async () => {
    const s = setUp({ errors: [], dbSize: 1 }, { tls: { mode: 'OperatorManaged' } });
    for (const secret of (await desiredTLSSecrets(s.kvc, new Map())).secrets) s.objects.set(`secrets/${NS}/${secret.metadata.name}`, secret as KubeObject);
    s.kvc.metadata.annotations = { 'kvorum.io/ca-rotation-requested-at': 'now' };
    const templateHash = (): string => (s.objects.get(`statefulsets/${NS}/${NAME}`) as Annotated).spec?.template?.metadata?.annotations?.[TLS_HASH] ?? '';
    const rollPods = (): void => {
      for (const p of s.pods) p.metadata = { ...p.metadata, annotations: { [TLS_HASH]: templateHash() } };
    };
    const phase = (): string | undefined => s.kvc.status?.tlsRotation?.phase;

    await s.pass();
    assert.equal(phase(), 'TrustBoth');
    assert.equal(s.kvc.status?.tlsRotation?.requestedAt, 'now');
    assert.ok(s.events.some((e) => e.startsWith('Normal CARotationStarted')));
    const seen = [phase()];
    for (let i = 0; i < 3; i++) {
      await s.pass();
      assert.equal(phase(), seen.at(-1), 'no member restarted yet: the phase stays');
      rollPods();
      await s.pass();
      seen.push(phase());
      await s.pass(); // the next phase's Secrets, a new hash in the template
    }
    assert.deepEqual(seen, ['TrustBoth', 'ReissueLeaves', 'DropOld', 'Completed']);
    assert.ok(s.kvc.status?.tlsRotation?.completedAt);
    assert.ok(s.events.some((e) => e.startsWith('Normal CARotationCompleted')));
    const peer = s.objects.get(`secrets/${NS}/${NAME}-peer-tls`) as unknown as { data: Record<string, string> };
    const ca = s.objects.get(`secrets/${NS}/${NAME}-ca`) as unknown as { data: Record<string, string> };
    assert.equal(Buffer.from(peer.data['ca.crt']!, 'base64').toString().match(/BEGIN CERTIFICATE/g)?.length, 1, 'the old CA is dropped');
    assert.equal(caFingerprint(Buffer.from(ca.data['ca.crt']!, 'base64').toString()), s.kvc.status?.tlsRotation?.newCAFingerprint);
    // Served: the same annotation value asks nothing more.
    await s.pass();
    assert.equal(phase(), 'Completed');
  });
});

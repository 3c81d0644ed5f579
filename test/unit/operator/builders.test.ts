import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultsFor, type KVCluster } from '../../../operator/api/index.js';
import {
  buildClientService,
  buildConfigMap,
  buildPeerService,
  buildPodDisruptionBudget,
  buildStatefulSet,
  memberArgs,
} from '../../../operator/cluster/builders.js';
import { memberOrdinal } from '../../../contract/index.js';
import { initialClusterString, peerURL } from '../../../operator/cluster/names.js';
import { quorumOf } from '../../../operator/membership/quorum.js';
import { parseNodeConfig } from '../../../node/config.js';
import { tlsPodSettings } from '../../../operator/tls/pod.js';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function cluster(spec: KVCluster['spec'] = {}): KVCluster {
  return defaultsFor({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'kv', namespace: 'team', uid: 'u-1' }, spec });
}

const owner = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', name: 'kv', uid: 'u-1', controller: true, blockOwnerDeletion: true };

test('peer Service: headless, publishes not-ready members, client and peer ports, owned by the cluster', () => {
  const s = buildPeerService(cluster()) as Any;
  assert.equal(s.metadata.name, 'kv-peer');
  assert.equal(s.metadata.namespace, 'team');
  assert.deepEqual(s.metadata.ownerReferences, [owner]);
  assert.equal(s.spec.clusterIP, 'None');
  assert.equal(s.spec.publishNotReadyAddresses, true);
  assert.deepEqual(s.spec.ports.map((p: Any) => p.port), [2379, 2380]);
  assert.deepEqual(s.spec.selector, { 'app.kubernetes.io/name': 'kvorum', 'app.kubernetes.io/instance': 'kv' });
  assert.equal(s.metadata.labels['app.kubernetes.io/managed-by'], 'kvorum-operator');
});

test('client Service: only the client port, ready members only', () => {
  const s = buildClientService(cluster()) as Any;
  assert.equal(s.metadata.name, 'kv-client');
  assert.equal(s.spec.publishNotReadyAddresses, undefined);
  assert.deepEqual(s.spec.ports.map((p: Any) => p.port), [2379]);
});

test('PDB: minAvailable is a quorum for every allowed size', () => {
  for (const [replicas, maxUnavailable] of [[1, 0], [3, 1], [5, 2], [7, 3]]) {
    const pdb = buildPodDisruptionBudget(cluster({ replicas })) as Any;
    assert.equal(pdb.spec.maxUnavailable, maxUnavailable, `replicas ${replicas}`);
    assert.equal(replicas - pdb.spec.maxUnavailable, quorumOf(replicas));
  }
});

test('ConfigMap: state and name=peerURL list', () => {
  const c = cluster();
  const members = [0, 1, 2].map((i) => ({ name: `kv-${i}`, peerURL: peerURL(c, `kv-${i}`, 'https') }));
  const cm = buildConfigMap(c, 'new', members) as Any;
  assert.equal(cm.metadata.name, 'kv-config');
  assert.equal(cm.data['initial-cluster-state'], 'new');
  assert.equal(cm.data['initial-cluster'], 'kv-0=https://kv-0.kv-peer.team.svc:2380,kv-1=https://kv-1.kv-peer.team.svc:2380,kv-2=https://kv-2.kv-peer.team.svc:2380');
  assert.equal(initialClusterString([]), '');
});

test('StatefulSet: Parallel, peer serviceName, data claim, env from the ConfigMap, probes on the metrics port', () => {
  const c = cluster({ storage: { size: '2Gi', storageClassName: 'fast', retentionPolicy: { whenDeleted: 'Delete' } } });
  const sts = buildStatefulSet(c, { tls: tlsPodSettings(c), replicas: 3, nodeImageRepository: 'registry.local/kvorum' }) as Any;
  assert.equal(sts.metadata.name, 'kv');
  assert.equal(sts.spec.replicas, 3);
  assert.equal(sts.spec.serviceName, 'kv-peer');
  assert.equal(sts.spec.podManagementPolicy, 'Parallel');
  assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Delete', whenScaled: 'Retain' });
  const vct = sts.spec.volumeClaimTemplates[0];
  assert.equal(vct.metadata.name, 'data');
  assert.equal(vct.spec.resources.requests.storage, '2Gi');
  assert.equal(vct.spec.storageClassName, 'fast');
  const pod = sts.spec.template.spec;
  const ctr = pod.containers[0];
  assert.equal(ctr.image, 'registry.local/kvorum:0.1.0');
  assert.deepEqual(
    ctr.env.filter((e: Any) => e.valueFrom?.configMapKeyRef).map((e: Any) => [e.name, e.valueFrom.configMapKeyRef.name, e.valueFrom.configMapKeyRef.key]),
    [
      ['ETCD_INITIAL_CLUSTER_STATE', 'kv-config', 'initial-cluster-state'],
      ['ETCD_INITIAL_CLUSTER', 'kv-config', 'initial-cluster'],
    ],
  );
  assert.equal(ctr.readinessProbe.httpGet.path, '/readyz');
  assert.equal(ctr.livenessProbe.httpGet.path, '/livez');
  assert.equal(ctr.readinessProbe.httpGet.port, 'metrics');
  assert.ok(ctr.ports.some((p: Any) => p.name === 'metrics' && p.containerPort === 2381));
  assert.deepEqual(sts.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'kvorum', 'app.kubernetes.io/instance': 'kv' });
  for (const [k, v] of Object.entries(sts.spec.selector.matchLabels)) assert.equal(sts.spec.template.metadata.labels[k], v);
  // TLS (OperatorManaged by default): Secret volumes mounted, https URLs.
  assert.ok(pod.volumes.some((v: Any) => v.secret?.secretName === 'kv-server-tls'));
  assert.ok(ctr.args.includes('--listen-client-urls=https://0.0.0.0:2379'));
  assert.ok(ctr.args.includes('--client-cert-auth=true'));
});

test('spec.image with a tag wins over the repository; podTemplate fields reach the pod', () => {
  const c = cluster({
    image: 'my/kv:dev',
    tls: { mode: 'Disabled' },
    resources: { requests: { cpu: '100m' } },
    podTemplate: { labels: { team: 'a' }, annotations: { note: 'x' }, nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'k', operator: 'Exists' }], priorityClassName: 'high' },
  });
  const sts = buildStatefulSet(c, { tls: tlsPodSettings(c), replicas: 1 }) as Any;
  const t = sts.spec.template;
  assert.equal(t.spec.containers[0].image, 'my/kv:dev');
  assert.deepEqual(t.spec.containers[0].resources, { requests: { cpu: '100m' } });
  assert.equal(t.metadata.labels.team, 'a');
  assert.equal(t.metadata.annotations.note, 'x');
  assert.deepEqual(t.spec.nodeSelector, { disk: 'ssd' });
  assert.equal(t.spec.priorityClassName, 'high');
  assert.equal(t.spec.tolerations.length, 1);
  assert.deepEqual(t.spec.volumes, []);
  assert.ok(t.spec.containers[0].args.includes('--listen-peer-urls=http://0.0.0.0:2380'));
});

test('member flags parse with the node\'s own flag parser, and nodeConfig maps to etcd flags', () => {
  const c = cluster({ tls: { mode: 'Disabled' }, nodeConfig: { electionTimeoutMs: 2000, heartbeatIntervalMs: 200, snapshotCount: 5000, quotaBackendBytes: '1Gi', autoCompactionMode: 'revision', autoCompactionRetention: '10000', clientWorkers: 4 } });
  const args = memberArgs(c, 'http', []).slice(1).map((a) => a.replaceAll('$(POD_NAME)', 'kv-1'));
  const cfg = parseNodeConfig(args, { ETCD_INITIAL_CLUSTER: 'kv-0=http://kv-0.kv-peer.team.svc:2380,kv-1=http://kv-1.kv-peer.team.svc:2380', ETCD_INITIAL_CLUSTER_STATE: 'new' });
  assert.equal(cfg.name, 'kv-1');
  assert.equal(cfg.dataDir, '/var/lib/kvorum');
  assert.deepEqual(cfg.advertiseClientUrls, ['http://kv-1.kv-peer.team.svc:2379']);
  assert.deepEqual(cfg.initialAdvertisePeerUrls, ['http://kv-1.kv-peer.team.svc:2380']);
  assert.equal(cfg.initialClusterToken, 'team-kv-u-1');
  assert.equal(cfg.electionMs, 2000);
  assert.equal(cfg.heartbeatMs, 200);
  assert.equal(cfg.snapshotCount, 5000);
  assert.equal(cfg.quotaBackendBytes, 1024 ** 3);
  assert.deepEqual(cfg.autoCompaction, { mode: 'revision', retention: 10000 });
  assert.equal(cfg.clientWorkers, 4);
  assert.ok(args.includes('--client-workers=4'));
  assert.equal(cfg.listenMetricsUrls[0]?.toString(), 'http://0.0.0.0:2381/');
  assert.equal(cfg.initialCluster.length, 2);
});

test('clientWorkers becomes --client-workers only when set, and a change rolls the members like other node settings', () => {
  const sts = (nodeConfig?: KVCluster['spec']['nodeConfig']): Any => {
    const c = cluster({ replicas: 3, tls: { mode: 'Disabled' }, ...(nodeConfig && { nodeConfig }) });
    return buildStatefulSet(c, { tls: tlsPodSettings(c), replicas: 3 });
  };
  const flags = (s: Any): string[] => (s.spec.template.spec.containers[0].args as string[]).filter((a) => a.startsWith('--client-workers'));
  // Unset: no flag, so a cluster that does not use it keeps the template it had.
  assert.deepEqual(flags(sts()), []);
  assert.deepEqual(flags(sts({ snapshotCount: 5000 })), []);
  assert.deepEqual(flags(sts({ clientWorkers: 0 })), ['--client-workers=0']);
  assert.deepEqual(flags(sts({ clientWorkers: 64 })), ['--client-workers=64']);
  for (const n of [0, 3, 64]) {
    const args = memberArgs(cluster({ tls: { mode: 'Disabled' }, nodeConfig: { clientWorkers: n } }), 'http', []).slice(1).map((a) => a.replaceAll('$(POD_NAME)', 'kv-0'));
    assert.equal(parseNodeConfig(args, { ETCD_INITIAL_CLUSTER: 'kv-0=http://kv-0.kv-peer.team.svc:2380' }).clientWorkers, n);
  }
  // Setting or changing it changes the pod template's args and nothing else, the
  // same way electionTimeoutMs does: a new revision, which the operator rolls out.
  const withoutArgs = (s: Any): Any => ({ ...s.spec.template, spec: { ...s.spec.template.spec, containers: [{ ...s.spec.template.spec.containers[0], args: undefined }] } });
  assert.notDeepEqual(sts({ clientWorkers: 2 }).spec.template, sts().spec.template);
  assert.notDeepEqual(sts({ clientWorkers: 2 }).spec.template, sts({ clientWorkers: 4 }).spec.template);
  assert.deepEqual(withoutArgs(sts({ clientWorkers: 2 })), withoutArgs(sts()));
  assert.deepEqual(withoutArgs(sts({ electionTimeoutMs: 2000 })), withoutArgs(sts()));
  assert.deepEqual({ ...sts({ clientWorkers: 2 }).spec, template: undefined }, { ...sts().spec, template: undefined });
});

test('memberOrdinal reads member pod names only', () => {
  assert.equal(memberOrdinal('kv', 'kv-4'), 4);
  assert.equal(memberOrdinal('kv', 'kv-peer'), undefined);
  assert.equal(memberOrdinal('kv', 'kvx-1'), undefined);
});

test('the TLS content hash is a pod-template annotation, so renewed certificates restart members', () => {
  const c = cluster({ replicas: 3 });
  const annotations = (hash?: string) =>
    (buildStatefulSet(c, { tls: tlsPodSettings(c), replicas: 3, ...(hash && { tlsHash: hash }) }) as Any).spec.template.metadata.annotations;
  assert.equal(annotations('abc123')['kvorum.io/tls-hash'], 'abc123');
  assert.notDeepEqual(annotations('abc123'), annotations('def456'));
  assert.equal(annotations()['kvorum.io/tls-hash'], undefined);
});

test('rollouts belong to the operator: OnDelete, the restart annotation in the pod template, the claim template keeps its size, a held-back version', () => {
  const c = cluster({ version: '0.3.0', storage: { size: '2Gi' } });
  c.metadata.annotations = { 'kvorum.io/restartedAt': '2026-12-05T07:00:00Z' };
  const sts = buildStatefulSet(c, { tls: tlsPodSettings(c), replicas: 3, claimTemplateSize: '1Gi', version: '0.2.0' }) as Any;
  assert.deepEqual(sts.spec.updateStrategy, { type: 'OnDelete' });
  assert.equal(sts.spec.template.metadata.annotations['kvorum.io/restartedAt'], '2026-12-05T07:00:00Z');
  assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '1Gi');
  assert.match(sts.spec.template.spec.containers[0].image, /:0\.2\.0$/);
  assert.equal(sts.spec.template.metadata.labels['app.kubernetes.io/version'], '0.2.0');
  const plain = cluster();
  const p = buildStatefulSet(plain, { tls: tlsPodSettings(plain), replicas: 3 }) as Any;
  assert.equal(p.spec.template.metadata.annotations['kvorum.io/restartedAt'], undefined);
  assert.equal(p.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '1Gi');
});

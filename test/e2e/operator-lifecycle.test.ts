// Acceptance (issue 6): `helm install` of the chart, then `kubectl apply` of
// the minimal example: the cluster reaches Available with 3 healthy members;
// etcdctl through the client Service with the generated client certificate
// writes and reads; `kubectl get kvc` shows the printer columns. Then deleting
// the KVCluster removes everything it owns (volume claims per the retention
// policy: kept by default, removed with whenDeleted: Delete).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeList, KubeObject } from './kube/client.js';
import { repoRoot } from './env/config.js';
import { runEtcdctlPod } from './operator/etcdctl-pod.js';
import { installOperator, operatorLogs, operatorPods, podOfHolder, readLease, uninstallOperator, waitOperatorReady, type OperatorInstall } from './operator/install.js';
import { condition, kvcPath, summary, waitAvailable } from './operator/kvcluster.js';
import { controllerUid, ownedObjects } from './operator/owned.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note } from './operator/util.js';

const NAME = 'example'; // from manifests/examples/minimal.yaml
const SMALL = 'ephemeral';
const BROKEN = 'broken';

describe('install with helm, run the minimal example, delete it', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-life');
    ns = await createNamespace(kube, 'kvc-life');
    const t0 = Date.now();
    op = await installOperator(kube, opNs);
    note(`helm install --wait took ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  });

  after(async () => {
    for (const c of [NAME, SMALL, BROKEN]) await kube.delete(kvcPath(ns, c)).catch(() => false);
    await eventually('KVClusters gone', 60_000, async () => (await kube.find(kvcPath(ns, NAME))) === undefined && (await kube.find(kvcPath(ns, SMALL))) === undefined).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
  });

  test('the chart runs two operator replicas, one holding the Lease', async () => {
    assert.ok(op);
    const pods = await waitOperatorReady(kube, op, 2);
    const lease = await eventually('the operator Lease held', 60_000, async () => {
      const l = await kube.find(`/apis/coordination.k8s.io/v1/namespaces/${opNs}/leases/kvorum-operator`);
      return l?.spec?.holderIdentity && l;
    });
    assert.ok(
      pods.some((p) => String(lease.spec.holderIdentity).includes(p.metadata.name)),
      `holder ${lease.spec.holderIdentity} is one of ${pods.map((p) => p.metadata.name).join(', ')}`,
    );
  });

  test('kubectl apply of the minimal example reaches Available with 3 healthy members', async () => {
    const t0 = Date.now();
    const r = await kubectl(['apply', '-n', ns, '-f', join(repoRoot, 'manifests', 'examples', 'minimal.yaml')]);
    assert.equal(r.code, 0, r.err);
    // A one-member cluster whose claims go with it, for the deletion policy check.
    const small: KubeObject = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: SMALL }, spec: { replicas: 1, storage: { retentionPolicy: { whenDeleted: 'Delete' } } } };
    const s = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(small));
    assert.equal(s.code, 0, s.err);

    const kvc = await waitAvailable(kube, ns, NAME, 3, 240_000, logs);
    note(`${NAME} Available after ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    const members = kvc.status.members as { name: string; id: string; role: string; healthy: boolean; peerURL?: string }[];
    assert.deepEqual(members.map((m) => m.name).sort(), [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`]);
    for (const m of members) {
      assert.match(m.id, /^[0-9a-f]+$/, `member id ${m.id} in hex`);
      assert.ok(['leader', 'follower'].includes(m.role), `role ${m.role}`);
      assert.equal(m.healthy, true);
    }
    assert.equal(new Set(members.map((m) => m.id)).size, 3, 'distinct member ids');
    assert.equal(kvc.status.leader, members.find((m) => m.role === 'leader')?.name);
    const types = (kvc.status.conditions as { type: string; status: string }[]).map((c) => `${c.type}=${c.status}`);
    for (const c of ['Available=True', 'MembersHealthy=True', 'Degraded=False']) assert.ok(types.includes(c), `${c} in ${types.join(' ')}`);
    await waitAvailable(kube, ns, SMALL, 1, 120_000, logs);
  });

  test('the cluster owns its Services, StatefulSet, PodDisruptionBudget, ConfigMap and TLS Secrets', async () => {
    const kvc = await kube.get(kvcPath(ns, NAME));
    const owned = await ownedObjects(kube, ns, NAME);
    const keys = owned.map((o) => o.key);
    const expected = [
      `StatefulSet/${NAME}`,
      `Service/${NAME}-peer`,
      `Service/${NAME}-client`,
      `PodDisruptionBudget/${NAME}`,
      `ConfigMap/${NAME}-config`,
      `Secret/${NAME}-ca`,
      `Secret/${NAME}-server-tls`,
      `Secret/${NAME}-peer-tls`,
      `Secret/${NAME}-client-tls`,
    ];
    for (const e of expected) {
      const o = owned.find((x) => x.key === e);
      assert.ok(o, `${e} exists with the instance label (have: ${keys.join(', ')})`);
      assert.equal(controllerUid(o.obj), kvc.metadata.uid, `${e} is controlled by the KVCluster`);
      assert.equal(o.obj.metadata.labels?.['app.kubernetes.io/managed-by'], 'kvorum-operator', `${e} managed-by label`);
    }
    const pdb = owned.find((o) => o.key === `PodDisruptionBudget/${NAME}`)!.obj;
    const quorumSafe = pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable === 2;
    assert.ok(quorumSafe, `PDB keeps quorum: ${JSON.stringify(pdb.spec)}`);
    const peer = owned.find((o) => o.key === `Service/${NAME}-peer`)!.obj;
    assert.equal(peer.spec.clusterIP, 'None');
    assert.equal(peer.spec.publishNotReadyAddresses, true);
  });

  test('etcdctl in a pod writes and reads through the client Service with the generated client certificate', async () => {
    const endpoint = `https://${NAME}-client.${ns}.svc:2379`;
    const r = await runEtcdctlPod(kube, {
      namespace: ns,
      endpoint,
      tlsSecret: `${NAME}-client-tls`,
      script: ['$ETCDCTL put e2e/greeting "hello from etcdctl"', '$ETCDCTL get e2e/greeting --print-value-only', '$ETCDCTL member list', '$ETCDCTL endpoint health'].join('\n'),
    });
    assert.equal(r.exitCode, 0, r.log);
    const lines = r.log.trim().split('\n');
    assert.equal(lines[0], 'OK', r.log);
    assert.equal(lines[1], 'hello from etcdctl', r.log);
    const memberLines = lines.filter((l) => /, started, /.test(l));
    assert.equal(memberLines.length, 3, r.log);
    for (let i = 0; i < 3; i++) assert.ok(memberLines.some((l) => l.includes(`, ${NAME}-${i}, https://${NAME}-${i}.${NAME}-peer.${ns}.svc:2380`)), `member ${i} in ${r.log}`);
    assert.match(r.log, /is healthy/);

    // Client TLS is enforced: no certificate, or plain text, is refused.
    const anon = await runEtcdctlPod(kube, { namespace: ns, endpoint, tlsSecret: `${NAME}-client-tls`, script: 'etcdctl --endpoints=' + endpoint + ' --cacert=/var/run/kvorum-e2e/client-tls/ca.crt --dial-timeout=3s --command-timeout=5s get e2e/greeting' });
    assert.notEqual(anon.exitCode, 0, `without a client certificate: ${anon.log}`);
    const plain = await runEtcdctlPod(kube, { namespace: ns, endpoint: `http://${NAME}-client.${ns}.svc:2379`, script: '$ETCDCTL get e2e/greeting' });
    assert.notEqual(plain.exitCode, 0, `plain text: ${plain.log}`);
  });

  test('Events tell the story and the active operator exports metrics', async () => {
    assert.ok(op);
    const sel = encodeURIComponent(`involvedObject.kind=KVCluster,involvedObject.name=${NAME}`);
    const events = await kube.get<KubeList>(`/api/v1/namespaces/${ns}/events?fieldSelector=${sel}`);
    const reasons = new Set(events.items.map((e) => e.reason as string));
    for (const r of ['Created', 'Available']) assert.ok(reasons.has(r), `Event ${r} in [${[...reasons].join(', ')}]`);

    const pods = await operatorPods(kube, op);
    const lease = await readLease(kube, op);
    const scrape = async (p: KubeObject): Promise<string> => (await fetch(`http://${p.status.podIP}:8080/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const active = podOfHolder(pods, lease?.holder);
    assert.ok(active, `holder ${lease?.holder}`);
    const text = await scrape(active);
    // The sum over the series of one metric whose labels include `labels`.
    const value = (name: string, labels = ''): number | undefined => {
      const lines = text.split('\n').filter((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labels));
      return lines.length === 0 ? undefined : lines.reduce((sum, l) => sum + Number(l.trim().split(/\s+/).pop()), 0);
    };
    assert.equal(value('kvorum_operator_is_leader'), 1);
    assert.ok((value('kvorum_operator_reconcile_total', 'result="success"') ?? 0) > 0, 'successful reconciles counted');
    assert.equal(value('kvorum_cluster_members', `kvcluster="${NAME}"`), 3);
    assert.equal(value('kvorum_cluster_quorum', `kvcluster="${NAME}"`), 1);
    for (const standby of pods.filter((p) => p !== active)) {
      const t = await scrape(standby);
      assert.match(t, /^kvorum_operator_is_leader(\{[^}]*\})? 0$/m, `${standby.metadata.name} reports it is not the leader`);
    }
  });

  test('a cluster whose pods cannot start is reported Degraded with the reason', async () => {
    const broken: KubeObject = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: BROKEN }, spec: { replicas: 1, image: 'registry.invalid/no-such-image:1' } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(broken));
    assert.equal(r.code, 0, r.err);
    let last: KubeObject | undefined;
    const degraded = await eventually(
      'Degraded=True on the broken cluster',
      120_000,
      async () => {
        const kvc = await kube.get(kvcPath(ns, BROKEN));
        last = kvc;
        const c = condition(kvc, 'Degraded');
        return c?.status === 'True' && c;
      },
      () => summary(last),
      2000,
    );
    note(`Degraded: ${degraded.reason}: ${degraded.message}`);
    assert.match(`${degraded.reason} ${degraded.message}`, /ErrImagePull|ImagePull|image/i);
    assert.notEqual(condition(last!, 'Available')?.status, 'True');
    await kube.delete(kvcPath(ns, BROKEN));
  });

  test('kubectl get kvc shows Replicas, Ready, Leader, Version, Phase and Age', async () => {
    const kvc = await kube.get(kvcPath(ns, NAME));
    const r = await kubectl(['get', 'kvc', '-n', ns]);
    assert.equal(r.code, 0, r.err);
    process.stderr.write(r.out.replace(/^/gm, '# '));
    const [header, ...rows] = r.out.trim().split('\n');
    assert.match(header, /^NAME\s+REPLICAS\s+READY\s+LEADER\s+VERSION\s+PHASE\s+AGE$/);
    const row = rows.find((l) => l.startsWith(`${NAME} `));
    assert.ok(row, r.out);
    const cols = row.trim().split(/\s+/);
    assert.deepEqual(cols.slice(0, 6), [NAME, '3', '3', kvc.status.leader, '0.1.0', 'Available']);
    assert.match(kvc.status.leader, new RegExp(`^${NAME}-[012]$`));
    assert.match(cols[6], /^\d+[smh]/);
  });

  test('deleting the KVClusters removes everything they own; claims follow the retention policy', async () => {
    const before = await ownedObjects(kube, ns, NAME);
    const beforeSmall = await ownedObjects(kube, ns, SMALL);
    const pvcs = before.filter((o) => o.key.startsWith('PersistentVolumeClaim/')).map((o) => o.key);
    assert.deepEqual(pvcs, [0, 1, 2].map((i) => `PersistentVolumeClaim/data-${NAME}-${i}`));
    assert.ok(beforeSmall.some((o) => o.key === `PersistentVolumeClaim/data-${SMALL}-0`), beforeSmall.map((o) => o.key).join(', '));

    const r = await kubectl(['delete', 'kvc', NAME, SMALL, '-n', ns, '--wait=true', '--timeout=120s']);
    assert.equal(r.code, 0, r.err);
    const left = await eventually(
      'owned objects removed',
      120_000,
      async () => {
        const rest = [...(await ownedObjects(kube, ns, NAME)), ...(await ownedObjects(kube, ns, SMALL))].map((o) => o.key);
        // Default policy whenDeleted: Retain keeps the example's claims; the small cluster asked for Delete.
        const expectedLeft = pvcs;
        return JSON.stringify(rest) === JSON.stringify(expectedLeft) && rest;
      },
      async () => `still present: ${[...(await ownedObjects(kube, ns, NAME)), ...(await ownedObjects(kube, ns, SMALL))].map((o) => o.key).join(', ')}`,
      2000,
    );
    assert.deepEqual(left, pvcs);
    // No kvorum process of the deleted clusters is left serving.
    for (const o of [...before, ...beforeSmall].filter((x) => x.key.startsWith('Pod/'))) {
      const ip = o.obj.status?.podIP as string | undefined;
      if (!ip) continue;
      const probe = await fetch(`http://${ip}:2381/health`, { signal: AbortSignal.timeout(2000) }).then(
        () => 'answered',
        () => 'unreachable',
      );
      assert.equal(probe, 'unreachable', `${o.key} (${ip}) stopped`);
    }
  });
});

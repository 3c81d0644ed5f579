// Acceptance (issue 6): two operator replicas, one active through the Lease.
// The active one is killed (SIGKILL, no graceful hand-over) in the middle of
// a scale-up 3 -> 5; the standby takes the Lease and completes the change,
// with no duplicate or orphaned member.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeList } from './kube/client.js';
import { membershipView, membershipMismatch, describeMembers, type ClusterRef } from './operator/checker.js';
import { readClientTLS } from './operator/etcd-client.js';
import { crashOperatorPod, installOperator, operatorLogs, operatorPods, operatorRoles, uninstallOperator, waitTakeOver, type OperatorInstall } from './operator/install.js';
import { kvcPath, waitAvailable } from './operator/kvcluster.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note, sleep } from './operator/util.js';

const NAME = 'ha';

describe('operator high availability', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let ref: ClusterRef;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op, 60) : Promise.resolve(''));

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-ha');
    ns = await createNamespace(kube, 'kvc-ha');
    op = await installOperator(kube, opNs, { sets: ['replicaCount=2'] });
    const kvc = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: NAME }, spec: { replicas: 3 } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(kvc));
    assert.equal(r.code, 0, r.err);
    await waitAvailable(kube, ns, NAME, 3, 240_000, logs);
    ref = { kube, namespace: ns, cluster: NAME, tls: await readClientTLS(kube, ns, `${NAME}-client-tls`) };
  });

  after(async () => {
    await kube.delete(kvcPath(ns, NAME)).catch(() => false);
    await eventually('KVCluster gone', 60_000, async () => (await kube.find(kvcPath(ns, NAME))) === undefined).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
  });

  test('killing the active operator mid scale-up: the standby takes the Lease and finishes, no duplicate or orphaned member', async () => {
    assert.ok(op);
    const inst = op;
    const { active, standby: [standby], lease } = await operatorRoles(kube, inst, 2);
    note(`active ${active.metadata.name}, standby ${standby!.metadata.name}, transitions ${lease.transitions}`);

    const r = await kubectl(['scale', 'kvc', NAME, '-n', ns, '--replicas=5']);
    assert.equal(r.code, 0, r.err);
    // The middle of the scale-up: a member has been added (as a learner) or the StatefulSet has grown.
    const moment = await eventually(
      'the scale-up to start',
      120_000,
      async () => {
        const sts = await kube.get(`/apis/apps/v1/namespaces/${ns}/statefulsets/${NAME}`);
        const view = await membershipView(ref).catch(() => undefined);
        const learner = view?.members.some((m) => m.isLearner);
        const grown = (view?.members.length ?? 0) > 3 || sts.spec.replicas > 3;
        return (learner || grown) && `members [${view ? describeMembers(view) : '?'}], StatefulSet replicas ${sts.spec.replicas}`;
      },
      undefined,
      100,
    );
    // Not finished yet: the kill really lands mid-change.
    const kvcNow = await kube.get(kvcPath(ns, NAME));
    assert.ok(((kvcNow.status?.members ?? []) as unknown[]).length < 5 || kvcNow.status?.observedGeneration !== kvcNow.metadata.generation, 'scale-up still in progress');
    const killed = await crashOperatorPod(kube, inst, active);
    note(`killed ${active.metadata.name} (pids ${killed.join(' ')}) at: ${moment}`);
    assert.ok(killed.length > 0, 'the active operator had processes to kill');

    const taken = await waitTakeOver(kube, inst, active, 90_000, logs);
    const byStandby = taken.holder!.includes(standby!.metadata.name);
    note(`Lease now held by ${taken.holder} (${byStandby ? 'the standby' : 'the replacement pod'}), transitions ${taken.transitions}`);
    assert.ok(taken.transitions > lease.transitions, 'leaseTransitions counted the hand-over');

    const kvc = await waitAvailable(kube, ns, NAME, 5, 300_000, logs);
    const view = await eventually('member list == StatefulSet (5)', 60_000, async () => {
      const v = await membershipView(ref);
      return membershipMismatch(v, 5) === undefined && v;
    });
    note(`members after take-over: ${describeMembers(view)}`);
    // No duplicates: five distinct ids and names; status agrees.
    assert.equal(new Set(view.members.map((m) => m.id)).size, 5);
    assert.equal(new Set(view.members.map((m) => m.name)).size, 5);
    assert.deepEqual((kvc.status.members as { id: string }[]).map((m) => m.id).sort(), view.members.map((m) => m.id).sort());
    // No orphans: exactly the five pods and claims of ordinals 0..4.
    const sel = encodeURIComponent(`app.kubernetes.io/instance=${NAME}`);
    const podNames = (await kube.get<KubeList>(`/api/v1/namespaces/${ns}/pods?labelSelector=${sel}`)).items.map((p) => p.metadata.name).sort();
    const claims = (await kube.get<KubeList>(`/api/v1/namespaces/${ns}/persistentvolumeclaims`)).items.map((p) => p.metadata.name).sort();
    const want = [0, 1, 2, 3, 4].map((i) => `${NAME}-${i}`);
    assert.deepEqual(podNames, want);
    assert.deepEqual(claims, want.map((n) => `data-${n}`));
    // The standby keeps leading; the replacement pod stands by.
    await sleep(2000);
    const after = await operatorPods(kube, inst);
    assert.equal(after.filter((p) => !p.metadata.deletionTimestamp).length, 2, 'the Deployment replaced the killed pod');
  });
});

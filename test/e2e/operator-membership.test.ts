// Acceptance (issue 6): under continuous writes from a client, scale 3 -> 5
// and back to 3, delete a follower pod, delete the leader pod, delete a
// member's pod and its volume claim together. After each step the cluster is
// Available again, the member list matches the StatefulSet, and no
// acknowledged write is lost (every acknowledged key is read back).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient } from './kube/client.js';
import { currentLeader, everyMemberHasWrites, findLostWrites, moveLeaderTo, type ClusterRef } from './operator/checker.js';
import { assertRecovered, waitReplaced } from './operator/disruption.js';
import { readClientTLS } from './operator/etcd-client.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { kvcPath, waitAvailable } from './operator/kvcluster.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note } from './operator/util.js';
import { ContinuousWriter } from './operator/writer.js';

const NAME = 'kv';
const PREFIX = 'acked/';

describe('membership changes and member failures under continuous writes', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let ref: ClusterRef;
  let writer: ContinuousWriter | undefined;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));
  const podPath = (name: string): string => `/api/v1/namespaces/${ns}/pods/${name}`;

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-mem');
    ns = await createNamespace(kube, 'kvc-mem');
    // One operator replica is enough here (HA has its own test) and saves CPU.
    op = await installOperator(kube, opNs, { sets: ['replicaCount=1'] });
    const kvc = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: NAME }, spec: { replicas: 3 } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(kvc));
    assert.equal(r.code, 0, r.err);
    await waitAvailable(kube, ns, NAME, 3, 240_000, logs);
    ref = { kube, namespace: ns, cluster: NAME, tls: await readClientTLS(kube, ns, `${NAME}-client-tls`) };
    // Bounded: at most 40k puts or 20 minutes, two lanes with a pause.
    writer = new ContinuousWriter({ kube, namespace: ns, cluster: NAME, tls: ref.tls, prefix: PREFIX, maxWrites: 40_000, maxDurationMs: 20 * 60_000, concurrency: 2, pauseMs: 80 }).start();
    await writer.progressed(50, 60_000);
  });

  after(async () => {
    if (writer) {
      const rep = await writer.stop();
      note(`writer: ${rep.attempted} attempted, ${rep.acknowledged} acknowledged, ${rep.failed} failed, longest gap ${rep.longestGapMs}ms; errors ${writer.errorSummary()}`);
    }
    await kube.delete(kvcPath(ns, NAME)).catch(() => false);
    await eventually('KVCluster gone', 60_000, async () => (await kube.find(kvcPath(ns, NAME))) === undefined).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
  });

  test('scale 3 -> 5 with kubectl scale', async () => {
    assert.ok(writer);
    const r = await kubectl(['scale', 'kvc', NAME, '-n', ns, '--replicas=5']);
    assert.equal(r.code, 0, r.err);
    await assertRecovered(ref, 5, writer, PREFIX, logs, 'scale to 5');
  });

  test('scale 5 -> 3 by patching spec.replicas, with the leader on a departing member; the removed members\' claims follow whenScaled: Delete', async () => {
    assert.ok(writer);
    // The operator must move leadership off kv-4 before removing it.
    await moveLeaderTo(ref, `${NAME}-4`);
    note(`leader moved to ${await currentLeader(ref)} before the scale-down`);
    const r = await kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":3}}']);
    assert.equal(r.code, 0, r.err);
    await assertRecovered(ref, 3, writer, PREFIX, logs, 'scale to 3');
    const leader = await currentLeader(ref);
    assert.match(leader, new RegExp(`^${NAME}-[012]$`), 'leadership ended on a remaining member');
    await eventually('claims of members 3 and 4 deleted', 60_000, async () => {
      const gone = await Promise.all([3, 4].map(async (i) => (await kube.find(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-${NAME}-${i}`)) === undefined));
      return gone.every(Boolean);
    });
  });

  test('delete a follower pod', async () => {
    assert.ok(writer);
    const leader = await currentLeader(ref);
    const follower = [0, 1, 2].map((i) => `${NAME}-${i}`).find((n) => n !== leader)!;
    const old = await kube.get(podPath(follower));
    note(`deleting follower ${follower} (leader ${leader})`);
    await kube.delete(podPath(follower));
    await waitReplaced(ref, follower, old.metadata.uid as string);
    await assertRecovered(ref, 3, writer, PREFIX, logs, `follower ${follower} deleted`);
  });

  test('delete the leader pod', async () => {
    assert.ok(writer);
    const leader = await currentLeader(ref);
    const old = await kube.get(podPath(leader));
    note(`deleting leader ${leader}`);
    await kube.delete(podPath(leader));
    await waitReplaced(ref, leader, old.metadata.uid as string);
    await assertRecovered(ref, 3, writer, PREFIX, logs, `leader ${leader} deleted`);
    const newLeader = await currentLeader(ref);
    note(`leader now ${newLeader}`);
  });

  test('delete a member\'s pod and its volume claim together: the member is replaced and re-synced', async () => {
    assert.ok(writer);
    const leader = await currentLeader(ref);
    const victim = [2, 1, 0].map((i) => `${NAME}-${i}`).find((n) => n !== leader)!;
    const old = await kube.get(podPath(victim));
    const claim = `/api/v1/namespaces/${ns}/persistentvolumeclaims/data-${victim}`;
    const oldClaim = await kube.get(claim);
    note(`deleting pod and claim of ${victim}`);
    await kube.delete(claim);
    await kube.delete(podPath(victim));
    await waitReplaced(ref, victim, old.metadata.uid as string, 240_000);
    const newClaim = await kube.get(claim);
    assert.notEqual(newClaim.metadata.uid, oldClaim.metadata.uid, 'a new, empty claim');
    await assertRecovered(ref, 3, writer, PREFIX, logs, `${victim} lost its data`);
    // The replacement holds the data again, not just the others.
    await everyMemberHasWrites(ref, PREFIX, new Map(writer.acknowledged), 120_000);
  });

  test('after the writer stops, every acknowledged write is on every member', async () => {
    assert.ok(writer);
    const w = writer;
    writer = undefined;
    const rep = await w.stop();
    note(`writer: ${rep.attempted} attempted, ${rep.acknowledged} acknowledged, ${rep.failed} failed, longest gap without an ack ${rep.longestGapMs}ms; errors ${w.errorSummary()}`);
    assert.ok(rep.acknowledged > 200, `acknowledged ${rep.acknowledged}`);
    // Stopped by the test, not by its bounds: the writes covered every step.
    assert.ok(rep.attempted < 40_000, `attempted ${rep.attempted}`);
    const lost = await findLostWrites(ref, PREFIX, w.acknowledged);
    assert.equal(lost.checked, rep.acknowledged);
    assert.deepEqual(lost.missing, []);
    assert.deepEqual(lost.wrongValue, []);
    await everyMemberHasWrites(ref, PREFIX, w.acknowledged);
  });
});

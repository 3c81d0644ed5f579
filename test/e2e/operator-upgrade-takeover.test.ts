// Acceptance (issue 12): the active operator killed (SIGKILL, no hand-over)
// in the middle of a rolling upgrade, while a member replacement is in
// flight. The standby takes the Lease and resumes the rollout from
// status.upgrade: no member is replaced twice, never two at once (the member
// pods sampled every 250 ms: each member has exactly two pod uids, and at
// most one member is missing, terminating or not Ready at any sample), the
// leader still last, and no acknowledged write lost.
//
// Run: flock /tmp/kvorum-e2e.lock env KVORUM_E2E_SUBNET=<octet> npm run test:e2e -- operator-upgrade-takeover
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient } from './kube/client.js';
import { previousRelease } from './kubelet/images.js';
import { currentLeader, findLostWrites, type ClusterRef } from './operator/checker.js';
import { readClientTLS } from './operator/etcd-client.js';
import { crashOperatorPod, operatorRoles, waitLeaseTakenFrom } from './operator/failover.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { kvcPath, waitAvailable } from './operator/kvcluster.js';
import { clusterEvents, imagesAll, podImages, PodTimeline, replacedInEvents, waitRolledOut } from './operator/rollout.js';
import type { UpgradeState } from '../../operator/upgrade/state.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note } from './operator/util.js';
import { ContinuousWriter } from './operator/writer.js';

const NAME = 'upgha';
const REPLICAS = 3;
const PREFIX = 'acked/';
const CURRENT = '0.1.0';
const prev = previousRelease();

describe('operator killed mid-upgrade: the standby resumes it', { skip: existsSync(prev.bin) ? false : `the previous release is not built: run scripts/build-previous-release.sh (${prev.bin})` }, () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let ref: ClusterRef;
  let writer: ContinuousWriter | undefined;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op, 60) : Promise.resolve(''));

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-upgha');
    ns = await createNamespace(kube, 'kvc-upgha');
    op = await installOperator(kube, opNs, { sets: ['replicaCount=2'] });
    const kvc = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: NAME }, spec: { replicas: REPLICAS, version: prev.version } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(kvc));
    assert.equal(r.code, 0, r.err);
    await waitAvailable(kube, ns, NAME, REPLICAS, 240_000, logs);
    ref = { kube, namespace: ns, cluster: NAME, tls: await readClientTLS(kube, ns, `${NAME}-client-tls`) };
    writer = new ContinuousWriter({ kube, namespace: ns, cluster: NAME, tls: ref.tls, prefix: PREFIX, maxWrites: 20_000, maxDurationMs: 12 * 60_000, concurrency: 2, pauseMs: 50 }).start();
    await writer.progressed(50, 60_000);
  });

  after(async () => {
    await writer?.stop();
    await kube.delete(kvcPath(ns, NAME)).catch(() => false);
    await eventually('KVCluster gone', 60_000, async () => (await kube.find(kvcPath(ns, NAME))) === undefined).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
  });

  test('SIGKILL of the active operator while a member is being replaced: the standby finishes, each member replaced exactly once, never two at once', async (t) => {
    assert.ok(op && writer);
    const inst = op;
    const { active, standby, lease } = await operatorRoles(kube, inst, 2);
    note(`active ${active.metadata.name}, standby ${standby.metadata.name}, transitions ${lease.transitions}`);
    assert.deepEqual(await podImages(kube, ns, NAME), imagesAll(NAME, REPLICAS, prev.version));
    const leaderBefore = await currentLeader(ref);
    const pods = new PodTimeline(kube, ns, NAME, REPLICAS).start();
    await eventually('a first sample', 30_000, async () => pods.samples > 0, undefined, 100);
    const t0 = Date.now();
    const p = await kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { version: CURRENT } })]);
    assert.equal(p.code, 0, p.err);

    // The middle of the upgrade: a replacement recorded in status.upgrade and not finished.
    const step = await eventually(
      'a member replacement in flight',
      180_000,
      async () => {
        const u = (await kube.get(kvcPath(ns, NAME))).status?.upgrade as UpgradeState | undefined;
        return u?.currentStep !== undefined && u.completedAt === undefined && u;
      },
      logs,
      100,
    );
    const killed = await crashOperatorPod(kube, inst, active);
    note(`killed ${active.metadata.name} (pids ${killed.join(' ')}) while replacing ${step.currentStep!.member}; updated so far [${step.updatedMembers.join(', ')}]`);
    assert.ok(killed.length > 0, 'the active operator had processes to kill');
    const taken = await waitLeaseTakenFrom(kube, inst, active, 90_000, logs);
    note(`Lease now held by ${taken.holder}, transitions ${taken.transitions}`);
    assert.ok(taken.transitions > lease.transitions, 'leaseTransitions counted the hand-over');

    await waitRolledOut(kube, ns, NAME, REPLICAS, 'the resumed upgrade completed', undefined, 10 * 60_000, logs);
    const seconds = (Date.now() - t0) / 1000;
    await pods.stop();
    const ev = (await clusterEvents(kube, ns, NAME)).filter((e) => e.at >= t0 - 1000);
    const replaced = replacedInEvents(ev);
    // The order the members came back in: the first sighting of each member's second pod.
    const order = [...pods.incarnations].filter(([, inc]) => inc.length > 1).sort((a, b) => a[1][1]!.firstSeen - b[1][1]!.firstSeen).map(([name]) => name);
    const lines = [
      `upgrade of ${REPLICAS} members with the operator killed mid-step: ${seconds.toFixed(1)} s; killed while replacing ${step.currentStep!.member}`,
      `MemberReplaced events: ${ev.filter((e) => e.reason === 'MemberReplaced').map((e) => e.message).join(' | ')}`,
      `pods: ${pods.describe()}; most members down at once: ${pods.maxDown} (${pods.worst.join(', ')}); replaced in order ${order.join(', ')}`,
      `writes so far: ${writer.report().acknowledged} acknowledged, ${writer.report().failed} failed; errors ${writer.errorSummary()}`,
    ];
    for (const line of lines) {
      t.diagnostic(line);
      note(line);
    }

    assert.deepEqual(await podImages(kube, ns, NAME), imagesAll(NAME, REPLICAS, CURRENT));
    assert.deepEqual(pods.notReplacedExactly(2), [], 'every member had exactly two pods: the old one and its replacement');
    assert.ok(pods.maxDown <= 1, `at most one member down at once, saw ${pods.maxDown}: ${pods.worst.join(', ')}`);
    assert.deepEqual([...new Set(replaced)].sort(), imagesAll(NAME, REPLICAS, '').map((s) => s.slice(0, -1)).sort(), 'every member named in a MemberReplaced event');
    assert.equal(order.at(-1), leaderBefore, 'the leader is still the last member replaced');

    const w = writer;
    writer = undefined;
    const rep = await w.stop();
    const lost = await findLostWrites(ref, PREFIX, w.acknowledged);
    assert.deepEqual(lost.missing, [], `${lost.missing.length} of ${rep.acknowledged} acknowledged writes missing`);
    assert.deepEqual(lost.wrongValue, []);
  });
});

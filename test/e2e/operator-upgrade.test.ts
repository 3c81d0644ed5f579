// Acceptance (issue 12, operator side): rolling upgrades driven by the
// operator on two real builds: the previous release (built from the commit
// pinned in test/previous-release.json, mapped to its version's image tag in
// kubelet/images.ts) and this checkout. Under continuous writes through the
// client Service a 3-member cluster on the previous release is upgraded to
// the current one: every member replaced once, one at a time, the leader last
// (after one LeaderMoved), no acknowledged write lost; the test reports
// failed requests, the longest write stall and the total time. Then a rolling
// restart by annotation, then a version whose binary exits at start: the
// rollout stalls after its first member with UpgradeStalled while the
// cluster stays Available, and reverting spec.version heals it.
//
// Run: flock /tmp/kvorum-e2e.lock env KVORUM_E2E_SUBNET=233 npm run test:e2e -- operator-upgrade
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeObject } from './kube/client.js';
import { BROKEN_TAG_SUFFIX, previousRelease } from './kubelet/images.js';
import { currentLeader, everyMemberHasWrites, findLostWrites, type ClusterRef } from './operator/checker.js';
import { readClientTLS } from './operator/etcd-client.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { condition, kvcPath, summary, waitAvailable } from './operator/kvcluster.js';
import { clusterEvents, imagesAll, podImages as podImagesOf, replacedInEvents, upgradeStartedAt, waitRolledOut as waitRolledOutOf, type ClusterEvent } from './operator/rollout.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note } from './operator/util.js';
import { ContinuousWriter } from './operator/writer.js';

const NAME = 'upg';
const PREFIX = 'acked/';
const CURRENT = '0.1.0';
const prev = previousRelease();

describe('operator-driven rolling upgrade, restart and stall on two real builds', { skip: existsSync(prev.bin) ? false : `the previous release is not built: run scripts/build-previous-release.sh (${prev.bin})` }, () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let ref: ClusterRef;
  let writer: ContinuousWriter | undefined;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));
  const patch = async (body: object): Promise<void> => {
    const r = await kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', JSON.stringify(body)]);
    assert.equal(r.code, 0, r.err);
  };
  const events = (): Promise<ClusterEvent[]> => clusterEvents(kube, ns, NAME);
  const podImages = (): Promise<string[]> => podImagesOf(kube, ns, NAME);
  const waitRolledOut = (what: string, since: string | undefined, timeoutMs: number): Promise<KubeObject> => waitRolledOutOf(kube, ns, NAME, 3, what, since, timeoutMs, logs);

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-upg');
    ns = await createNamespace(kube, 'kvc-upg');
    op = await installOperator(kube, opNs, { sets: ['replicaCount=1'] });
    const kvc = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: NAME, annotations: { 'kvorum.io/upgrade-stall-timeout-seconds': '60' } }, spec: { replicas: 3, version: prev.version } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(kvc));
    assert.equal(r.code, 0, r.err);
    await waitAvailable(kube, ns, NAME, 3, 240_000, logs);
    ref = { kube, namespace: ns, cluster: NAME, tls: await readClientTLS(kube, ns, `${NAME}-client-tls`) };
    writer = new ContinuousWriter({ kube, namespace: ns, cluster: NAME, tls: ref.tls, prefix: PREFIX, maxWrites: 40_000, maxDurationMs: 20 * 60_000, concurrency: 2, pauseMs: 50 }).start();
    await writer.progressed(50, 60_000);
  });

  after(async () => {
    if (writer) await writer.stop();
    await kube.delete(kvcPath(ns, NAME)).catch(() => false);
    await eventually('KVCluster gone', 60_000, async () => (await kube.find(kvcPath(ns, NAME))) === undefined).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
  });

  test(`${prev.version} -> ${CURRENT}: one member at a time, the leader last after one LeaderMoved, no acknowledged write lost`, async () => {
    assert.ok(writer);
    assert.deepEqual(await podImages(), imagesAll(NAME, 3, prev.version));
    const leaderBefore = await currentLeader(ref);
    const before = writer.report();
    const t0 = Date.now();
    await patch({ spec: { version: CURRENT } });
    const kvc = await waitRolledOut('the upgrade completed', undefined, 15 * 60_000);
    const seconds = (Date.now() - t0) / 1000;
    assert.deepEqual(await podImages(), imagesAll(NAME, 3, CURRENT));
    assert.equal(kvc.status?.currentVersion, CURRENT);
    assert.equal(kvc.status?.targetVersion, CURRENT);
    assert.deepEqual(((kvc.status?.members ?? []) as { version?: string }[]).map((m) => m.version), [CURRENT, CURRENT, CURRENT]);

    const ev = (await events()).filter((e) => e.at >= t0 - 1000);
    const replaced = replacedInEvents(ev);
    const moved = ev.filter((e) => e.reason === 'LeaderMoved');
    note(`upgrade events: ${ev.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`);
    assert.equal(new Set(replaced).size, 3, `each member replaced once: ${replaced.join(',')}`);
    assert.equal(replaced.length, 3, `no member replaced twice: ${replaced.join(',')}`);
    assert.equal(replaced.at(-1), leaderBefore, 'the leader is the last member replaced');
    assert.equal(moved.length, 1, 'leadership moved once, before the leader was replaced');
    assert.equal(ev.filter((e) => e.reason === 'UpgradeStalled').length, 0);

    const after = writer.report();
    note(
      `upgrade 3 members ${prev.version} -> ${CURRENT}: ${seconds.toFixed(1)} s; writes ${after.acknowledged - before.acknowledged} acknowledged, ${after.failed - before.failed} failed; longest write stall ${after.longestGapMs} ms; errors ${writer.errorSummary()}`,
    );
  });

  test('rolling restart by annotation: every member replaced once, under the same gates', async () => {
    const startedBefore = await upgradeStartedAt(kube, ns, NAME);
    const t0 = Date.now();
    await patch({ metadata: { annotations: { 'kvorum.io/restartedAt': new Date().toISOString() } } });
    await waitRolledOut('the rolling restart completed', startedBefore, 10 * 60_000);
    const replaced = (await events()).filter((e) => e.at >= t0 - 1000 && e.reason === 'MemberReplaced');
    assert.equal(replaced.length, 3, replaced.map((e) => e.message).join(' | '));
    note(`rolling restart: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  test('a version whose binary exits at start stalls after its first member, the cluster stays Available; reverting spec.version heals it', async () => {
    const broken = `0.1.1${BROKEN_TAG_SUFFIX}`;
    const t0 = Date.now();
    await patch({ spec: { version: broken } });
    let last: KubeObject | undefined;
    await eventually(
      'Progressing=False UpgradeStalled',
      5 * 60_000,
      async () => {
        const kvc = await kube.get(kvcPath(ns, NAME));
        last = kvc;
        return condition(kvc, 'Progressing')?.reason === 'UpgradeStalled';
      },
      async () => `last status: ${summary(last)}\n${await logs()}`,
      2000,
    );
    assert.equal(condition(last!, 'Available')?.status, 'True', summary(last));
    const images = await podImages();
    assert.equal(images.filter((i) => i.endsWith(`=${broken}`)).length, 1, `only the first member on the broken version: ${images.join(',')}`);
    const ev = await events();
    assert.ok(ev.some((e) => e.at >= t0 - 1000 && e.reason === 'UpgradeStalled' && e.type === 'Warning'));

    const startedBefore = (last!.status?.upgrade as { startedAt?: string } | undefined)?.startedAt;
    await patch({ spec: { version: CURRENT } });
    await waitRolledOut('the revert completed', startedBefore, 5 * 60_000);
    assert.deepEqual(await podImages(), imagesAll(NAME, 3, CURRENT));
    const kvc = await kube.get(kvcPath(ns, NAME));
    assert.notEqual(condition(kvc, 'Progressing')?.reason, 'UpgradeStalled');
  });

  test('after the writer stops, every acknowledged write is on every member', async () => {
    assert.ok(writer);
    const w = writer;
    writer = undefined;
    const rep = await w.stop();
    note(`writer overall: ${rep.attempted} attempted, ${rep.acknowledged} acknowledged, ${rep.failed} failed, longest gap ${rep.longestGapMs} ms; errors ${w.errorSummary()}`);
    assert.ok(rep.acknowledged > 200, `acknowledged ${rep.acknowledged}`);
    const lost = await findLostWrites(ref, PREFIX, w.acknowledged);
    assert.deepEqual(lost.missing, []);
    assert.deepEqual(lost.wrongValue, []);
    await everyMemberHasWrites(ref, PREFIX, w.acknowledged);
  });
});

// Acceptance (issue 12): a 5-member cluster on the previous release (see
// operator-upgrade.test.ts for the two builds) upgraded to this one while
// clients write and read linearizably through the client Service (its ready
// backends, from its EndpointSlices), retrying a failed request once on the
// next member as etcd clients do; then a rolling restart by annotation on
// this release (the graceful stop on both sides of every step). Checked for
// each: every member replaced exactly once and never two down at once, the
// leader last after one LeaderMoved, at most one leader change per member
// replaced (by the Raft term's growth), no stale read; at the end, no
// acknowledged write lost. Reported: failed requests (with and without the
// retry), the longest write and read stalls, the total time.
//
// Run: flock /tmp/kvorum-e2e.lock env KVORUM_E2E_SUBNET=<octet> npm run test:e2e -- operator-upgrade-five
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeObject } from './kube/client.js';
import { previousRelease } from './kubelet/images.js';
import { currentLeader, everyMemberHasWrites, findLostWrites, type ClusterRef } from './operator/checker.js';
import { readClientTLS, serviceEndpoints } from './operator/etcd-client.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { kvcPath, waitAvailable } from './operator/kvcluster.js';
import { LinearizableReader } from './operator/reader.js';
import { clusterEvents, imagesAll, LeaderTimeline, podImages, PodTimeline, replacedInEvents, upgradeStartedAt, waitRolledOut } from './operator/rollout.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note } from './operator/util.js';
import { ContinuousWriter } from './operator/writer.js';

const NAME = 'upg5';
const REPLICAS = 5;
const PREFIX = 'acked/';
const CURRENT = '0.1.0';
const prev = previousRelease();

describe('5-member rolling upgrade under writes and linearizable reads through the client Service', { skip: existsSync(prev.bin) ? false : `the previous release is not built: run scripts/build-previous-release.sh (${prev.bin})` }, () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let ref: ClusterRef;
  let writer: ContinuousWriter | undefined;
  let reader: LinearizableReader | undefined;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-upg5');
    ns = await createNamespace(kube, 'kvc-upg5');
    op = await installOperator(kube, opNs, { sets: ['replicaCount=1'] });
    const kvc = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: NAME }, spec: { replicas: REPLICAS, version: prev.version } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(kvc));
    assert.equal(r.code, 0, r.err);
    await waitAvailable(kube, ns, NAME, REPLICAS, 300_000, logs);
    ref = { kube, namespace: ns, cluster: NAME, tls: await readClientTLS(kube, ns, `${NAME}-client-tls`) };
    const common = { kube, namespace: ns, cluster: NAME, tls: ref.tls, source: serviceEndpoints, refreshMs: 250, retryOnce: true };
    writer = new ContinuousWriter({ ...common, prefix: PREFIX, maxWrites: 40_000, maxDurationMs: 15 * 60_000, concurrency: 2, pauseMs: 50 }).start();
    reader = new LinearizableReader({ ...common, writer, pauseMs: 100, maxDurationMs: 15 * 60_000 }).start();
    await writer.progressed(50, 60_000);
  });

  after(async () => {
    await reader?.stop();
    await writer?.stop();
    await kube.delete(kvcPath(ns, NAME)).catch(() => false);
    await eventually('KVCluster gone', 60_000, async () => (await kube.find(kvcPath(ns, NAME))) === undefined).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
  });

  /**
   * Runs one rollout (started by `trigger`) with the pod and leader timelines
   * sampling, reports its figures, and checks what every rollout must hold:
   * each member replaced exactly once, never two down at once, the leader
   * last after one LeaderMoved, at most one leader change per member
   * replaced, no stale read.
   */
  async function measuredRollout(t: TestContext, what: string, trigger: () => Promise<void>): Promise<KubeObject> {
    assert.ok(writer && reader);
    const w = writer;
    const r = reader;
    const leaderBefore = await currentLeader(ref);
    const since = await upgradeStartedAt(kube, ns, NAME);
    const pods = new PodTimeline(kube, ns, NAME, REPLICAS).start();
    const leaders = new LeaderTimeline(kube, ns, NAME, ref.tls).start();
    // Both timelines have a first sample before anything changes.
    await eventually('first samples', 30_000, async () => pods.samples > 0 && leaders.changes.length > 0, undefined, 100);
    // The longest stalls are measured from here: this rollout's own.
    w.resetLongestGap();
    r.resetLongestGap();
    const wBefore = w.report();
    const rBefore = r.report();
    const t0 = Date.now();
    await trigger();
    const kvc = await waitRolledOut(kube, ns, NAME, REPLICAS, `${what} completed`, since, 12 * 60_000, logs);
    const seconds = (Date.now() - t0) / 1000;
    await Promise.all([pods.stop(), leaders.stop()]);
    const wAfter = w.report();
    const rAfter = r.report();

    const ev = (await clusterEvents(kube, ns, NAME)).filter((e) => e.at >= t0 - 1000);
    const replaced = replacedInEvents(ev);
    const moved = ev.filter((e) => e.reason === 'LeaderMoved');
    const lead = leaders.summary();
    const lines = [
      `${what}: ${seconds.toFixed(1)} s`,
      `writes: ${wAfter.acknowledged - wBefore.acknowledged} acknowledged, ${wAfter.failed - wBefore.failed} failed requests, ${wAfter.failedAfterRetry - wBefore.failedAfterRetry} failed after one retry; longest write stall ${wAfter.longestGapMs} ms; errors so far ${w.errorSummary()}`,
      `linearizable reads: ${rAfter.reads - rBefore.reads} sent, ${rAfter.failed - rBefore.failed} failed, ${rAfter.failedAfterRetry - rBefore.failedAfterRetry} failed after one retry, ${rAfter.stale.length} stale; longest read stall ${rAfter.longestGapMs} ms; errors so far ${r.errorSummary()}`,
      `leaders: ${lead.sequence} (${lead.changes} changes seen, term +${lead.termGrowth})`,
      `replaced in order: ${replaced.join(', ')}; most members down at once: ${pods.maxDown} (${pods.worst.join(', ')})`,
      `pods: ${pods.describe()}`,
    ];
    for (const line of lines) {
      t.diagnostic(line);
      note(line);
    }
    // Each member replaced exactly once (two pod uids: the old and the new), never two down at once.
    assert.deepEqual(pods.notReplacedExactly(2), [], 'every member had exactly two pods: the old one and its replacement');
    assert.ok(pods.maxDown <= 1, `at most one member down at once, saw ${pods.maxDown}: ${pods.worst.join(', ')}`);
    assert.equal(replaced.length, REPLICAS, `one MemberReplaced per member: ${replaced.join(', ')}`);
    assert.equal(new Set(replaced).size, REPLICAS, `each member replaced once: ${replaced.join(', ')}`);
    assert.equal(replaced.at(-1), leaderBefore, 'the leader is the last member replaced');
    assert.equal(moved.length, 1, 'leadership moved once, before the leader was replaced');
    assert.equal(ev.filter((e) => e.reason === 'UpgradeStalled').length, 0);
    // A new leader means a new term: the term's growth bounds the leader changes, including any the sampling missed.
    assert.ok(lead.termGrowth <= REPLICAS, `at most one leader change per member replaced: term grew by ${lead.termGrowth}`);
    assert.ok(lead.changes <= REPLICAS, `leader changes seen: ${lead.sequence}`);
    assert.deepEqual(rAfter.stale, [], 'every linearizable read saw the writes acknowledged before it');
    assert.ok(rAfter.reads - rBefore.reads > 0, 'reads ran during the rollout');
    return kvc;
  }

  test(`${prev.version} -> ${CURRENT} on 5 members: each replaced once, one at a time, the leader last, <= 1 leader change per member, no stale read`, async (t) => {
    assert.deepEqual(await podImages(kube, ns, NAME), imagesAll(NAME, REPLICAS, prev.version));
    const kvc = await measuredRollout(t, `upgrade of ${REPLICAS} members ${prev.version} -> ${CURRENT}`, async () => {
      const p = await kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { version: CURRENT } })]);
      assert.equal(p.code, 0, p.err);
    });
    assert.deepEqual(await podImages(kube, ns, NAME), imagesAll(NAME, REPLICAS, CURRENT));
    assert.equal(kvc.status?.currentVersion, CURRENT);
    assert.deepEqual(((kvc.status?.members ?? []) as { version?: string }[]).map((m) => m.version), Array(REPLICAS).fill(CURRENT));
  });

  test(`rolling restart of 5 members on ${CURRENT} (graceful stop on both sides): the same checks`, async (t) => {
    await measuredRollout(t, `rolling restart of ${REPLICAS} members on ${CURRENT}`, async () => {
      const p = await kubectl(['patch', 'kvc', NAME, '-n', ns, '--type=merge', '-p', JSON.stringify({ metadata: { annotations: { 'kvorum.io/restartedAt': new Date().toISOString() } } })]);
      assert.equal(p.code, 0, p.err);
    });
  });

  test('after the clients stop, every acknowledged write is on every member', async () => {
    assert.ok(writer && reader);
    const w = writer;
    writer = undefined;
    const rr = await reader.stop();
    reader = undefined;
    const rep = await w.stop();
    note(`writer overall: ${rep.attempted} attempted, ${rep.acknowledged} acknowledged, ${rep.failed} failed (${rep.failedAfterRetry} after a retry); reads ${rr.reads}, ${rr.failed} failed, ${rr.stale.length} stale`);
    assert.ok(rep.acknowledged > 200, `acknowledged ${rep.acknowledged}`);
    const lost = await findLostWrites(ref, PREFIX, w.acknowledged);
    assert.deepEqual(lost.missing, []);
    assert.deepEqual(lost.wrongValue, []);
    await everyMemberHasWrites(ref, PREFIX, w.acknowledged);
  });
});

// Acceptance (issue 14): bytes flipped in the middle of one member's WAL
// segment while a client writes, then the pod deleted. The member must
// refuse its data (exit 65, not a silent truncation of the records after
// the damage), and the operator must replace it as a member whose volume
// was lost: remove it, wipe the volume, add it back as a learner, with an
// Event naming the reason, and no acknowledged write lost.
import assert from 'node:assert/strict';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeList } from './kube/client.js';
import { currentLeader, everyMemberHasWrites, findLostWrites, membershipView, type ClusterRef } from './operator/checker.js';
import { assertRecovered } from './operator/disruption.js';
import { readClientTLS } from './operator/etcd-client.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { kvcPath, waitAvailable } from './operator/kvcluster.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note } from './operator/util.js';
import { ContinuousWriter } from './operator/writer.js';
import { CORRUPT_DATA_EXIT_CODE } from '../../contract/data-corruption.js';

const NAME = 'kv';
const PREFIX = 'acked/';

/** The newest WAL segment under a member's data volume (the e2e provisioner's hostPath). */
async function newestSegment(volume: string): Promise<string> {
  const dir = join(volume, 'wal');
  const segments = (await readdir(dir)).filter((f) => /^[0-9a-f]{16}-[0-9a-f]{16}\.wal$/.test(f)).sort();
  assert.ok(segments.length > 0, `no WAL segment in ${dir}`);
  return join(dir, segments[segments.length - 1]!);
}

describe('a member whose WAL is corrupted in place is replaced by the operator', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let ref: ClusterRef;
  let writer: ContinuousWriter | undefined;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-cor');
    ns = await createNamespace(kube, 'kvc-cor');
    op = await installOperator(kube, opNs, { sets: ['replicaCount=1'] });
    const kvc = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: NAME }, spec: { replicas: 3 } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(kvc));
    assert.equal(r.code, 0, r.err);
    await waitAvailable(kube, ns, NAME, 3, 240_000, logs);
    ref = { kube, namespace: ns, cluster: NAME, tls: await readClientTLS(kube, ns, `${NAME}-client-tls`) };
    writer = new ContinuousWriter({ kube, namespace: ns, cluster: NAME, tls: ref.tls, prefix: PREFIX, maxWrites: 20_000, maxDurationMs: 15 * 60_000, concurrency: 2, pauseMs: 50 }).start();
    await writer.progressed(300, 120_000);
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

  test('four bytes flipped mid-segment, pod deleted: exit 65, CorruptData Event, removed, wiped, re-added; no acknowledged write lost', async () => {
    assert.ok(writer);
    const leader = await currentLeader(ref);
    const victim = [1, 2, 0].map((i) => `${NAME}-${i}`).find((n) => n !== leader)!;
    const podPath = `/api/v1/namespaces/${ns}/pods/${victim}`;
    const claimPath = `/api/v1/namespaces/${ns}/persistentvolumeclaims/data-${victim}`;
    const before = await membershipView(ref);
    const oldId = before.members.find((m) => m.name === victim)?.id;
    assert.ok(oldId, `${victim} in the member list`);
    const claim = await kube.get(claimPath);
    const pv = await kube.get(`/api/v1/persistentvolumes/${claim.spec.volumeName as string}`);
    const volume = pv.spec.hostPath?.path as string | undefined;
    assert.ok(volume, `PV ${pv.metadata.name} is a hostPath volume`);

    // Damage in the middle of the segment, in place, while the member runs
    // and the writer goes on: valid records follow the damaged one.
    const segment = await newestSegment(volume);
    const size = (await stat(segment)).size;
    assert.ok(size > 8192, `${segment} holds ${size} bytes; expected the writer's records`);
    const offset = Math.floor(size / 2);
    const handle = await open(segment, 'r+');
    try {
      const bytes = Buffer.alloc(4);
      await handle.read(bytes, 0, 4, offset);
      for (let i = 0; i < 4; i++) bytes[i] = bytes[i]! ^ 0xff;
      await handle.write(bytes, 0, 4, offset);
      await handle.sync();
    } finally {
      await handle.close();
    }
    note(`flipped 4 bytes at offset ${offset} of ${size} in ${segment} (${victim}, leader ${leader})`);
    const ackedBefore = writer.report().acknowledged;
    await kube.delete(podPath);

    // The restarted member refuses its data with its own exit status.
    const refused = await eventually(`${victim} exits ${CORRUPT_DATA_EXIT_CODE}`, 180_000, async () => {
      const p = await kube.find(podPath);
      for (const cs of (p?.status?.containerStatuses ?? []) as { state?: { terminated?: { exitCode: number } }; lastState?: { terminated?: { exitCode: number } } }[]) {
        const t = cs.state?.terminated ?? cs.lastState?.terminated;
        if (t?.exitCode === CORRUPT_DATA_EXIT_CODE) return t;
      }
      return undefined;
    });
    note(`${victim} refused its data: ${JSON.stringify(refused)}`);

    // The operator says why, with the member's name.
    const event = await eventually('a CorruptData Event', 180_000, async () => {
      const events = (await kube.get<KubeList>(`/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent(`involvedObject.kind=KVCluster,involvedObject.name=${NAME}`)}`)).items;
      return events.find((e) => e.reason === 'CorruptData' && String(e.message).includes(victim));
    });
    note(`Event ${event.type as string} ${event.reason as string}: ${event.message as string}`);
    assert.equal(event.type, 'Warning');

    // Replaced: three voters again, the victim under a new member ID, on a new (empty, re-synced) claim.
    await assertRecovered(ref, 3, writer, PREFIX, logs, `${victim} refused its corrupt WAL`);
    const after = await membershipView(ref);
    const newId = after.members.find((m) => m.name === victim)?.id;
    assert.ok(newId && newId !== oldId, `${victim} was re-added under a new ID (old ${oldId}, now ${newId})`);
    const newClaim = await kube.get(claimPath);
    assert.notEqual(newClaim.metadata.uid, claim.metadata.uid, 'the corrupt volume was wiped (a new claim)');
    await everyMemberHasWrites(ref, PREFIX, new Map(writer.acknowledged), 120_000);

    const w = writer;
    writer = undefined;
    const rep = await w.stop();
    note(`writer: ${rep.attempted} attempted, ${rep.acknowledged} acknowledged (${ackedBefore} before the damage), ${rep.failed} failed, longest gap ${rep.longestGapMs}ms`);
    const lost = await findLostWrites(ref, PREFIX, w.acknowledged);
    assert.equal(lost.checked, rep.acknowledged);
    assert.deepEqual(lost.missing, []);
    assert.deepEqual(lost.wrongValue, []);
  });
});

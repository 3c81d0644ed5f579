// The check that follows every disruption in the membership tests: the
// KVCluster is Available again with the desired size, the Raft member list is
// exactly the StatefulSet's pods (no learners, nothing unstarted), and every
// write acknowledged so far reads back.
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/client.js';
import { describeMembers, findLostWrites, membershipMismatch, membershipView, type ClusterRef } from './checker.js';
import { waitAvailable } from './kvcluster.js';
import { eventually, isPodReady, note } from './util.js';
import type { ContinuousWriter } from './writer.js';

export async function assertRecovered(ref: ClusterRef, replicas: number, writer: ContinuousWriter, prefix: string, logs: () => Promise<string>, what: string): Promise<KubeObject> {
  const t0 = Date.now();
  const kvc = await waitAvailable(ref.kube, ref.namespace, ref.cluster, replicas, 300_000, logs);
  const view = await eventually(
    `${what}: member list == StatefulSet (${replicas})`,
    60_000,
    async () => {
      const v = await membershipView(ref);
      return membershipMismatch(v, replicas) === undefined && v;
    },
    async () => {
      const v = await membershipView(ref).catch((e: Error) => e.message);
      return typeof v === 'string' ? v : `${membershipMismatch(v, replicas)}; members ${describeMembers(v)}`;
    },
  );
  // Status members agree with the cluster's own list.
  const statusIds = (kvc.status.members as { id: string }[]).map((m) => m.id).sort();
  assert.deepEqual(statusIds, view.members.map((m) => m.id).sort(), `${what}: status.members ids match MemberList`);
  await writer.progressed(20, 60_000);
  const snapshot = new Map(writer.acknowledged);
  const lost = await findLostWrites(ref, prefix, snapshot);
  assert.deepEqual(lost.missing.slice(0, 10), [], `${what}: ${lost.missing.length} of ${lost.checked} acknowledged keys missing`);
  assert.deepEqual(lost.wrongValue.slice(0, 10), [], `${what}: ${lost.wrongValue.length} keys with another value`);
  note(`${what}: recovered in ${((Date.now() - t0) / 1000).toFixed(1)}s; members ${describeMembers(view)}; ${lost.checked} acknowledged keys all present; writer ${writer.report().failed} failed so far`);
  return kvc;
}

/** Waits until pod `name` exists with a uid other than `oldUid` and is Ready. */
export async function waitReplaced(ref: ClusterRef, name: string, oldUid: string, timeoutMs = 180_000): Promise<KubeObject> {
  return eventually(`${name} re-created and ready`, timeoutMs, async () => {
    const p = await ref.kube.find(`/api/v1/namespaces/${ref.namespace}/pods/${name}`);
    return p !== undefined && p.metadata.uid !== oldUid && !p.metadata.deletionTimestamp && isPodReady(p) && p;
  });
}

// The operator's membership reconciler against a real Kvorum process cluster
// on loopback: fake Kubernetes effects start and stop member processes the
// way a StatefulSet would, and reconcileMembership drives 3 -> 5 -> 3 (with
// the leader on a departing member) and replaces a member whose data was lost.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterClient } from '../../operator/membership/client.js';
import { MEMBER_ID_ANNOTATION } from '../../operator/membership/planner.js';
import { reconcileMembership, type MembershipContext, type MembershipEffects, type MembershipResult, type PodLike, type PVCLike } from '../../operator/membership/reconcile.js';
import { JOIN_REFUSED_EXIT_CODE } from '../../node/server/join.js';
import { ProcessCluster, freePort, type ProcessMember } from './process-cluster.js';

const NAME = 'it';
const MAX = 5;

/** A StatefulSet, its pods and PVCs, played by processes and data dirs. */
class FakeKube implements MembershipEffects {
  replicas = 3;
  initialCluster = '';
  readonly pods = new Set<number>();
  readonly annotations = new Map<number, Record<string, string>>();
  readonly events: string[] = [];
  readonly steps: string[] = [];
  failNextInitialCluster = false;

  constructor(
    readonly c: ProcessCluster,
    readonly slots: ProcessMember[],
  ) {}

  private ordinalOf(name: string): number {
    return Number(/-(\d+)$/.exec(name)![1]);
  }

  private startPod(o: number): void {
    const byName = new Map(this.slots.map((s) => [s.name, s]));
    const cluster = this.initialCluster
      .split(',')
      .map((e) => byName.get(e.split('=')[0]!))
      .filter((m): m is ProcessMember => m !== undefined);
    this.c.start(this.slots[o]!, 'existing', cluster);
    this.pods.add(o);
  }

  async setStatefulSetReplicas(n: number): Promise<void> {
    this.steps.push(`replicas=${n}`);
    for (let o = n; o < MAX; o++) {
      if (this.pods.has(o)) await this.c.kill(this.slots[o]!, 'SIGTERM');
      this.pods.delete(o);
    }
    for (let o = 0; o < n; o++) if (!this.pods.has(o)) this.startPod(o);
    this.replicas = n;
  }

  async deletePVC(name: string): Promise<void> {
    this.steps.push(`deletePVC ${name}`);
    const o = this.ordinalOf(name);
    rmSync(this.slots[o]!.dataDir, { recursive: true, force: true });
    this.annotations.delete(o);
  }

  async deletePod(name: string): Promise<void> {
    this.steps.push(`deletePod ${name}`);
    const o = this.ordinalOf(name);
    await this.c.kill(this.slots[o]!, 'SIGTERM');
    this.pods.delete(o);
    if (o < this.replicas) this.startPod(o);
  }

  async setInitialCluster(members: { name: string; peerURL: string }[]): Promise<void> {
    if (this.failNextInitialCluster) {
      this.failNextInitialCluster = false;
      throw new Error('injected: the API server is unavailable');
    }
    this.initialCluster = members.map((m) => `${m.name}=${m.peerURL}`).join(',');
    this.steps.push(`initial-cluster=${members.map((m) => m.name).join(',')}`);
  }

  async annotatePVC(name: string, annotations: Record<string, string>): Promise<void> {
    const o = this.ordinalOf(name);
    this.annotations.set(o, { ...this.annotations.get(o), ...annotations });
  }

  async event(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    this.events.push(`${type} ${reason}: ${message}`);
  }

  podObjects(): PodLike[] {
    return [...this.pods].map((o) => {
      const proc = this.slots[o]!.process;
      const exit = proc?.exitCode ?? null;
      const running = proc !== undefined && exit === null && proc.signalCode === null;
      return {
        metadata: { name: `${NAME}-${o}` },
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: running ? 'True' : 'False' }],
          containerStatuses: [{ name: 'kvorum', state: running ? { running: {} } : { terminated: { exitCode: exit ?? 1 } } }],
        },
      };
    });
  }

  pvcObjects(): PVCLike[] {
    return this.slots
      .map((s, o) => ({ s, o }))
      .filter(({ s }) => existsSync(s.dataDir))
      .map(({ o }) => ({ metadata: { name: `data-${NAME}-${o}`, uid: `uid-${o}`, annotations: this.annotations.get(o) ?? {} } }));
  }
}

describe('reconcileMembership on a live Kvorum cluster', () => {
  let c: ProcessCluster;
  let slots: ProcessMember[];
  let kube: FakeKube;
  let client: ClusterClient;

  before(async () => {
    c = await ProcessCluster.create('kvorum', 3);
    c.members.forEach((m, i) => {
      m.name = `${NAME}-${i}`;
      m.dataDir = join(c.root, m.name);
    });
    for (let i = 3; i < MAX; i++) {
      c.members.push({
        name: `${NAME}-${i}`,
        clientUrl: `http://127.0.0.1:${await freePort()}`,
        peerUrl: `http://127.0.0.1:${await freePort()}`,
        dataDir: join(c.root, `${NAME}-${i}`),
        log: [],
      });
    }
    slots = [...c.members];
    for (const m of slots.slice(0, 3)) c.start(m, 'new', slots.slice(0, 3));
    await c.waitHealthy(30000, slots.slice(0, 3));
    kube = new FakeKube(c, slots);
    for (let o = 0; o < 3; o++) kube.pods.add(o);
    kube.initialCluster = slots
      .slice(0, 3)
      .map((m) => `${m.name}=${m.peerUrl}`)
      .join(',');
    client = new ClusterClient({ endpoints: slots.map((s) => s.clientUrl), callTimeoutMs: 3000 });
  });

  after(async () => {
    client?.close();
    await c?.destroy();
  });

  function context(desired: number): MembershipContext {
    return {
      clusterName: NAME,
      namespace: 'default',
      desiredReplicas: desired,
      statefulSet: { replicas: kube.replicas },
      pods: kube.podObjects(),
      pvcs: kube.pvcObjects(),
      initialCluster: kube.initialCluster,
      retentionWhenScaled: 'Delete',
      client,
      // ordinals beyond the slots never get a member: any distinct URL will do
      urls: { peerURL: (o) => slots[o]?.peerUrl ?? `http://127.0.0.2:${o}`, clientURL: (o) => slots[o]?.clientUrl ?? `http://127.0.0.2:${o}` },
      effects: kube,
    };
  }

  /** Reconciles until done (bounded); a fresh context each time, as after an operator restart. */
  async function converge(desired: number, timeoutMs = 90_000): Promise<MembershipResult[]> {
    const results: MembershipResult[] = [];
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && results.length < 400) {
      const r = await reconcileMembership(context(desired));
      results.push(r);
      if (r.done) return results;
      assert.notEqual(r.action.kind, 'refuse', `refused: ${r.action.message}`);
      await new Promise((res) => setTimeout(res, Math.min(r.requeueAfterMs ?? 500, 300)));
    }
    assert.fail(`no convergence to ${desired}: ${results.map((r) => `${r.action.kind}${r.error ? `(${r.error})` : ''}`).join(' ')}\n${kube.events.join('\n')}`);
  }

  async function assertMembers(n: number): Promise<void> {
    const list = await client.memberList();
    assert.deepEqual(
      list.map((m) => m.name).sort(),
      slots.slice(0, n).map((s) => s.name),
    );
    for (const m of list) {
      assert.equal(m.isLearner, false, `${m.name} is a voter`);
      assert.match(m.id, /^[0-9]+$/, 'IDs are decimal strings');
      const slot = slots.find((s) => s.name === m.name)!;
      assert.deepEqual(m.peerURLs, [slot.peerUrl]);
    }
  }

  test('ClusterClient reads the member list and every member status, and reports server errors in etcd words', async () => {
    const list = await client.memberList();
    assert.equal(list.length, 3);
    const statuses = await Promise.all(slots.slice(0, 3).map((s) => client.status(s.clientUrl)));
    const leaders = new Set(statuses.map((s) => s.leaderId));
    assert.equal(leaders.size, 1, 'all agree on the leader');
    assert.ok(list.some((m) => m.id === [...leaders][0]));
    for (const s of statuses) assert.ok(s.raftAppliedIndex > 0 && s.raftTerm > 0 && s.version.length > 0);
    await assert.rejects(client.memberRemove('12345'), /etcdserver: member not found/);
    await assert.rejects(client.memberAdd([slots[0]!.peerUrl], true), /etcdserver: Peer URLs already exists/);
    await assert.rejects(client.status(slots[4]!.clientUrl), /cannot reach|no answer/);
  });

  test('scale 3 -> 5: learners added before the pods start, promoted once caught up', async () => {
    kube.failNextInitialCluster = true; // one failed step in the middle, then resumed
    const results = await converge(5);
    const kinds = results.map((r) => r.action.kind);
    assert.equal(kinds.filter((k) => k === 'addLearner').length, 2, kinds.join(','));
    assert.equal(kinds.filter((k) => k === 'promote').length, 2, kinds.join(','));
    assert.ok(results.some((r) => r.error?.includes('injected')), 'the injected failure was reported');
    // Each learner was added before the StatefulSet grew to include it.
    const add3 = kinds.indexOf('addLearner');
    const raise4 = kube.steps.indexOf('replicas=4');
    assert.ok(add3 >= 0 && raise4 >= 0);
    assert.ok(kube.steps.indexOf(`initial-cluster=${NAME}-0,${NAME}-1,${NAME}-2,${NAME}-3`) < raise4, kube.steps.join(' | '));
    await assertMembers(5);
    assert.equal(kube.replicas, 5);
  });

  test('scale 5 -> 3 with the leader on the highest ordinal: leadership moves, members go highest first, PVCs deleted', async () => {
    const list = await client.memberList();
    const target = list.find((m) => m.name === `${NAME}-4`)!;
    const leaderEndpoint = await client.findLeaderEndpoint();
    assert.ok(leaderEndpoint);
    await client.moveLeader(leaderEndpoint, target.id);
    assert.equal((await client.status(slots[4]!.clientUrl)).leaderId, target.id);

    const results = await converge(3);
    const kinds = results.map((r) => r.action.kind);
    assert.ok(kinds.includes('moveLeader'), kinds.join(','));
    assert.ok(kinds.indexOf('moveLeader') < kinds.indexOf('removeMember'));
    const removed = results.filter((r) => r.action.kind === 'removeMember').map((r) => (r.action as { ordinal?: number }).ordinal);
    assert.deepEqual(removed, [4, 3]);
    await assertMembers(3);
    assert.equal(kube.replicas, 3);
    assert.ok(!existsSync(slots[3]!.dataDir) && !existsSync(slots[4]!.dataDir), 'retention Delete removed the data');
    const leader = await client.status(slots[0]!.clientUrl);
    assert.ok(list.filter((m) => m.name !== `${NAME}-3` && m.name !== `${NAME}-4`).some((m) => m.id === leader.leaderId));
  });

  test('a member whose data was lost refuses to start, and is replaced (removed, re-added as a learner, promoted)', async () => {
    const before = await client.memberList();
    const old = before.find((m) => m.name === `${NAME}-2`)!;
    await converge(3); // annotations recorded
    assert.equal(kube.annotations.get(2)?.[MEMBER_ID_ANNOTATION], old.id);

    // The PVC is lost: same pod name and peer URL, an empty data dir.
    const m2 = slots[2]!;
    await c.kill(m2, 'SIGKILL');
    rmSync(m2.dataDir, { recursive: true, force: true });
    kube.annotations.delete(2);
    c.start(m2, 'existing', slots.slice(0, 3));
    const child = m2.process!;
    const code = await new Promise<number | null>((res) => child.once('exit', (c2) => res(c2)));
    assert.equal(code, JOIN_REFUSED_EXIT_CODE, m2.log.join(''));
    assert.match(m2.log.join(''), /member [0-9a-f]+ was already started with another data dir; remove and re-add it/);

    const results = await converge(3);
    const kinds = results.map((r) => r.action.kind);
    const remove = results.find((r) => r.action.kind === 'removeMember')?.action;
    assert.equal(remove?.kind === 'removeMember' && remove.reason, 'ReplaceMember', kinds.join(','));
    assert.ok(kinds.indexOf('removeMember') < kinds.indexOf('addLearner'));
    assert.ok(kinds.includes('promote'));
    await assertMembers(3);
    const now = await client.memberList();
    const replaced = now.find((m) => m.name === `${NAME}-2`)!;
    assert.notEqual(replaced.id, old.id, 'the replacement is a new member');
    assert.equal(kube.annotations.get(2)?.[MEMBER_ID_ANNOTATION], replaced.id);
  });
});

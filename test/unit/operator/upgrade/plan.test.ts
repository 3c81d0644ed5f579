// The rollout planner against hand-made members: the order (down first, then
// followers, the leader last after MoveLeader), the gates, a repeat after a
// crash, the stalled state and a revert, and Supervised approval. The
// reconciler's side runs these actions; here each pass's action and state
// are fed into the next the way status.upgrade carries them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRollout, upgradeInProgress, type RolloutInput, type RolloutMember, type RolloutPlan } from '../../../../operator/upgrade/index.js';

const OLD = 'kv-aaa';
const NEW = 'kv-bbb';
const T0 = Date.parse('2026-12-05T06:00:00Z');

function member(o: number, over: Partial<RolloutMember> = {}): RolloutMember {
  return { name: `kv-${o}`, revision: OLD, podReady: true, podTerminating: false, healthy: true, role: 'follower', memberId: String(100 + o), appliedIndex: 500, ...over };
}

function input(members: RolloutMember[], over: Partial<RolloutInput> = {}): RolloutInput {
  return { targetRevision: NEW, targetVersion: '0.2.0', members, strategy: 'RollingUpdate', now: new Date(T0), stallTimeoutMs: 60_000, maxLag: 100, ...over };
}

/** A small world: pods and roles change as the planner's actions are carried out. */
class World {
  members: RolloutMember[];
  state: RolloutPlan['state'];
  deleted: string[] = [];
  moves: string[] = [];
  now = T0;
  constructor(n: number, leader: number) {
    this.members = Array.from({ length: n }, (_, o) => member(o, o === leader ? { role: 'leader' } : {}));
  }
  pass(over: Partial<RolloutInput> = {}): RolloutPlan {
    const plan = planRollout(input(this.members, { ...(this.state && { state: this.state }), now: new Date(this.now), ...over }));
    this.state = plan.state;
    const a = plan.action;
    if (a.kind === 'deletePod') {
      this.deleted.push(a.member);
      // The StatefulSet recreates it on the update revision; it rejoins and catches up.
      this.members = this.members.map((m) => (m.name === a.member ? { ...m, revision: NEW } : m));
    }
    if (a.kind === 'moveLeader') {
      this.moves.push(`${a.from.name}->${a.to.name}`);
      this.members = this.members.map((m) => (m.name === a.from.name ? { ...m, role: 'follower' } : m.name === a.to.name ? { ...m, role: 'leader' } : m));
    }
    this.now += 1000;
    return plan;
  }
}

test('3 members: followers one at a time, then leadership moved to an updated member, the old leader last; each member replaced once', () => {
  const w = new World(3, 0);
  const kinds: string[] = [];
  for (let i = 0; i < 20 && w.pass().action.kind !== 'none'; i++) kinds.push(w.state?.currentStep?.member ?? '-');
  assert.deepEqual(w.deleted, ['kv-2', 'kv-1', 'kv-0']);
  assert.equal(w.moves.length, 1);
  assert.match(w.moves[0]!, /^kv-0->kv-[12]$/);
  assert.equal(new Set(w.deleted).size, w.deleted.length, 'no member replaced twice');
  assert.ok(w.state?.completedAt, 'the rollout is recorded as completed');
  assert.deepEqual([...(w.state?.updatedMembers ?? [])].sort(), ['kv-0', 'kv-1', 'kv-2']);
  assert.equal(upgradeInProgress({ upgrade: w.state! }), false);
});

test('never two at once: while the replaced member is not back, nothing else is deleted', () => {
  const w = new World(5, 2);
  const first = w.pass();
  assert.equal(first.action.kind, 'deletePod');
  const replaced = (first.action as { member: string }).member;
  w.members = w.members.map((m) => (m.name === replaced ? { ...m, podReady: false, healthy: false } : m));
  for (let i = 0; i < 5; i++) {
    const p = w.pass();
    assert.equal(p.action.kind, 'wait', `pass ${i}: ${JSON.stringify(p.action)}`);
  }
  assert.deepEqual(w.deleted, [replaced]);
  assert.ok(upgradeInProgress({ upgrade: w.state! }));
});

test('a member that is down goes first, whatever its ordinal', () => {
  const members = [member(0, { role: 'leader' }), member(1, { healthy: false, podReady: false }), member(2)];
  const p = planRollout(input(members));
  assert.deepEqual(p.action.kind === 'deletePod' && p.action.member, 'kv-1');
});

test('gates before a step: no leader, an unhealthy other member or one lagging too far blocks it', () => {
  const noLeader = planRollout(input([member(0), member(1), member(2)]));
  assert.equal(noLeader.action.kind, 'wait');
  assert.match((noLeader.action as { message: string }).message, /no leader/);

  const lagging = planRollout(input([member(0, { role: 'leader', appliedIndex: 1000 }), member(1, { appliedIndex: 999 }), member(2, { appliedIndex: 700 })]));
  assert.equal(lagging.action.kind, 'wait');
  assert.match((lagging.action as { message: string }).message, /kv-2 is more than the allowed lag/);

  const notReady = planRollout(input([member(0, { role: 'leader' }), member(1, { revision: NEW, podReady: false }), member(2)]));
  // kv-1 is on the new revision already but not Ready: nobody else goes.
  assert.equal(notReady.action.kind, 'wait');
});

test('gates after a step: the replaced member must be Ready, healthy, on the target version and caught up', () => {
  const w = new World(3, 0);
  w.pass(); // deletes kv-2
  w.members = w.members.map((m) => (m.name === 'kv-2' ? { ...m, appliedIndex: 10 } : m));
  let p = w.pass();
  assert.equal(p.action.kind, 'wait');
  assert.match((p.action as { message: string }).message, /behind the leader/);
  w.members = w.members.map((m) => (m.name === 'kv-2' ? { ...m, appliedIndex: 500, version: '0.1.0' } : m));
  p = w.pass();
  assert.match((p.action as { message: string }).message, /reports version 0.1.0, want 0.2.0/);
  w.members = w.members.map((m) => (m.name === 'kv-2' ? { ...m, version: '0.2.0' } : m));
  p = w.pass();
  assert.equal(p.action.kind, 'wait');
  assert.equal((p.action as { reason: string }).reason, 'MemberUpdated');
  assert.equal(w.state?.currentStep, undefined);
  assert.equal(w.pass().action.kind, 'deletePod');
});

test('crash after the step was recorded but before the pod was deleted: the same member is deleted again, no other', () => {
  const w = new World(3, 0);
  const p = w.pass();
  assert.equal(p.action.kind, 'deletePod');
  // Undo the deletion: the operator died between writing status.upgrade and deleting the pod.
  w.members = w.members.map((m) => (m.name === 'kv-2' ? { ...m, revision: OLD } : m));
  w.deleted = [];
  const again = planRollout(input(w.members, { state: w.state! }));
  assert.deepEqual(again.action.kind === 'deletePod' && again.action.member, 'kv-2');
  assert.equal(again.state?.currentStep?.member, 'kv-2');
});

test('crash after the pod was deleted: the standby (fresh planner, same status) waits for that member and never re-deletes it', () => {
  const w = new World(3, 0);
  w.pass(); // kv-2 deleted and recorded
  w.members = w.members.map((m) => (m.name === 'kv-2' ? { ...m, podReady: false, healthy: false } : m));
  const resumed = planRollout(input(w.members, { state: structuredClone(w.state!), now: new Date(T0 + 5000) }));
  assert.equal(resumed.action.kind, 'wait');
  assert.equal(resumed.state?.currentStep?.member, 'kv-2');
});

test('stalled: a replaced member not healthy within the timeout stops the rollout; the rest are untouched; a revert replaces it back', () => {
  const w = new World(3, 0);
  w.pass(); // kv-2 goes to the broken revision
  w.members = w.members.map((m) => (m.name === 'kv-2' ? { ...m, podReady: false, healthy: false, appliedIndex: undefined } : m));
  w.now += 61_000;
  const stalled = w.pass();
  assert.equal(stalled.action.kind, 'stalled');
  assert.match((stalled.action as { message: string }).message, /kv-2 not healthy .* Revert/);
  assert.equal(w.state?.stalled?.member, 'kv-2');
  for (let i = 0; i < 3; i++) assert.equal(w.pass().action.kind, 'stalled');
  assert.deepEqual(w.deleted, ['kv-2']);

  // spec.version reverted: the target is the old revision again, and kv-2 (down) is replaced first.
  const revert = planRollout(input(w.members, { state: w.state!, targetRevision: OLD, targetVersion: '0.1.0', now: new Date(w.now) }));
  assert.deepEqual(revert.action.kind === 'deletePod' && revert.action.member, 'kv-2');
  assert.equal(revert.state?.targetRevision, OLD);
  assert.equal(revert.state?.stalled, undefined);
});

test('Supervised: every follower is updated, then it waits for the approval annotation before touching the leader', () => {
  const w = new World(3, 1);
  const seen: string[] = [];
  for (let i = 0; i < 10; i++) {
    const p = w.pass({ strategy: 'Supervised' });
    seen.push(p.action.kind);
    if (p.action.kind === 'awaitApproval') break;
  }
  assert.equal(seen.at(-1), 'awaitApproval');
  assert.deepEqual(w.deleted, ['kv-2', 'kv-0']);
  assert.equal(w.pass({ strategy: 'Supervised', approval: '0.1.9' }).action.kind, 'awaitApproval', 'an approval for another version does not count');
  const approved = w.pass({ strategy: 'Supervised', approval: '0.2.0' });
  assert.equal(approved.action.kind, 'moveLeader');
  while (w.pass({ strategy: 'Supervised', approval: '0.2.0' }).action.kind !== 'none');
  assert.deepEqual(w.deleted, ['kv-2', 'kv-0', 'kv-1']);
});

test('a single member is replaced in place (nobody to hand leadership to)', () => {
  const p = planRollout(input([member(0, { role: 'leader' })]));
  assert.deepEqual(p.action.kind === 'deletePod' && p.action.member, 'kv-0');
});

test('nothing to roll: no state, no action; a missing pod is left to the StatefulSet', () => {
  assert.deepEqual(planRollout(input([member(0, { revision: NEW, role: 'leader' })])), { action: { kind: 'none' } });
  const missing = planRollout(input([member(0, { role: 'leader', revision: NEW }), member(1, { revision: undefined, healthy: false, podReady: false })]));
  assert.equal(missing.action.kind, 'wait');
  assert.equal((missing.action as { reason: string }).reason, 'PodMissing');
});

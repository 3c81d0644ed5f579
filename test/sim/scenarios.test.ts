// Scripted scenarios in the simulator, covering what the usual Raft test
// suites cover. Every scenario also ends with the simulator's invariants and
// a linearizability check of the client history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Role } from '../../node/raft/raft.js';
import { ConfChangeType, MessageType } from '../../node/raft/types.js';
import { MemoryStorage } from '../../node/raft/memory-storage.js';
import { Simulation } from './cluster.js';
import { fingerprints, get, leaders, op, put, waitForConvergence, waitForLeader } from './helpers.js';
import { checkLinearizable } from './linearizability.js';
import { kvModel } from './models.js';

function assertSafe(sim: Simulation): void {
  assert.deepEqual(sim.violations, [], sim.traceText());
  const lin = checkLinearizable(kvModel, sim.history);
  assert.equal(lin.result, 'ok', 'explanation' in lin ? lin.explanation : '');
}

test('initial election: one leader, agreed by all, stable without faults', () => {
  const sim = new Simulation({ seed: 101, voters: 3 });
  const leader = waitForLeader(sim, 1000);
  assert.ok(leader, 'a leader is elected');
  const term = leader.raw!.term;
  for (const m of sim.members.values()) {
    assert.equal(m.raw!.lead, leader.id, `n${m.id} follows the leader`);
    assert.equal(m.raw!.term, term);
  }
  sim.runFor(3000);
  assert.equal(sim.leader()?.id, leader.id, 'leadership is stable');
  assert.equal(sim.leader()!.raw!.term, term, 'no new terms without faults');
  assertSafe(sim);
});

test('re-election after leader failure, and no leader without a quorum', () => {
  const sim = new Simulation({ seed: 102, voters: 3 });
  const first = waitForLeader(sim)!;
  sim.isolate(first.id);
  const others = [...sim.members.keys()].filter((id) => id !== first.id);
  const second = waitForLeader(sim, 3000, others);
  assert.ok(second, 'the connected majority elects a new leader');
  assert.ok(second.raw!.term > first.raw!.term || first.raw!.role !== Role.Leader);
  sim.heal();
  sim.runFor(1000);
  assert.equal(leaders(sim).length, 1, 'the old leader steps down after rejoining');
  assert.ok(put(sim, sim.leader()!.id, 'x', '1'));
  // Two of three down: nobody can lead.
  const [a, b] = others;
  sim.crash(a!);
  sim.crash(b!);
  sim.runFor(3000);
  assert.equal(leaders(sim).length, 0, 'no leader with one of three members');
  sim.restart(a!);
  assert.ok(waitForLeader(sim), 'a leader again once a quorum is back');
  assertSafe(sim);
});

test('many elections: 7 members, a leader whenever a majority is connected', () => {
  const sim = new Simulation({ seed: 103, voters: 7 });
  assert.ok(waitForLeader(sim));
  const ids = [...sim.members.keys()];
  for (let round = 0; round < 10; round++) {
    sim.heal();
    const out = sim.rng.shuffle(ids).slice(0, 3);
    const inside = ids.filter((id) => !out.includes(id));
    for (const id of out) sim.isolate(id);
    const leader = waitForLeader(sim, 4000, inside);
    assert.ok(leader, `round ${round}: the 4 connected members elect a leader`);
  }
  sim.heal();
  assert.ok(waitForLeader(sim));
  assertSafe(sim);
});

test('basic agreement: every member applies the same commands in the same order', () => {
  const sim = new Simulation({ seed: 104, voters: 5 });
  const leader = waitForLeader(sim)!;
  for (let i = 0; i < 20; i++) assert.ok(op(sim, leader.id, { op: 'append', key: 'k', value: `${i};` }) !== undefined);
  assert.ok(waitForConvergence(sim));
  assert.equal(fingerprints(sim).size, 1);
  assert.equal(get(sim, leader.id, 'k'), Array.from({ length: 20 }, (_, i) => `${i};`).join(''));
  assertSafe(sim);
});

test('follower failure: progress with one down, none with two down, recovery after restart', () => {
  const sim = new Simulation({ seed: 105, voters: 3 });
  const leader = waitForLeader(sim)!;
  const [f1, f2] = [...sim.members.keys()].filter((id) => id !== leader.id);
  sim.crash(f1!);
  assert.ok(put(sim, leader.id, 'a', '1'), 'commits with 2 of 3');
  sim.crash(f2!);
  const commitBefore = leader.raw!.status().commit;
  assert.equal(put(sim, leader.id, 'a', '2', 800), false, 'no commit with 1 of 3');
  assert.equal(leader.raw?.status().commit ?? commitBefore, commitBefore);
  sim.restart(f1!);
  sim.restart(f2!);
  const now = waitForLeader(sim)!;
  assert.ok(put(sim, now.id, 'a', '3'));
  assert.ok(waitForConvergence(sim));
  assertSafe(sim);
});

test('leader failure: a new leader takes over and the old one catches up after restart', () => {
  const sim = new Simulation({ seed: 106, voters: 3 });
  const leader = waitForLeader(sim)!;
  assert.ok(put(sim, leader.id, 'a', '1'));
  sim.crash(leader.id);
  const next = waitForLeader(sim)!;
  assert.notEqual(next.id, leader.id);
  assert.ok(put(sim, next.id, 'a', '2'));
  sim.restart(leader.id);
  assert.ok(waitForConvergence(sim));
  assert.equal(sim.members.get(leader.id)!.sm.read('a'), '2');
  assertSafe(sim);
});

test('no agreement without a quorum: a minority leader commits nothing until healed', () => {
  const sim = new Simulation({ seed: 107, voters: 5 });
  const leader = waitForLeader(sim)!;
  const others = [...sim.members.keys()].filter((id) => id !== leader.id);
  const minority = [leader.id, others[0]!];
  sim.partition(minority, others.slice(1));
  const committed = leader.raw!.status().commit;
  for (let i = 0; i < 3; i++) sim.proposeRaw(leader.id, { op: 'put', key: 'm', value: `${i}` });
  sim.runFor(150);
  assert.equal(leader.raw!.status().commit, committed, 'nothing commits in the minority');
  assert.ok(leader.raw!.status().lastIndex > committed, 'yet the proposals were appended');
  sim.heal();
  assert.ok(waitForLeader(sim));
  assert.ok(waitForConvergence(sim));
  assert.equal(fingerprints(sim).size, 1);
  assertSafe(sim);
});

test('concurrent proposals from many clients all commit, linearizably', () => {
  const sim = new Simulation({ seed: 108, voters: 3 });
  const leader = waitForLeader(sim)!;
  let done = 0;
  // Five clients, each issuing its ten appends one after another.
  const next = (c: number, i: number): void => {
    if (i === 10) return;
    sim.clientRequest(c, leader.id, { op: 'append', key: 'log', value: `${c}.${i};` }, 2000, () => {
      done++;
      next(c, i + 1);
    });
  };
  for (let c = 1; c <= 5; c++) next(c, 0);
  sim.runUntilTrue(() => done === 50, 5000);
  assert.equal(done, 50);
  assert.equal(sim.history.filter((h) => h.output !== undefined).length, 50, 'every proposal succeeds');
  // Read the result from the state machine directly: a client read of the
  // whole log would make the checker search every interleaving of appends.
  assert.equal(leader.sm.read('log').split(';').length - 1, 50);
  assertSafe(sim);
});

test('rejoin of a partitioned leader: its uncommitted entries are replaced', () => {
  const sim = new Simulation({ seed: 109, voters: 3 });
  const old = waitForLeader(sim)!;
  sim.isolate(old.id);
  for (let i = 0; i < 5; i++) sim.proposeRaw(old.id, { op: 'put', key: 'lost', value: `${i}` });
  const others = [...sim.members.keys()].filter((id) => id !== old.id);
  const fresh = waitForLeader(sim, 3000, others)!;
  assert.ok(put(sim, fresh.id, 'kept', 'yes'));
  sim.heal();
  assert.ok(waitForConvergence(sim));
  const oldMember = sim.members.get(old.id)!;
  assert.equal(oldMember.sm.read('lost'), '', 'uncommitted writes of the stale leader never apply');
  assert.equal(oldMember.sm.read('kept'), 'yes');
  assertSafe(sim);
});

test('fast back-off over long divergent logs takes few rejections', () => {
  const sim = new Simulation({ seed: 110, voters: 5, maxSizePerMsg: 1 << 20 });
  const old = waitForLeader(sim)!;
  const others = [...sim.members.keys()].filter((id) => id !== old.id);
  const buddy = others[0]!;
  sim.partition([old.id, buddy], others.slice(1));
  for (let i = 0; i < 50; i++) sim.proposeRaw(old.id, { op: 'put', key: 'div', value: `${i}` });
  sim.runFor(200);
  assert.ok(sim.members.get(buddy)!.raw!.status().lastIndex >= old.raw!.status().commit + 50, 'the minority holds 50 uncommitted entries');
  const majority = others.slice(1);
  const fresh = waitForLeader(sim, 3000, majority)!;
  let done = 0;
  for (let i = 0; i < 50; i++) sim.clientRequest(2, fresh.id, { op: 'put', key: 'main', value: `${i}` }, 3000, () => done++);
  sim.runUntilTrue(() => done === 50, 3000);
  const rejectionsBefore = sim.stats.rejections;
  sim.heal();
  assert.ok(waitForConvergence(sim));
  const rejections = sim.stats.rejections - rejectionsBefore;
  assert.ok(rejections <= 10, `catching up two members over 50 divergent entries took ${rejections} rejections`);
  assert.equal(fingerprints(sim).size, 1);
  assertSafe(sim);
});

test('persistence: every member crashes and restarts, committed writes survive', () => {
  const sim = new Simulation({ seed: 111, voters: 3 });
  const leader = waitForLeader(sim)!;
  for (let i = 0; i < 10; i++) assert.ok(put(sim, leader.id, `k${i}`, `v${i}`));
  for (const id of sim.members.keys()) sim.crash(id);
  sim.runFor(100);
  for (const id of sim.members.keys()) sim.restart(id);
  const next = waitForLeader(sim)!;
  for (let i = 0; i < 10; i++) assert.equal(get(sim, next.id, `k${i}`), `v${i}`);
  assert.ok(put(sim, next.id, 'after', 'restart'));
  assertSafe(sim);
});

test('snapshot install: a member far behind a compacted log catches up, also across a crash', () => {
  const sim = new Simulation({ seed: 112, voters: 3, snapshotEvery: 10 });
  const leader = waitForLeader(sim)!;
  const lagging = [...sim.members.keys()].find((id) => id !== leader.id)!;
  sim.isolate(lagging);
  for (let i = 0; i < 60; i++) assert.ok(put(sim, leader.id, `s${i % 7}`, `${i}`));
  assert.ok(leader.storage.firstIndex() > sim.members.get(lagging)!.storage.lastIndex() + 1, 'the leader compacted past the lagging log');
  sim.heal();
  assert.ok(waitForConvergence(sim));
  assert.ok(sim.stats.snapshotsSent > 0, 'a snapshot was sent');
  const member = sim.members.get(lagging)!;
  assert.ok(member.storage.snapshot().meta.index > 0, 'the snapshot is durable on the lagging member');
  sim.crash(lagging);
  sim.restart(lagging);
  assert.ok(waitForConvergence(sim));
  assert.equal(fingerprints(sim).size, 1);
  assertSafe(sim);
});

test('learner: catches up without voting, then is promoted and counts toward quorum', () => {
  const sim = new Simulation({ seed: 113, voters: 3 });
  const leader = waitForLeader(sim)!;
  for (let i = 0; i < 5; i++) assert.ok(put(sim, leader.id, `l${i}`, `${i}`));
  const learner = sim.addMember();
  sim.proposeConfChange(leader.id, { type: ConfChangeType.AddLearner, nodeId: learner.id, context: new Uint8Array() });
  assert.ok(waitForConvergence(sim));
  assert.deepEqual(leader.raw!.status().conf.learners, [learner.id]);
  assert.equal(learner.sm.read('l4'), '4', 'the learner replicated the data');
  assert.equal(learner.raw!.status().promotable, false, 'a learner never campaigns');
  // With the learner, two voters still form the quorum of three.
  const [f1] = [...sim.members.keys()].filter((id) => id !== leader.id && id !== learner.id);
  sim.crash(f1!);
  assert.ok(put(sim, leader.id, 'with', 'learner'));
  sim.restart(f1!);
  sim.proposeConfChange(leader.id, { type: ConfChangeType.AddNode, nodeId: learner.id, context: new Uint8Array() });
  assert.ok(waitForConvergence(sim));
  assert.ok(leader.raw!.status().conf.voters.includes(learner.id), 'promoted to voter');
  assert.ok(learner.raw!.status().promotable);
  assertSafe(sim);
});

test('removing the leader: it steps down and the rest elect a new one', () => {
  const sim = new Simulation({ seed: 114, voters: 3 });
  const leader = waitForLeader(sim)!;
  assert.ok(put(sim, leader.id, 'before', '1'));
  sim.proposeConfChange(leader.id, { type: ConfChangeType.RemoveNode, nodeId: leader.id, context: new Uint8Array() });
  sim.runUntilTrue(() => sim.appliedConfChanges.has(`${ConfChangeType.RemoveNode}:${leader.id}`), 1000);
  sim.runFor(20);
  assert.notEqual(leader.raw!.role, Role.Leader, 'the removed leader stepped down');
  sim.decommission(leader.id);
  const rest = [...sim.members.keys()].filter((id) => id !== leader.id);
  const next = waitForLeader(sim, 3000, rest)!;
  assert.ok(next, 'the remaining members elect a leader');
  assert.deepEqual(next.raw!.status().conf.voters, rest.sort((a, b) => a - b));
  assert.ok(put(sim, next.id, 'after', '2'));
  assertSafe(sim);
});

test('leadership transfer to a named member, including one that was behind', () => {
  const sim = new Simulation({ seed: 115, voters: 5 });
  const leader = waitForLeader(sim)!;
  const target = [...sim.members.keys()].find((id) => id !== leader.id)!;
  const term = leader.raw!.term;
  sim.transferLeadership(leader.id, target);
  const next = waitForLeader(sim, 500, [target]);
  assert.equal(next?.id, target, 'the named member leads');
  assert.equal(next!.raw!.term, term + 1, 'in the very next term (no election timeout needed)');
  // Transfer to a member that missed writes: the leader catches it up first.
  const behind = [...sim.members.keys()].find((id) => id !== target)!;
  sim.isolate(behind);
  for (let i = 0; i < 10; i++) assert.ok(put(sim, target, `t${i}`, `${i}`));
  sim.heal();
  sim.transferLeadership(target, behind);
  assert.equal(waitForLeader(sim, 1000, [behind])?.id, behind);
  assert.equal(get(sim, behind, 't9'), '9');
  assertSafe(sim);
});

test('PreVote: a partitioned member rejoining does not disrupt the leader', () => {
  const sim = new Simulation({ seed: 116, voters: 3 });
  const leader = waitForLeader(sim)!;
  const term = leader.raw!.term;
  const loner = [...sim.members.keys()].find((id) => id !== leader.id)!;
  sim.isolate(loner);
  sim.runFor(3000);
  assert.equal(sim.members.get(loner)!.raw!.term, term, 'pre-votes do not bump the isolated member’s term');
  sim.heal();
  sim.runFor(1000);
  assert.equal(sim.leader()?.id, leader.id);
  assert.equal(leader.raw!.term, term, 'the leader kept its term');
  assertSafe(sim);
});

test('without PreVote the same rejoin does disrupt the leader (what PreVote prevents)', () => {
  const sim = new Simulation({ seed: 116, voters: 3, preVote: false, checkQuorum: false });
  const leader = waitForLeader(sim)!;
  const term = leader.raw!.term;
  const loner = [...sim.members.keys()].find((id) => id !== leader.id)!;
  sim.isolate(loner);
  sim.runFor(3000);
  assert.ok(sim.members.get(loner)!.raw!.term > term + 3, 'the isolated member keeps bumping its term');
  sim.heal();
  sim.runFor(1000);
  assert.ok(waitForLeader(sim)!.raw!.term > term, 'the cluster had to move to a new term');
  assertSafe(sim);
});

test('CheckQuorum: an isolated leader steps down; ReadIndex never serves a stale read', () => {
  const sim = new Simulation({ seed: 117, voters: 3 });
  const old = waitForLeader(sim)!;
  assert.ok(put(sim, old.id, 'r', 'old'));
  sim.isolate(old.id);
  const others = [...sim.members.keys()].filter((id) => id !== old.id);
  const fresh = waitForLeader(sim, 3000, others)!;
  assert.ok(put(sim, fresh.id, 'r', 'new'));
  // A read through the isolated old leader must not return the stale value.
  assert.equal(get(sim, old.id, 'r', 400), undefined);
  sim.runFor(300);
  assert.notEqual(old.raw!.role, Role.Leader, 'the isolated leader stepped down');
  sim.heal();
  assert.equal(get(sim, others[0]!, 'r'), 'new', 'a follower serves a linearizable read via the leader');
  assertSafe(sim);
});

test('heartbeat responses resume a follower whose appends were all lost', () => {
  const sim = new Simulation({ seed: 118, voters: 3, maxInflightMsgs: 2 });
  const leader = waitForLeader(sim)!;
  const follower = [...sim.members.keys()].find((id) => id !== leader.id)!;
  sim.dropFilter = (m) => m.type === MessageType.App && m.to === follower && m.entries.length > 0;
  for (let i = 0; i < 6; i++) assert.ok(put(sim, leader.id, `h${i}`, `${i}`));
  sim.dropFilter = undefined;
  assert.ok(waitForConvergence(sim));
  assert.equal(sim.members.get(follower)!.sm.read('h5'), '5');
  assertSafe(sim);
});

test('a follower that lost acknowledged tail entries gets them again, even from an idle leader', () => {
  const sim = new Simulation({ seed: 119, voters: 3 });
  const leader = waitForLeader(sim)!;
  for (let i = 0; i < 5; i++) assert.ok(put(sim, leader.id, `t${i}`, `${i}`));
  assert.ok(waitForConvergence(sim));
  const victim = [...sim.members.keys()].find((id) => id !== leader.id)!;
  sim.crash(victim);
  // Its disk gives back less than it had acknowledged: the last three entries are gone.
  const member = sim.members.get(victim)!;
  const old = member.storage;
  const keep = old.lastIndex() - 3;
  const damaged = new MemoryStorage();
  damaged.applySnapshot(old.snapshot());
  damaged.append(old.entries(old.firstIndex(), keep + 1));
  const { hardState } = old.initialState();
  damaged.setHardState({ ...hardState, commit: Math.min(hardState.commit, keep) });
  member.storage = damaged;
  sim.restart(victim);
  // No new writes: only heartbeats can tell the leader what is missing.
  assert.ok(waitForConvergence(sim), 'the damaged follower catches up without new proposals');
  assert.equal(member.sm.read('t4'), '4');
  assert.equal(fingerprints(sim).size, 1, 'every member holds the same state');
  assertSafe(sim);
});

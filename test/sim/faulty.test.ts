// The simulator must catch a broken core: each deliberately faulty variant
// is run through a scripted scenario (and randomized runs) and must produce
// a violation, while the real core passes the same scenario cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Role } from '../../node/raft/raft.js';
import { createCommitByCounting, createNoLogCheck, figure8, staleCandidate } from './faulty.js';
import { randomRun } from './random-run.js';

test('Figure 8: the real core does not commit an earlier term’s entry by counting replicas', () => {
  const { sim, contestedIndex } = figure8();
  // The scenario really happened: S5 won term 5 and overwrote the contested entry.
  const s5 = sim.members.get(5)!.raw!;
  assert.equal(s5.role, Role.Leader);
  assert.equal(s5.term, 5);
  assert.equal(sim.members.get(3)!.raw!.termAt(contestedIndex), 3, 'the term-2 entry was replaced by the term-3 one');
  assert.deepEqual(sim.violations, [], sim.traceText());
});

test('Figure 8: a core that commits by counting loses a committed entry, and the simulator says so', () => {
  const { sim } = figure8(createCommitByCounting);
  assert.ok(sim.violations.length > 0, 'expected a safety violation');
  assert.match(sim.violations.join('\n'), /committed entry lost|state machine safety|core panicked/);
});

test('stale candidate: the real core refuses to elect a member missing committed entries', () => {
  const sim = staleCandidate();
  assert.notEqual(sim.members.get(3)!.raw!.role, Role.Leader);
  assert.deepEqual(sim.violations, [], sim.traceText());
});

test('stale candidate: a core that skips the vote’s log check overwrites committed entries', () => {
  const sim = staleCandidate(createNoLogCheck);
  assert.ok(sim.violations.length > 0, 'expected a safety violation');
  assert.match(sim.violations[0]!, /leader completeness: leader n3 /, 'the stale member was elected without a committed entry');
});

test('randomized runs catch the missing vote log check within a few seeds', () => {
  const failing: number[] = [];
  for (let seed = 1; seed <= 40 && failing.length < 3; seed++) {
    if (!randomRun(seed, { createRaft: createNoLogCheck }).ok) failing.push(seed);
  }
  assert.ok(failing.length > 0, 'no randomized run caught the broken election restriction');
});

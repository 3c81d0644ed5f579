import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { learnerInSync, reconfigurationAllowed, type MemberActivity } from '../../../node/server/membership-admin.js';

const LEARNER = 100;

/** The leader (id 1, always active) and `voters - 1` more voters of which `down` are not heard from, plus one learner. */
function cluster(voters: number, down: number, learnerActive: boolean): Map<number, MemberActivity> {
  const members = new Map<number, MemberActivity>();
  for (let id = 1; id <= voters; id++) members.set(id, { isLearner: false, recentActive: id === 1 || id > down + 1 });
  members.set(LEARNER, { isLearner: true, recentActive: learnerActive });
  return members;
}

describe('the promote check (etcd strict reconfiguration)', () => {
  // [voters, voters not heard from, learner heard from, allowed]
  const cases: [number, number, boolean, boolean][] = [
    // 1 voter: promoting makes 2 voters, which need both; the active learner is one of them.
    [1, 0, true, true],
    [1, 0, false, false],
    // 2 voters -> 3: a majority of 3 is 2.
    [2, 0, true, true],
    [2, 1, true, true],
    [2, 0, false, true],
    [2, 1, false, false],
    // 4 voters -> 5: a majority of 5 is 3.
    [4, 0, true, true],
    [4, 2, true, true],
    [4, 3, true, false],
    [4, 1, false, true],
    [4, 2, false, false],
  ];
  for (const [voters, down, learnerActive, allowed] of cases) {
    it(`${voters} voter(s), ${down} not heard from, learner ${learnerActive ? 'active' : 'silent'}: ${allowed ? 'allowed' : 'refused'}`, () => {
      assert.equal(reconfigurationAllowed(cluster(voters, down, learnerActive), { kind: 'promote', id: LEARNER }), allowed);
    });
  }

  it('counts only the learner being promoted, not other active learners', () => {
    const members = cluster(1, 0, true);
    assert.equal(reconfigurationAllowed(members, { kind: 'promote', id: 999 }), false, 'an unknown learner adds no active member');
    assert.equal(reconfigurationAllowed(members, { kind: 'add' }), false, 'adding a voter to one voter needs the new one, which has not started');
  });
});

describe('the add and remove checks', () => {
  it('refuses adding a voter that would leave the active members short of a majority', () => {
    assert.equal(reconfigurationAllowed(cluster(3, 0, false), { kind: 'add' }), true, '3 active of 4');
    assert.equal(reconfigurationAllowed(cluster(3, 1, false), { kind: 'add' }), false, '2 active of 4');
  });

  it('does not count the member being removed', () => {
    assert.equal(reconfigurationAllowed(cluster(3, 1, false), { kind: 'remove', id: 3 }), false, 'removing a live one leaves 1 active of 2');
    assert.equal(reconfigurationAllowed(cluster(3, 1, false), { kind: 'remove', id: 2 }), true, 'removing the silent one leaves 2 active of 2');
    assert.equal(reconfigurationAllowed(cluster(5, 2, false), { kind: 'remove', id: 5 }), false, 'removing a live one leaves 2 active of 4');
  });
});

describe('learnerInSync', () => {
  it('wants the learner within 90% of the leader’s log', () => {
    const progress = new Map([
      [1, { match: 1000 }],
      [LEARNER, { match: 900 }],
    ]);
    assert.equal(learnerInSync(progress, LEARNER, 1), true);
    progress.set(LEARNER, { match: 899 });
    assert.equal(learnerInSync(progress, LEARNER, 1), false);
    assert.equal(learnerInSync(progress, 555, 1), false, 'a member the leader has no progress for');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatInitialCluster,
  planMembership,
  type MembershipAction,
  type MembershipObservation,
  type MemberObservation,
  type OrdinalObservation,
} from '../../../../operator/membership/planner.js';
import { quorumOf } from '../../../../operator/membership/quorum.js';

// Member IDs above 2^63: they must survive as strings.
const idOf = (o: number, generation = 0): string => (10n ** 19n + BigInt(generation * 100 + o)).toString();
const peerURL = (o: number): string => `https://c-${o}.c-peer.ns.svc:2380`;

interface M {
  o: number;
  id?: string;
  learner?: boolean;
  /** reachable (default true unless unstarted) */
  up?: boolean;
  /** added by MemberAdd, never started: empty name */
  unstarted?: boolean;
  applied?: number;
  /** peer URL override (a stray) */
  url?: string;
}

interface Scenario {
  desired: number;
  sts: number;
  members: M[];
  /** ordinal of the leader; default the first reachable voter */
  leader?: number | null;
  retention?: 'Retain' | 'Delete';
  /** ordinals whose pods/PVCs exist; default 0..sts-1 */
  podsFor?: number[];
  pvcsFor?: number[];
  /** initial-cluster value; default: matches the members */
  ic?: string;
  tweak?: (o: MembershipObservation) => void;
}

function build(s: Scenario): MembershipObservation {
  const members: MemberObservation[] = s.members.map((m) => ({
    id: m.id ?? idOf(m.o),
    name: m.unstarted ? '' : `c-${m.o}`,
    peerURLs: [m.url ?? peerURL(m.o)],
    isLearner: m.learner === true,
  }));
  const up = (m: M): boolean => m.up ?? !m.unstarted;
  const leaderM = s.leader === null ? undefined : s.members.find((m) => (s.leader === undefined ? up(m) && !m.learner : m.o === s.leader));
  const leaderId = leaderM ? (leaderM.id ?? idOf(leaderM.o)) : '0';
  const memberStatus: MembershipObservation['memberStatus'] = {};
  for (const m of s.members) {
    memberStatus[m.id ?? idOf(m.o)] = { reachable: up(m), appliedIndex: m.applied ?? 1000, leaderId, raftTerm: 5 };
  }
  const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const pods = new Set(s.podsFor ?? range(s.sts));
  const pvcs = new Set(s.pvcsFor ?? range(s.sts));
  const ordinals: OrdinalObservation[] = range(8).map((o) => {
    const m = s.members.find((x) => x.o === o && !x.url);
    return {
      ordinal: o,
      podName: `c-${o}`,
      pvcName: `data-c-${o}`,
      peerURL: peerURL(o),
      ...(pods.has(o) && { pod: { phase: 'Running', ready: m ? up(m) : false, deleting: false, joinRefused: false } }),
      ...(pvcs.has(o) && { pvc: { uid: `uid-${o}`, deleting: false, ...(m && !m.unstarted && { memberId: m.id ?? idOf(o) }) } }),
    };
  });
  const ic = s.ic ?? formatInitialCluster(s.members.filter((m) => !m.url).sort((a, b) => a.o - b.o).map((m) => ({ name: `c-${m.o}`, peerURL: peerURL(m.o) })));
  const obs: MembershipObservation = {
    desiredReplicas: s.desired,
    statefulSet: { replicas: s.sts, readyReplicas: s.sts, updatedReplicas: s.sts },
    ordinals,
    members,
    memberStatus,
    initialCluster: ic,
    retentionWhenScaled: s.retention ?? 'Retain',
  };
  s.tweak?.(obs);
  return obs;
}

const voters = (...os: number[]): M[] => os.map((o) => ({ o }));

function expectAction(actual: MembershipAction, expected: Partial<Record<string, unknown>>): void {
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual((actual as unknown as Record<string, unknown>)[k], v, `${k} of ${JSON.stringify(actual)}`);
  }
}

const ordinal = (obs: MembershipObservation, o: number): OrdinalObservation => obs.ordinals[o]!;

interface Case {
  name: string;
  scenario: Scenario;
  expect: Partial<Record<string, unknown>>;
}

const cases: Case[] = [
  // ---- steady state and gates ----
  { name: 'three healthy voters matching the spec: nothing to do', scenario: { desired: 3, sts: 3, members: voters(0, 1, 2) }, expect: { kind: 'none' } },
  {
    name: 'member list unreadable: wait',
    scenario: { desired: 3, sts: 3, members: voters(0, 1, 2), tweak: (o) => delete o.members },
    expect: { kind: 'wait', reason: 'ClusterUnreachable' },
  },
  {
    name: 'StatefulSet missing: wait',
    scenario: { desired: 3, sts: 3, members: voters(0, 1, 2), tweak: (o) => delete o.statefulSet },
    expect: { kind: 'wait', reason: 'StatefulSetMissing' },
  },
  {
    name: 'two of three voters down: refuse everything (quorum lost)',
    scenario: { desired: 5, sts: 3, members: [{ o: 0 }, { o: 1, up: false }, { o: 2, up: false }] },
    expect: { kind: 'refuse', reason: 'QuorumLost' },
  },
  {
    name: 'no leader: no change is attempted',
    scenario: { desired: 5, sts: 3, members: voters(0, 1, 2), leader: null },
    expect: { kind: 'wait', reason: 'NoLeader' },
  },
  {
    name: 'a stale leader claim of an unreachable member does not count as a leader',
    scenario: { desired: 5, sts: 3, members: [{ o: 0 }, { o: 1 }, { o: 2, up: false }], leader: 2 },
    expect: { kind: 'wait', reason: 'NoLeader' },
  },
  {
    name: 'a voter that answers but knows no leader is not healthy: with another one down, no change is made',
    scenario: {
      desired: 1,
      sts: 3,
      members: [{ o: 0 }, { o: 1, up: false }, { o: 2 }],
      tweak: (o) => {
        o.memberStatus[o.members![2]!.id]!.leaderId = '0';
      },
    },
    expect: { kind: 'refuse', reason: 'QuorumLost', message: 'only 1 of 3 voting members are healthy (quorum is 2); no membership change can be made' },
  },
  {
    name: 'founding members that have not started yet: wait, not a quorum refusal',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, up: false }, { o: 2, up: false }],
      tweak: (o) => {
        for (const m of o.members!.slice(1)) m.started = false;
      },
    },
    expect: { kind: 'wait', reason: 'MembersStarting' },
  },

  // ---- scale up 3 -> 5 and every crash point in it ----
  {
    name: 'scale up: add ordinal 3 as a learner BEFORE raising the StatefulSet',
    scenario: { desired: 5, sts: 3, members: voters(0, 1, 2) },
    expect: { kind: 'addLearner', ordinal: 3, peerURL: peerURL(3), reason: 'ScaleUp' },
  },
  {
    name: 'crash after MemberAdd (learner exists, ConfigMap stale): update initial-cluster first',
    scenario: { desired: 5, sts: 3, members: [...voters(0, 1, 2), { o: 3, learner: true, unstarted: true }], ic: `c-0=${peerURL(0)},c-1=${peerURL(1)},c-2=${peerURL(2)}` },
    expect: {
      kind: 'setInitialCluster',
      members: [0, 1, 2, 3].map((o) => ({ name: `c-${o}`, peerURL: peerURL(o) })),
    },
  },
  {
    name: 'crash after the ConfigMap update (learner exists, replicas not raised): raise replicas by one, no second MemberAdd',
    scenario: { desired: 5, sts: 3, members: [...voters(0, 1, 2), { o: 3, learner: true, unstarted: true }] },
    expect: { kind: 'setReplicas', replicas: 4 },
  },
  {
    name: 'replicas raised, learner not started yet: wait',
    scenario: { desired: 5, sts: 4, members: [...voters(0, 1, 2), { o: 3, learner: true, unstarted: true }] },
    expect: { kind: 'wait', reason: 'LearnerStarting' },
  },
  {
    name: 'replicas raised, learner started but far behind: wait for it to catch up',
    scenario: { desired: 5, sts: 4, members: [...voters(0, 1, 2), { o: 3, learner: true, applied: 10 }] },
    expect: { kind: 'wait', reason: 'LearnerCatchingUp' },
  },
  {
    name: 'replicas raised, learner caught up but not promoted (crash before promote): promote it',
    scenario: { desired: 5, sts: 4, members: [...voters(0, 1, 2), { o: 3, learner: true, applied: 990 }] },
    expect: { kind: 'promote', ordinal: 3, memberId: idOf(3) },
  },
  {
    name: 'learner at 3 still unpromoted: ordinal 4 is not added',
    scenario: { desired: 5, sts: 4, members: [...voters(0, 1, 2), { o: 3, learner: true, up: false }] },
    expect: { kind: 'wait', reason: 'LearnerStarting' },
  },
  {
    name: 'after the promotion: next ordinal 4',
    scenario: { desired: 5, sts: 4, members: voters(0, 1, 2, 3) },
    expect: { kind: 'addLearner', ordinal: 4, reason: 'ScaleUp' },
  },
  {
    name: 'scale-up with a leftover PVC of an earlier member at the next ordinal: delete it before adding',
    scenario: { desired: 5, sts: 3, members: voters(0, 1, 2), pvcsFor: [0, 1, 2, 3] },
    expect: { kind: 'deletePVC', ordinal: 3, pvcName: 'data-c-3', reason: 'StaleData' },
  },
  {
    name: 'scale-up with one voter of three down: the learner may still be added (3 of 4 healthy once it runs)',
    scenario: { desired: 5, sts: 3, members: [{ o: 0 }, { o: 1 }, { o: 2, up: false }] },
    expect: { kind: 'addLearner', ordinal: 3 },
  },
  {
    name: 'scale-up cancelled after MemberAdd (desired back to 3): the stray learner is removed',
    scenario: { desired: 3, sts: 3, members: [...voters(0, 1, 2), { o: 3, learner: true, unstarted: true }] },
    expect: { kind: 'removeMember', memberId: idOf(3), reason: 'StrayMember' },
  },

  // ---- scale down 5 -> 3 and its crash points ----
  {
    name: 'scale down: the highest ordinal is removed first',
    scenario: { desired: 3, sts: 5, members: voters(0, 1, 2, 3, 4) },
    expect: { kind: 'removeMember', memberId: idOf(4), ordinal: 4, reason: 'ScaleDown' },
  },
  {
    name: 'scale down: the departing member is the leader: move leadership to the most up-to-date healthy voter below the new size',
    scenario: { desired: 3, sts: 5, members: [{ o: 0, applied: 990 }, { o: 1, applied: 1000 }, { o: 2, applied: 995 }, { o: 3 }, { o: 4 }], leader: 4 },
    expect: { kind: 'moveLeader', fromMemberId: idOf(4), fromOrdinal: 4, toMemberId: idOf(1), toOrdinal: 1 },
  },
  {
    name: 'crash after MemberRemove (replicas not lowered): lower replicas to the highest remaining member',
    scenario: { desired: 3, sts: 5, members: voters(0, 1, 2, 3) },
    expect: { kind: 'setReplicas', replicas: 4 },
  },
  {
    name: 'replicas lowered, retention Delete, pod gone: delete its PVC',
    scenario: { desired: 3, sts: 4, members: voters(0, 1, 2, 3), retention: 'Delete', podsFor: [0, 1, 2, 3], pvcsFor: [0, 1, 2, 3, 4] },
    expect: { kind: 'deletePVC', ordinal: 4, pvcName: 'data-c-4', reason: 'RetentionPolicy' },
  },
  {
    name: 'replicas lowered, retention Retain: the PVC stays, the next member goes',
    scenario: { desired: 3, sts: 4, members: voters(0, 1, 2, 3), retention: 'Retain', podsFor: [0, 1, 2, 3], pvcsFor: [0, 1, 2, 3, 4] },
    expect: { kind: 'removeMember', memberId: idOf(3), reason: 'ScaleDown' },
  },
  {
    name: 'retention Delete waits while the scaled-down pod still exists',
    scenario: { desired: 3, sts: 3, members: voters(0, 1, 2), retention: 'Delete', podsFor: [0, 1, 2, 3], pvcsFor: [0, 1, 2, 3] },
    expect: { kind: 'wait', reason: 'PVCCleanup' },
  },
  {
    name: 'scale down with two of five down: removing a healthy member would leave 2 of 4 healthy: refuse',
    scenario: { desired: 3, sts: 5, members: [{ o: 0 }, { o: 1, up: false }, { o: 2, up: false }, { o: 3 }, { o: 4 }] },
    expect: { kind: 'refuse', reason: 'QuorumAtRisk' },
  },
  {
    name: 'scale down where the departing member is itself down: allowed (4 healthy of 4 remain)',
    scenario: { desired: 3, sts: 5, members: [{ o: 0 }, { o: 1 }, { o: 2 }, { o: 3 }, { o: 4, up: false }] },
    expect: { kind: 'removeMember', memberId: idOf(4) },
  },
  {
    name: 'the departing leader has no healthy voter to hand over to: refuse',
    scenario: { desired: 1, sts: 3, members: [{ o: 0, up: false }, { o: 1 }, { o: 2 }], leader: 2 },
    expect: { kind: 'refuse', reason: 'QuorumAtRisk' },
  },
  {
    name: 'a learner above the desired size goes without a quorum check',
    scenario: { desired: 3, sts: 4, members: [...voters(0, 1, 2), { o: 3, learner: true }] },
    expect: { kind: 'removeMember', memberId: idOf(3), reason: 'ScaleDown' },
  },

  // ---- lost data ----
  {
    name: 'lost PVC: the started member whose pod refuses to join is removed (then re-added)',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, up: false }, { o: 2 }],
      tweak: (o) => {
        ordinal(o, 1).pod!.joinRefused = true;
        delete ordinal(o, 1).pvc!.memberId;
      },
    },
    expect: { kind: 'removeMember', memberId: idOf(1), ordinal: 1, reason: 'ReplaceMember' },
  },
  {
    name: 'a started member whose pod exits refusing its data as corrupt is removed (its PVC is then stale and wiped)',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, up: false }, { o: 2 }],
      tweak: (o) => {
        ordinal(o, 1).pod!.dataRefused = 'refusing to start on corrupt data: wal: corrupt record in /data/wal/x.wal at offset 2108';
      },
    },
    expect: { kind: 'removeMember', memberId: idOf(1), ordinal: 1, reason: 'CorruptData' },
  },
  {
    name: 'corrupt data on a member while another voter is down: refuse (quorum)',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, up: false }, { o: 2, up: false }],
      tweak: (o) => {
        ordinal(o, 1).pod!.dataRefused = 'exit code 65';
      },
    },
    expect: { kind: 'refuse' },
  },
  {
    name: 'a stale corrupt-data exit of a member that now answers is ignored',
    scenario: {
      desired: 3,
      sts: 3,
      members: voters(0, 1, 2),
      tweak: (o) => {
        ordinal(o, 1).pod!.dataRefused = 'exit code 65';
      },
    },
    expect: { kind: 'none' },
  },
  {
    name: 'after the corrupt member was re-added as a learner, its PVC (annotated with the old ID) is deleted',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, id: idOf(1, 1), learner: true, unstarted: true }, { o: 2 }],
      tweak: (o) => {
        ordinal(o, 1).pod!.dataRefused = 'exit code 65';
        ordinal(o, 1).pvc!.memberId = idOf(1);
      },
    },
    expect: { kind: 'deletePVC', pvcName: 'data-c-1', reason: 'StaleData' },
  },
  {
    name: 'lost PVC while another voter is down too: refuse (quorum lost)',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, up: false }, { o: 2, up: false }],
      tweak: (o) => {
        ordinal(o, 1).pod!.joinRefused = true;
      },
    },
    expect: { kind: 'refuse', reason: 'QuorumLost' },
  },
  {
    name: 'a stale join refusal of a member that now answers is ignored',
    scenario: {
      desired: 3,
      sts: 3,
      members: voters(0, 1, 2),
      tweak: (o) => {
        ordinal(o, 1).pod!.joinRefused = true;
      },
    },
    expect: { kind: 'none' },
  },
  {
    name: 'crash after removing the lost member: add it again as a learner',
    scenario: { desired: 3, sts: 3, members: voters(0, 2) },
    expect: { kind: 'addLearner', ordinal: 1, peerURL: peerURL(1), reason: 'ReplaceMember' },
  },
  {
    name: 're-added learner whose pod is still backing off after the refusal: restart the pod',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, id: idOf(1, 1), learner: true, unstarted: true }, { o: 2 }],
      tweak: (o) => {
        ordinal(o, 1).pod!.joinRefused = true;
      },
    },
    expect: { kind: 'deletePod', podName: 'c-1', reason: 'RestartJoin' },
  },
  {
    name: 'PVC annotated with another member while the member is unreachable: replace it',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, up: false }, { o: 2 }],
      tweak: (o) => {
        ordinal(o, 1).pvc!.memberId = idOf(1, 7);
      },
    },
    expect: { kind: 'removeMember', memberId: idOf(1), reason: 'ReplaceMember' },
  },
  {
    name: 'PVC annotated with another member but the member answers: trust the cluster and re-annotate',
    scenario: {
      desired: 3,
      sts: 3,
      members: voters(0, 1, 2),
      tweak: (o) => {
        ordinal(o, 1).pvc!.memberId = idOf(1, 7);
      },
    },
    expect: { kind: 'annotatePVC', pvcName: 'data-c-1', memberId: idOf(1) },
  },
  {
    name: 'new (never started) member whose PVC holds an older member: delete the PVC',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, id: idOf(1, 1), learner: true, unstarted: true }, { o: 2 }],
      tweak: (o) => {
        ordinal(o, 1).pvc!.memberId = idOf(1);
      },
    },
    expect: { kind: 'deletePVC', pvcName: 'data-c-1', reason: 'StaleData' },
  },
  {
    name: 'PVC being deleted while its pod still runs: delete the pod',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, id: idOf(1, 1), learner: true, unstarted: true }, { o: 2 }],
      tweak: (o) => {
        ordinal(o, 1).pvc!.deleting = true;
      },
    },
    expect: { kind: 'deletePod', podName: 'c-1', reason: 'StaleData' },
  },
  {
    name: 'started member without the PVC annotation: record it',
    scenario: { desired: 3, sts: 3, members: voters(0, 1, 2), tweak: (o) => delete ordinal(o, 2).pvc!.memberId },
    expect: { kind: 'annotatePVC', ordinal: 2, memberId: idOf(2) },
  },

  // ---- strays ----
  {
    name: 'a member with a foreign peer URL is removed',
    scenario: { desired: 3, sts: 3, members: [...voters(0, 1, 2), { o: 9, url: 'https://elsewhere:2380', up: false }] },
    expect: { kind: 'removeMember', memberId: idOf(9), reason: 'StrayMember' },
  },
  {
    name: 'a stray voter whose removal would break quorum is refused',
    scenario: {
      desired: 3,
      sts: 3,
      members: [{ o: 0 }, { o: 1, up: false }, { o: 2, up: false }, { o: 8, url: 'https://elsewhere-8:2380' }, { o: 9, url: 'https://elsewhere-9:2380' }],
    },
    expect: { kind: 'refuse', reason: 'QuorumAtRisk' },
  },
  {
    name: 'ConfigMap lists a removed member: it is brought in line once nothing else is pending',
    scenario: { desired: 3, sts: 3, members: voters(0, 1, 2), ic: [0, 1, 2, 3].map((o) => `c-${o}=${peerURL(o)}`).join(',') },
    expect: { kind: 'setInitialCluster' },
  },
];

describe('planMembership', () => {
  for (const c of cases) {
    test(c.name, () => {
      const obs = build(c.scenario);
      const before = JSON.stringify(obs);
      const action = planMembership(obs);
      expectAction(action, c.expect);
      assert.ok(action.message.length > 0);
      assert.equal(JSON.stringify(obs), before, 'the planner does not change its input');
      assert.deepEqual(planMembership(obs), action, 'the same observation gives the same action');
    });
  }

  test('quorum sizes', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumOf), [1, 2, 2, 3, 3, 4, 4]);
  });
});

// A model of a cluster that applies the planner's actions, with a world that
// moves on (pods start, learners catch up) only some of the time: every
// interleaving of "operator acted" and "world caught up" must converge, and
// the healthy voters never drop below quorum.
describe('planMembership driven to convergence', () => {
  interface ModelMember {
    id: string;
    o: number;
    learner: boolean;
    started: boolean;
  }
  interface Model {
    members: ModelMember[];
    sts: number;
    pvcs: Map<number, string | undefined>;
    ic: string;
    leader: number;
    next: number;
  }

  function observe(m: Model, desired: number): MembershipObservation {
    const ordinals: OrdinalObservation[] = Array.from({ length: 8 }, (_, o) => ({
      ordinal: o,
      podName: `c-${o}`,
      pvcName: `data-c-${o}`,
      peerURL: peerURL(o),
      ...(o < m.sts && { pod: { phase: 'Running', ready: m.members.some((x) => x.o === o && x.started), deleting: false, joinRefused: false } }),
      ...(m.pvcs.has(o) && { pvc: { uid: `u${o}`, deleting: false, ...(m.pvcs.get(o) !== undefined && { memberId: m.pvcs.get(o)! }) } }),
    }));
    const leaderId = m.members.find((x) => x.o === m.leader)!.id;
    const memberStatus: MembershipObservation['memberStatus'] = {};
    for (const x of m.members) memberStatus[x.id] = { reachable: x.started && x.o < m.sts, appliedIndex: 500, leaderId, raftTerm: 1 };
    return {
      desiredReplicas: desired,
      statefulSet: { replicas: m.sts, readyReplicas: m.sts, updatedReplicas: m.sts },
      ordinals,
      members: m.members.map((x) => ({ id: x.id, name: x.started ? `c-${x.o}` : '', peerURLs: [peerURL(x.o)], isLearner: x.learner })),
      memberStatus,
      initialCluster: m.ic,
      retentionWhenScaled: 'Delete',
    };
  }

  function apply(m: Model, a: MembershipAction): void {
    switch (a.kind) {
      case 'addLearner':
        assert.ok(!m.members.some((x) => x.o === a.ordinal), 'no duplicate member for an ordinal');
        m.members.push({ id: idOf(a.ordinal, m.next++), o: a.ordinal, learner: true, started: false });
        break;
      case 'promote':
        m.members.find((x) => x.id === a.memberId)!.learner = false;
        break;
      case 'removeMember':
        assert.notEqual(m.members.find((x) => x.id === a.memberId)?.o, m.leader, 'the leader is never removed');
        m.members = m.members.filter((x) => x.id !== a.memberId);
        break;
      case 'moveLeader':
        m.leader = a.toOrdinal;
        break;
      case 'setInitialCluster':
        m.ic = formatInitialCluster(a.members);
        break;
      case 'setReplicas':
        m.sts = a.replicas;
        break;
      case 'deletePVC':
        m.pvcs.delete(a.ordinal);
        break;
      case 'annotatePVC':
        m.pvcs.set(a.ordinal, a.memberId);
        break;
      default:
        break;
    }
  }

  function world(m: Model): void {
    for (let o = 0; o < m.sts; o++) if (!m.pvcs.has(o)) m.pvcs.set(o, undefined);
    for (const x of m.members) if (x.o < m.sts) x.started = true;
  }

  function drive(m: Model, desired: number, rand: () => number): MembershipAction[] {
    const log: MembershipAction[] = [];
    for (let step = 0; step < 100; step++) {
      const a = planMembership(observe(m, desired));
      log.push(a);
      assert.notEqual(a.kind, 'refuse', `refused: ${a.message}`);
      if (a.kind === 'none') return log;
      apply(m, a);
      const voters = m.members.filter((x) => !x.learner);
      const healthy = voters.filter((x) => x.started && x.o < m.sts);
      assert.ok(healthy.length >= quorumOf(voters.length), `quorum kept after ${a.kind}: ${healthy.length}/${voters.length}`);
      if (rand() < 0.5) world(m);
    }
    assert.fail(`no convergence to ${desired}: ${log.map((a) => a.kind).join(',')}`);
  }

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    test(`3 -> 5 -> 3 -> 7 -> 1 converges (seed ${seed})`, () => {
      let s = seed;
      const rand = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const m: Model = {
        members: [0, 1, 2].map((o) => ({ id: idOf(o), o, learner: false, started: true })),
        sts: 3,
        pvcs: new Map([0, 1, 2].map((o) => [o, idOf(o)])),
        ic: formatInitialCluster([0, 1, 2].map((o) => ({ name: `c-${o}`, peerURL: peerURL(o) }))),
        leader: 2,
        next: 1,
      };
      for (const desired of [5, 3, 7, 1]) {
        const log = drive(m, desired, rand);
        assert.equal(m.members.length, desired);
        assert.ok(m.members.every((x) => !x.learner && x.started));
        assert.equal(m.sts, desired);
        assert.deepEqual([...m.pvcs.keys()].sort(), Array.from({ length: desired }, (_, i) => i), 'PVCs of removed members deleted');
        assert.deepEqual(
          m.members.map((x) => x.o).sort(),
          Array.from({ length: desired }, (_, i) => i),
        );
        if (desired > 3) assert.ok(log.some((a) => a.kind === 'promote'));
        assert.ok(m.leader < desired, 'the leader is a remaining member');
      }
    });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberStatuses } from '../../../../operator/cluster/status.js';
import type { ClusterMember, EndpointStatus } from '../../../../operator/membership/client.js';
import { observeCluster, type ObserveAPI } from '../../../../operator/membership/observe.js';

const members: ClusterMember[] = [
  { id: '11', name: 'c-0', peerURLs: ['http://c-0:2380'], clientURLs: ['http://c-0:2379'], isLearner: false },
  { id: '12', name: 'c-1', peerURLs: ['http://c-1:2380'], clientURLs: ['http://c-1:2379'], isLearner: false },
  { id: '13', name: '', peerURLs: ['http://c-2:2380'], clientURLs: [], isLearner: true },
];

interface Fake {
  down?: Set<string>;
  /** leaderId each member reports (default '11'). */
  leaderOf?: (m: ClusterMember) => string;
  errors?: string[];
  dbSize?: (m: ClusterMember) => number;
  /** The linearizable member list fails (no leader), the local one answers. */
  noLinearizableList?: boolean;
  noList?: boolean;
}

function fakeClient(f: Fake = {}): ObserveAPI & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    memberList: async (opts?: { linearizable?: boolean }) => {
      calls.push(`memberList linearizable=${opts?.linearizable !== false}`);
      if (f.noList || (f.noLinearizableList && opts?.linearizable !== false)) throw new Error('etcdserver: no leader');
      return members;
    },
    status: async (endpoint: string): Promise<EndpointStatus> => {
      calls.push(`status ${endpoint}`);
      if (f.down?.has(endpoint)) throw new Error('unreachable');
      const m = members.find((x) => x.clientURLs[0] === endpoint)!;
      return {
        endpoint,
        memberId: m.id,
        clusterId: '255',
        leaderId: f.leaderOf?.(m) ?? '11',
        raftIndex: 9,
        raftAppliedIndex: 8,
        raftTerm: 2,
        isLearner: m.isLearner,
        version: '3.4',
        errors: f.errors ?? [],
        dbSize: f.dbSize?.(m) ?? 1,
      };
    },
  };
}

const byPublishedURL = (m: ClusterMember): string | undefined => m.clientURLs[0];

test('observeCluster reports roles, health, applied index and the cluster ID in hex', async () => {
  const obs = await observeCluster(fakeClient(), byPublishedURL);
  assert.equal(obs.clusterID, 'ff');
  assert.equal(obs.leader?.name, 'c-0');
  assert.deepEqual(
    memberStatuses(obs).map((m) => [m.name, m.role, m.healthy, m.appliedIndex]),
    [['', 'learner', false, undefined], ['c-0', 'leader', true, 8], ['c-1', 'follower', true, 8]],
  );
});

test('an unreachable member is unhealthy and no member answering leaves the cluster ID unknown', async () => {
  const obs = await observeCluster(fakeClient({ down: new Set(['http://c-1:2379']) }), byPublishedURL);
  assert.equal(memberStatuses(obs).find((m) => m.name === 'c-1')?.healthy, false);
  const none = await observeCluster(fakeClient({ down: new Set(['http://c-0:2379', 'http://c-1:2379']) }), byPublishedURL);
  assert.equal(none.clusterID, undefined);
});

test('one read: one member list and one status per addressable member', async () => {
  const api = fakeClient();
  await observeCluster(api, byPublishedURL);
  assert.deepEqual(api.calls.sort(), ['memberList linearizable=true', 'status http://c-0:2379', 'status http://c-1:2379']);
});

test('the leader is a member that names itself; followers naming an unreachable member do not make it leader', async () => {
  const obs = await observeCluster(fakeClient({ down: new Set(['http://c-0:2379']) }), byPublishedURL);
  assert.equal(obs.leader, undefined);
  assert.ok(memberStatuses(obs).every((m) => m.role !== 'leader'));
  // c-1 still knows a leader, so it is healthy (it takes part in the cluster).
  assert.equal(obs.members?.find((m) => m.name === 'c-1')?.healthy, true);
});

test('a member that knows no leader is unhealthy, and without a leader the local member list is used', async () => {
  const obs = await observeCluster(fakeClient({ leaderOf: () => '0', noLinearizableList: true }), byPublishedURL);
  assert.equal(obs.members?.length, 3);
  assert.equal(obs.leader, undefined);
  assert.deepEqual(
    obs.members?.map((m) => [m.name, m.report.reachable, m.healthy]),
    [['c-0', true, false], ['c-1', true, false], ['', false, false]],
  );
});

test('a raised NOSPACE alarm is the cluster\'s: members stay healthy, the alarm and the largest size are reported', async () => {
  const errors = ['memberID:b alarm:NOSPACE'];
  const obs = await observeCluster(fakeClient({ errors, dbSize: (m) => (m.id === '12' ? 17_000_000 : 16_900_000) }), byPublishedURL);
  assert.deepEqual(obs.alarms, ['NOSPACE']);
  assert.equal(obs.dbSizeBytes, 17_000_000);
  assert.equal(obs.leader?.name, 'c-0');
  assert.deepEqual(
    obs.members?.filter((m) => !m.isLearner).map((m) => m.healthy),
    [true, true],
  );
});

test('no member list at all: the error is kept, nothing else is claimed', async () => {
  const obs = await observeCluster(fakeClient({ noList: true }), byPublishedURL);
  assert.equal(obs.members, undefined);
  assert.match(obs.error ?? '', /no leader/);
  assert.deepEqual(obs.alarms, []);
});

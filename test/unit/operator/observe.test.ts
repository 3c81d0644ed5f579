import { test } from 'node:test';
import assert from 'node:assert/strict';
import { observeMembers } from '../../../operator/cluster/observe.js';
import type { ClusterClient, ClusterMember, EndpointStatus } from '../../../operator/membership/client.js';

const members: ClusterMember[] = [
  { id: '11', name: 'c-0', peerURLs: ['http://c-0:2380'], clientURLs: ['http://c-0:2379'], isLearner: false },
  { id: '12', name: 'c-1', peerURLs: ['http://c-1:2380'], clientURLs: ['http://c-1:2379'], isLearner: false },
  { id: '13', name: '', peerURLs: ['http://c-2:2380'], clientURLs: [], isLearner: true },
];

function fakeClient(down: Set<string>): ClusterClient {
  const status = async (endpoint: string): Promise<EndpointStatus> => {
    if (down.has(endpoint)) throw new Error('unreachable');
    const m = members.find((x) => x.clientURLs[0] === endpoint)!;
    return { endpoint, memberId: m.id, clusterId: '255', leaderId: '11', raftIndex: 9, raftAppliedIndex: 8, raftTerm: 2, isLearner: m.isLearner, version: '3.4', errors: [], dbSize: 1 };
  };
  return { memberList: async () => members, status } as unknown as ClusterClient;
}

test('observeMembers reports roles, health, applied index and the cluster ID in hex', async () => {
  const obs = await observeMembers(fakeClient(new Set()), (m) => m.clientURLs[0]);
  assert.equal(obs.clusterID, 'ff');
  assert.deepEqual(
    obs.members.map((m) => [m.name, m.role, m.healthy, m.appliedIndex]),
    [['', 'learner', false, undefined], ['c-0', 'leader', true, 8], ['c-1', 'follower', true, 8]],
  );
});

test('an unreachable member is unhealthy and no member answering leaves the cluster ID unknown', async () => {
  const obs = await observeMembers(fakeClient(new Set(['http://c-1:2379'])), (m) => m.clientURLs[0]);
  assert.equal(obs.members.find((m) => m.name === 'c-1')?.healthy, false);
  const none = await observeMembers(fakeClient(new Set(['http://c-0:2379', 'http://c-1:2379'])), (m) => m.clientURLs[0]);
  assert.equal(none.clusterID, undefined);
});

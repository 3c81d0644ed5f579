import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { ClusterClientError, describeError, grpcTarget, type ClusterMember, type EndpointStatus } from '../../../../operator/membership/client.js';
import { defaultURLs, podRefusedData, podRefusedJoin, reconcileMembership, type MembershipAPI, type MembershipContext, type MembershipEffects } from '../../../../operator/membership/reconcile.js';

const urls = defaultURLs('c', 'ns', 'https');
const id = (o: number): string => (2n ** 63n + BigInt(o)).toString();

function fakeAPI(members: ClusterMember[], down: Set<number> = new Set(), addError?: string): MembershipAPI & { calls: string[] } {
  const calls: string[] = [];
  const leader = members.find((_, o) => !down.has(o))!.id;
  return {
    calls,
    memberList: async () => members,
    memberAdd: async (peerURLs: string[], isLearner: boolean) => {
      calls.push(`add ${peerURLs.join(',')} ${isLearner}`);
      if (addError) throw new ClusterClientError(`MemberAdd on x: ${addError}`, GrpcStatus.FAILED_PRECONDITION, 'x', addError);
      const member = { id: '5', name: '', peerURLs, clientURLs: [], isLearner };
      return { member, members: [...members, member] };
    },
    memberRemove: async (i: string) => (calls.push(`remove ${i}`), members),
    memberPromote: async (i: string) => (calls.push(`promote ${i}`), members),
    moveLeader: async (ep: string, to: string) => void calls.push(`move ${ep} ${to}`),
    status: async (endpoint: string): Promise<EndpointStatus> => {
      const o = members.findIndex((m) => m.clientURLs[0] === endpoint);
      if (o < 0 || down.has(o)) throw new ClusterClientError(`Status: cannot reach ${endpoint}`, GrpcStatus.UNAVAILABLE, endpoint);
      return { endpoint, memberId: members[o]!.id, clusterId: '7', leaderId: leader, raftIndex: 10, raftAppliedIndex: 10, raftTerm: 2, isLearner: false, version: '3.4', errors: [], dbSize: 1 };
    },
  };
}

function fakeEffects(): MembershipEffects & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    setStatefulSetReplicas: async (n) => void log.push(`replicas ${n}`),
    deletePVC: async (n) => void log.push(`deletePVC ${n}`),
    deletePod: async (n) => void log.push(`deletePod ${n}`),
    setInitialCluster: async (m) => void log.push(`ic ${m.map((x) => x.name).join(',')}`),
    annotatePVC: async (n, a) => void log.push(`annotate ${n} ${JSON.stringify(a)}`),
    event: async (t, r) => void log.push(`event ${t} ${r}`),
  };
}

const members3 = [0, 1, 2].map((o) => ({ id: id(o), name: `c-${o}`, peerURLs: [urls.peerURL(o)], clientURLs: [urls.clientURL(o)], isLearner: false }));

function ctx(api: MembershipAPI, effects: MembershipEffects, desired: number): MembershipContext {
  const annotated = (o: number) => ({ metadata: { name: `data-c-${o}`, uid: `u${o}`, annotations: { 'kvorum.io/member-id': id(o) } } });
  return {
    clusterName: 'c',
    namespace: 'ns',
    scheme: 'https',
    desiredReplicas: desired,
    statefulSet: { replicas: 3 },
    pods: [0, 1, 2].map((o) => ({ metadata: { name: `c-${o}` }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } })),
    pvcs: [0, 1, 2].map(annotated),
    initialCluster: [0, 1, 2].map((o) => `c-${o}=${urls.peerURL(o)}`).join(','),
    client: api,
    effects,
  };
}

test('contract URLs', () => {
  assert.equal(urls.peerURL(2), 'https://c-2.c-peer.ns.svc:2380');
  assert.equal(urls.clientURL(0), 'https://c-0.c-peer.ns.svc:2379');
  assert.equal(grpcTarget('https://c-0.c-peer.ns.svc:2379/'), 'c-0.c-peer.ns.svc:2379');
});

test('scale-up step: memberAdd of a learner with the next ordinal peer URL, Progressing condition', async () => {
  const api = fakeAPI(members3);
  const fx = fakeEffects();
  const r = await reconcileMembership(ctx(api, fx, 5));
  assert.equal(r.action.kind, 'addLearner');
  assert.deepEqual(api.calls, [`add ${urls.peerURL(3)} true`]);
  assert.equal(r.done, false);
  assert.equal(r.condition?.type, 'Progressing');
  assert.equal(r.condition?.reason, 'ScalingUp');
  assert.ok(fx.log.includes('event Normal MemberAdded'));
});

test('a repeated MemberAdd that finds the member there already is not a failure', async () => {
  const r = await reconcileMembership(ctx(fakeAPI(members3, new Set(), 'etcdserver: Peer URLs already exists'), fakeEffects(), 5));
  assert.equal(r.error, undefined);
});

test('a server refusal is reported with its etcdserver text and a Warning event', async () => {
  const fx = fakeEffects();
  const r = await reconcileMembership(ctx(fakeAPI(members3, new Set(), 'etcdserver: re-configuration failed due to not enough started members'), fx, 5));
  assert.match(r.error ?? '', /etcdserver: re-configuration failed/);
  assert.equal(r.condition?.reason, 'MembershipChangeFailed');
  assert.ok(fx.log.includes('event Warning MembershipChangeFailed'));
});

test('two of three members down: refusal as a Degraded condition and a Warning event, nothing changed', async () => {
  const api = fakeAPI(members3, new Set([1, 2]));
  const fx = fakeEffects();
  const r = await reconcileMembership(ctx(api, fx, 5));
  assert.equal(r.action.kind, 'refuse');
  assert.deepEqual(r.condition && { type: r.condition.type, status: r.condition.status, reason: r.condition.reason }, { type: 'Degraded', status: 'True', reason: 'QuorumLost' });
  assert.deepEqual(api.calls, []);
  assert.deepEqual(fx.log, ['event Warning QuorumLost']);
});

test('settled cluster: done, no calls', async () => {
  const api = fakeAPI(members3);
  const r = await reconcileMembership(ctx(api, fakeEffects(), 3));
  assert.equal(r.done, true);
  assert.deepEqual(api.calls, []);
});

test('podRefusedJoin: by exit status or message, and only while the container is not running', () => {
  assert.equal(podRefusedJoin({ status: { containerStatuses: [{ state: { waiting: {} }, lastState: { terminated: { exitCode: 78 } } }] } }), true);
  assert.equal(podRefusedJoin({ status: { containerStatuses: [{ state: { terminated: { exitCode: 1, message: 'member 1a was already started with another data dir; ...' } } }] } }), true);
  assert.equal(podRefusedJoin({ status: { containerStatuses: [{ state: { running: {} }, lastState: { terminated: { exitCode: 78 } } }] } }), false);
  assert.equal(podRefusedJoin({ status: { containerStatuses: [{ state: { waiting: {} }, lastState: { terminated: { exitCode: 1 } } }] } }), false);
});

test('podRefusedData: exit 65 or the refusal text, with the member\'s words, only while the container is not running', () => {
  assert.equal(podRefusedData({ status: { containerStatuses: [{ state: { waiting: {} }, lastState: { terminated: { exitCode: 65, message: 'refusing to start on corrupt data: wal: ...' } } }] } }), 'refusing to start on corrupt data: wal: ...');
  assert.equal(podRefusedData({ status: { containerStatuses: [{ state: { terminated: { exitCode: 65 } } }] } }), 'exit code 65');
  assert.equal(podRefusedData({ status: { containerStatuses: [{ state: { running: {} }, lastState: { terminated: { exitCode: 65 } } }] } }), undefined);
  assert.equal(podRefusedData({ status: { containerStatuses: [{ state: { waiting: {} }, lastState: { terminated: { exitCode: 78 } } }] } }), undefined);
});

test('gRPC errors become messages that keep the server text or say what failed', () => {
  const e = (code: number, details: string): ServiceError => Object.assign(new Error(details), { code, details, metadata: undefined as never });
  const server = describeError(e(GrpcStatus.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader'), 'MemberPromote', 'h:1', 5000);
  assert.equal(server.message, 'MemberPromote on h:1: etcdserver: can only promote a learner member which is in sync with leader');
  assert.equal(server.isTransport, false);
  const down = describeError(e(GrpcStatus.UNAVAILABLE, 'No connection established'), 'Status', 'h:1', 5000);
  assert.match(down.message, /cannot reach h:1/);
  assert.equal(down.isTransport, true);
  assert.match(describeError(e(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), 'Status', 'h:1', 5000).message, /no answer within 5000 ms/);
});

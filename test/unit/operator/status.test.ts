import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, currentVersion, formatBytes, healthOf, mergeConditions, phaseOf, podProblems, statusReport, PENDING_TOO_LONG_MS, type StatusFacts } from '../../../operator/cluster/status.js';
import { parseOperatorArgs } from '../../../operator/cli.js';

const pod = (name: string, status: object, created = '2026-01-01T00:00:00Z'): { metadata: object; status: object } => ({ metadata: { name, creationTimestamp: created }, status });

test('podProblems names the pod and the reason of containers that cannot start, unschedulable and long-pending pods', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const pods = [
    pod('kv-0', { phase: 'Running', containerStatuses: [{ name: 'kvorum', ready: true, state: { running: {} } }] }),
    pod('kv-1', { phase: 'Running', containerStatuses: [{ name: 'kvorum', state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } }] }),
    pod('kv-2', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] }),
    pod('kv-3', { phase: 'Pending' }),
    pod('kv-4', { phase: 'Pending', containerStatuses: [{ name: 'kvorum', state: { waiting: { reason: 'ErrImagePull' } } }] }),
  ];
  const problems = podProblems(pods as never, t0 + PENDING_TOO_LONG_MS + 1000);
  assert.equal(problems.length, 4);
  assert.match(problems[0]!, /^pod kv-1: CrashLoopBackOff: back-off 20s \(last exit 1 Error\)/);
  assert.match(problems[1]!, /^pod kv-2: Unschedulable: 0\/3 nodes/);
  assert.match(problems[2]!, /^pod kv-3: Pending for \d+s/);
  assert.match(problems[3]!, /^pod kv-4: ErrImagePull/);
  assert.deepEqual(podProblems([pods[3]] as never, t0 + 1000), [], 'a young pending pod is not a problem');
});

test('mergeConditions keeps lastTransitionTime while the status stays, moves it on a change', () => {
  const t1 = new Date('2026-01-01T00:00:00Z');
  const t2 = new Date('2026-01-01T00:05:00Z');
  const first = mergeConditions(undefined, [{ type: 'Available', status: 'False', reason: 'NoLeader', message: 'x' }], 1, t1);
  const same = mergeConditions(first, [{ type: 'Available', status: 'False', reason: 'NoQuorum', message: 'y' }], 2, t2);
  assert.equal(same[0]!.lastTransitionTime, '2026-01-01T00:00:00Z');
  assert.equal(same[0]!.reason, 'NoQuorum');
  assert.equal(same[0]!.observedGeneration, 2);
  const flipped = mergeConditions(same, [{ type: 'Available', status: 'True', reason: 'QuorumHealthy', message: 'z' }], 2, t2);
  assert.equal(flipped[0]!.lastTransitionTime, '2026-01-01T00:05:00Z');
});

test('healthOf: available needs a healthy quorum of voters and a leader; learners do not count as voters', () => {
  const m = (name: string, role: 'leader' | 'follower' | 'learner', healthy: boolean): { name: string; role: typeof role; healthy: boolean } => ({ name, role, healthy });
  assert.equal(healthOf([m('a', 'leader', true), m('b', 'follower', true), m('c', 'follower', false)]).available, true);
  assert.equal(healthOf([m('a', 'leader', true), m('b', 'follower', false), m('c', 'follower', false)]).available, false);
  assert.equal(healthOf([m('a', 'follower', true), m('b', 'follower', true), m('c', 'follower', true)]).available, false, 'no leader');
  const h = healthOf([m('a', 'leader', true), m('d', 'learner', false)]);
  assert.equal(h.voters, 1);
  assert.equal(h.available, true);
  assert.deepEqual(h.learners, ['d']);
  assert.equal(healthOf([]).available, false);
});

test('phaseOf', () => {
  const base = { bootstrapped: true, available: true, degraded: false, scaling: false, failed: false };
  assert.equal(phaseOf(base), 'Available');
  assert.equal(phaseOf({ ...base, scaling: true }), 'Scaling');
  assert.equal(phaseOf({ ...base, available: false }), 'Degraded');
  assert.equal(phaseOf({ ...base, bootstrapped: false, available: false }), 'Bootstrapping');
  assert.equal(phaseOf({ ...base, bootstrapped: false, available: false, degraded: true }), 'Degraded');
  assert.equal(phaseOf({ ...base, failed: true }), 'Failed');
});

test('kvorum operator: environment from the chart, flags override it', () => {
  const env = { POD_NAME: 'op-1', POD_NAMESPACE: 'kvorum-system', KVORUM_WATCH_NAMESPACES: 'a, b', KVORUM_METRICS_ADDRESS: ':8080', KVORUM_LEADER_ELECT: 'true', KVORUM_LEASE_NAME: 'l', KVORUM_NODE_IMAGE_REPOSITORY: 'r/kvorum' };
  const fromEnv = parseOperatorArgs([], env);
  assert.notEqual(fromEnv, 'help');
  if (fromEnv === 'help') return;
  assert.deepEqual(fromEnv.options.namespaces, ['a', 'b']);
  assert.equal(fromEnv.options.leaderElect, true);
  assert.equal(fromEnv.options.leaseNamespace, 'kvorum-system');
  assert.equal(fromEnv.options.identity, 'op-1');
  assert.equal(fromEnv.options.reconciler.nodeImageRepository, 'r/kvorum');
  const flags = parseOperatorArgs(['--namespace', 'x', '--leader-elect=false', '--metrics-address=127.0.0.1:9', '--kubeconfig', '/k'], env);
  if (flags === 'help') return assert.fail();
  assert.deepEqual(flags.options.namespaces, ['x']);
  assert.equal(flags.options.leaderElect, false);
  assert.equal(flags.options.metricsAddress, '127.0.0.1:9');
  assert.equal(flags.options.kubeconfig, '/k');
  assert.throws(() => parseOperatorArgs(['--bogus=1'], {}), /unknown flag --bogus/);
  assert.equal(parseOperatorArgs(['--help'], {}), 'help');
});

test('compareVersions orders versions, not text', () => {
  assert.ok(compareVersions('3.9.0', '3.10.0') < 0);
  assert.ok(compareVersions('3.10.0', '3.9.0') > 0);
  assert.equal(compareVersions('v3.5.1', '3.5.1'), 0);
  assert.ok(compareVersions('3.5.0-rc.1', '3.5.0') < 0, 'a pre-release before its release');
  assert.ok(compareVersions('3.5.0-rc.2', '3.5.0-rc.10') < 0);
  assert.ok(compareVersions('3.5.0-alpha', '3.5.0-beta') < 0);
  assert.ok(compareVersions('3.5', '3.5.1') < 0);
  assert.ok(compareVersions('3.5.1', 'latest') < 0, 'versions before other tags');
  assert.deepEqual(['0.10.0', '0.2.0', '0.9.1'].sort(compareVersions), ['0.2.0', '0.9.1', '0.10.0']);
});

test('currentVersion: the spec version once every pod runs it, else the oldest version seen', () => {
  const p = (v: string) => ({ metadata: { labels: { 'app.kubernetes.io/version': v } } });
  assert.equal(currentVersion([p('3.10.0'), p('3.9.0'), p('3.10.0')], '3.10.0', true), '3.9.0');
  assert.equal(currentVersion([p('3.10.0'), p('3.10.0')], '3.10.0', false), '3.10.0');
  assert.equal(currentVersion([], '3.10.0', false), undefined);
});

const voter = (name: string, role: 'leader' | 'follower', healthy = true) => ({ name, role, healthy });
const facts = (over: Partial<StatusFacts> = {}): StatusFacts => ({
  desiredReplicas: 3,
  statefulSetReplicas: 3,
  bootstrapped: true,
  justBootstrapped: false,
  rollingUpdate: false,
  members: [voter('kv-0', 'leader'), voter('kv-1', 'follower'), voter('kv-2', 'follower')],
  alarms: [],
  quotaBytes: 16 * 1024 * 1024,
  stuckPods: [],
  membership: { done: true, condition: { type: 'Progressing', status: 'False', reason: 'MembersMatchSpec', message: '3 voting members match the spec' } },
  ...over,
});
const byType = (r: ReturnType<typeof statusReport>, type: string) => r.conditions.find((c) => c.type === type)!;

test('statusReport: a healthy cluster that matches its spec is Available and settled', () => {
  const r = statusReport(facts());
  assert.equal(r.phase, 'Available');
  assert.equal(r.settled, true);
  assert.deepEqual(r.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`), ['Available=True/QuorumHealthy', 'MembersHealthy=True/AllMembersHealthy', 'Degraded=False/AsExpected', 'Progressing=False/MembersMatchSpec']);
});

test('statusReport: NOSPACE is NoSpace with size and quota, members healthy, never QuorumLost', () => {
  const r = statusReport(facts({ alarms: ['NOSPACE'], dbSizeBytes: 16.5 * 1024 * 1024 }));
  assert.equal(byType(r, 'Available').reason, 'NoSpace');
  assert.equal(byType(r, 'Available').status, 'False');
  assert.equal(byType(r, 'Degraded').reason, 'NoSpace');
  assert.match(byType(r, 'Degraded').message, /database size 16\.5 MiB reached the quota of 16 MiB.*etcdctl alarm disarm/);
  assert.equal(byType(r, 'MembersHealthy').status, 'True');
  assert.equal(r.health.available, true, 'the quorum is intact');
  assert.equal(r.phase, 'Degraded');
  assert.equal(r.settled, false);
  assert.ok(r.noSpace);
});

test('statusReport: a lost quorum is QuorumLost; with a full quota as well, both are named', () => {
  const members = [voter('kv-0', 'leader'), voter('kv-1', 'follower', false), voter('kv-2', 'follower', false)];
  const lost = statusReport(facts({ members }));
  assert.equal(byType(lost, 'Available').reason, 'NoQuorum');
  assert.equal(byType(lost, 'Degraded').reason, 'QuorumLost');
  assert.equal(byType(lost, 'MembersHealthy').reason, 'MembersUnhealthy');
  const both = statusReport(facts({ members, alarms: ['NOSPACE'] }));
  assert.equal(byType(both, 'Available').reason, 'NoQuorum', 'no quorum outranks a full quota');
  assert.match(byType(both, 'Degraded').message, /NOSPACE.*quorum lost/);
});

test('statusReport: other alarms are Degraded AlarmRaised; stuck pods come first', () => {
  assert.equal(byType(statusReport(facts({ alarms: ['CORRUPT'] })), 'Degraded').reason, 'AlarmRaised');
  const r = statusReport(facts({ alarms: ['NOSPACE'], stuckPods: ['pod kv-2: CrashLoopBackOff'] }));
  assert.equal(byType(r, 'Degraded').reason, 'PodsNotStarting');
  assert.match(byType(r, 'Degraded').message, /CrashLoopBackOff.*NOSPACE/);
});

test('statusReport: Progressing while bootstrapping, scaling and rolling', () => {
  assert.equal(byType(statusReport(facts({ bootstrapped: false, membership: undefined })), 'Progressing').reason, 'Bootstrapping');
  const scaling = statusReport(facts({ desiredReplicas: 5, membership: { done: false, message: 'adding kv-3' } }));
  assert.equal(byType(scaling, 'Progressing').reason, 'Scaling');
  assert.equal(byType(scaling, 'Progressing').message, 'adding kv-3');
  assert.equal(scaling.phase, 'Scaling');
  assert.equal(byType(statusReport(facts({ rollingUpdate: true, membership: { done: true } })), 'Progressing').reason, 'RollingUpdate');
});

test('formatBytes', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(16 * 1024 * 1024), '16 MiB');
  assert.equal(formatBytes(2 * 1024 ** 3), '2 GiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthOf, mergeConditions, phaseOf, podProblems, PENDING_TOO_LONG_MS } from '../../../operator/cluster/status.js';
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

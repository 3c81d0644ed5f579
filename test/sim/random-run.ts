// One randomized simulation run, fully determined by its seed: the cluster
// size, network quality, fault schedule, membership changes, leadership
// transfers and client workload are all drawn from the seed. After the chaos
// phase every fault is healed and the cluster must converge (liveness); then
// the client history is checked for linearizability.
import type { Raft, RaftConfig } from '../../node/raft/raft.js';
import { ConfChangeType, type NodeId } from '../../node/raft/types.js';
import { Simulation } from './cluster.js';
import type { KvInput } from './kv-machine.js';
import { checkLinearizable, type CheckResult } from './linearizability.js';
import { kvModel } from './models.js';

export interface RunOptions {
  /** Virtual time of the chaos phase. */
  chaosTime?: number;
  createRaft?: (config: RaftConfig) => Raft;
  /** Keep the whole trace (for reproducing a failure), not just its tail. */
  fullTrace?: boolean;
  /** Skip the linearizability check (for tests of the invariant checks alone). */
  skipLinearizability?: boolean;
}

export interface RunResult {
  seed: number;
  violations: string[];
  linearizability: CheckResult | undefined;
  operations: number;
  unknownOutcomes: number;
  stats: Simulation['stats'];
  config: string;
  trace: string;
  ok: boolean;
}

const KEYS = ['a', 'b', 'c', 'd'];

export function randomRun(seed: number, options: RunOptions = {}): RunResult {
  const pick = new Simulation({ seed, voters: 1 }).rng; // a config stream independent of the run's
  const voters = pick.chance(0.6) ? 3 : 5;
  const lossRate = pick.pick([0, 0, 0.01, 0.05, 0.1]);
  const dupRate = pick.pick([0, 0, 0.02, 0.05]);
  const maxDelay = pick.pick([3, 5, 10, 20]);
  const snapshotEvery = pick.pick([0, 10, 25, 60]);
  const maxInflightMsgs = pick.pick([1, 2, 8, 32]);
  const maxSizePerMsg = pick.pick([1, 256, 4096]);
  // Mostly the production settings; sometimes the classic protocol without
  // PreVote or CheckQuorum, which the core must keep safe as well.
  const preVote = pick.chance(0.85);
  const checkQuorum = pick.chance(0.85);
  const sim = new Simulation({
    seed,
    voters,
    preVote,
    checkQuorum,
    lossRate,
    dupRate,
    maxDelay,
    snapshotEvery,
    maxInflightMsgs,
    maxSizePerMsg,
    createRaft: options.createRaft,
    traceLimit: options.fullTrace ? 0 : 300,
  });
  const config = `voters=${voters} preVote=${preVote} checkQuorum=${checkQuorum} loss=${lossRate} dup=${dupRate} delay<=${maxDelay} snapshotEvery=${snapshotEvery} inflight=${maxInflightMsgs} msgBytes=${maxSizePerMsg}`;
  sim.log(`config ${config}`);
  const rng = sim.rng;
  const chaosEnd = options.chaosTime ?? 3000;
  let clientsActive = true;

  // ---- clients ----
  const clientCount = rng.int(2, 4);
  let inFlight = 0;
  const issue = (clientId: number): void => {
    if (!clientsActive) return;
    const live = sim.liveMembers();
    if (live.length === 0) {
      sim.schedule(20, () => issue(clientId));
      return;
    }
    const leader = sim.leader();
    const via = leader && rng.chance(0.6) ? leader.id : rng.pick(live).id;
    const key = rng.pick(KEYS);
    const r = rng.next();
    const value = `${clientId}.${sim.now}.${rng.int(0, 999)}`;
    const input: KvInput =
      r < 0.4 ? { op: 'get', key } : r < 0.7 ? { op: 'put', key, value } : r < 0.9 ? { op: 'append', key, value: `[${value}]` } : { op: 'cas', key, expect: '', value };
    inFlight++;
    sim.clientRequest(clientId, via, input, rng.int(200, 600), () => {
      inFlight--;
      sim.schedule(rng.int(0, 30), () => issue(clientId));
    });
  };
  for (let c = 1; c <= clientCount; c++) sim.schedule(rng.int(0, 50), () => issue(c));

  // ---- faults and membership changes ----
  let pendingChange: { key: string; deadline: number; newMember?: NodeId } | undefined;
  const members = (): NodeId[] => [...sim.members.values()].filter((m) => !m.decommissioned).map((m) => m.id);
  const faultStep = (): void => {
    if (sim.now >= chaosEnd) return;
    settleMembershipChange();
    const action = rng.pick([
      'partition', 'partition', 'isolate-leader', 'asymmetric', 'bridge', 'heal', 'heal',
      'crash', 'crash', 'restart', 'restart', 'transfer', 'membership', 'membership', 'network',
    ] as const);
    const ids = members();
    switch (action) {
      case 'partition': {
        sim.heal();
        const shuffled = rng.shuffle(ids);
        const cut = rng.int(1, shuffled.length - 1);
        sim.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        sim.log(`fault partition ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
        break;
      }
      case 'isolate-leader': {
        const leader = sim.leader();
        if (leader) {
          sim.heal();
          sim.isolate(leader.id);
          sim.log(`fault isolate leader n${leader.id}`);
        }
        break;
      }
      case 'asymmetric': {
        for (let i = 0; i < rng.int(1, 3); i++) {
          const [a, b] = rng.shuffle(ids);
          if (a !== undefined && b !== undefined) {
            sim.setLink(a, b, false);
            sim.log(`fault cut n${a} -> n${b}`);
          }
        }
        break;
      }
      case 'bridge': {
        if (ids.length < 3) break;
        sim.heal();
        const [bridge, ...rest] = rng.shuffle(ids);
        const cut = rng.int(1, rest.length - 1);
        sim.partition(rest.slice(0, cut), rest.slice(cut));
        sim.log(`fault bridge n${bridge} between ${rest.slice(0, cut).join(',')} | ${rest.slice(cut).join(',')}`);
        break;
      }
      case 'heal':
        sim.heal();
        sim.log('fault heal');
        break;
      case 'crash': {
        const live = sim.liveMembers().filter((m) => !m.decommissioned);
        if (live.length > 0) sim.crash(rng.pick(live).id);
        break;
      }
      case 'restart': {
        const down = [...sim.members.values()].filter((m) => !m.alive && !m.decommissioned);
        if (down.length > 0) sim.restart(rng.pick(down).id);
        break;
      }
      case 'transfer': {
        const leader = sim.leader();
        const { voters: v } = sim.membership();
        const targets = v.filter((id) => id !== leader?.id);
        if (leader && targets.length > 0) sim.transferLeadership(leader.id, rng.pick(targets));
        break;
      }
      case 'membership':
        changeMembership();
        break;
      case 'network':
        sim.opts.lossRate = rng.pick([0, 0.01, 0.05, 0.1, 0.2]);
        sim.opts.dupRate = rng.pick([0, 0.02, 0.1]);
        sim.log(`fault network loss=${sim.opts.lossRate} dup=${sim.opts.dupRate}`);
        break;
    }
    sim.schedule(rng.int(100, 500), faultStep);
  };

  const changeMembership = (): void => {
    const leader = sim.leader();
    if (!leader || pendingChange) return;
    const { voters: v, learners } = sim.membership();
    const learner = learners[0];
    if (learner !== undefined) {
      // Promote a learner once it has caught up with the leader.
      const status = leader.raw!.status();
      const pr = status.progress.get(learner);
      if (pr && pr.match + 5 >= status.commit) {
        pendingChange = { key: `${ConfChangeType.AddNode}:${learner}`, deadline: sim.now + 800 };
        sim.proposeConfChange(leader.id, { type: ConfChangeType.AddNode, nodeId: learner, context: new Uint8Array() });
      }
      return;
    }
    if (v.length > 3 && rng.chance(0.5)) {
      const target = rng.pick(v);
      pendingChange = { key: `${ConfChangeType.RemoveNode}:${target}`, deadline: sim.now + 800 };
      sim.proposeConfChange(leader.id, { type: ConfChangeType.RemoveNode, nodeId: target, context: new Uint8Array() });
    } else if (v.length + learners.length < 7) {
      const fresh = sim.addMember();
      pendingChange = { key: `${ConfChangeType.AddLearner}:${fresh.id}`, deadline: sim.now + 800, newMember: fresh.id };
      sim.proposeConfChange(leader.id, { type: ConfChangeType.AddLearner, nodeId: fresh.id, context: new Uint8Array() });
    }
  };

  const settleMembershipChange = (): void => {
    if (!pendingChange) return;
    if (sim.appliedConfChanges.has(pendingChange.key)) {
      const [type, id] = pendingChange.key.split(':').map(Number);
      // A removed member is shut down for good, as an operator would.
      if (type === ConfChangeType.RemoveNode) sim.decommission(id!);
      pendingChange = undefined;
    } else if (sim.now > pendingChange.deadline) {
      // Dropped or still uncommitted. A fresh member is discarded; should its
      // addition commit later, it stays a dead learner, which costs no quorum.
      if (pendingChange.newMember !== undefined) sim.decommission(pendingChange.newMember);
      pendingChange = undefined;
    }
  };
  sim.schedule(rng.int(100, 300), faultStep);

  sim.runUntil(chaosEnd);

  // ---- heal and converge ----
  sim.heal();
  sim.opts.lossRate = 0;
  sim.opts.dupRate = 0;
  for (const m of sim.members.values()) if (!m.alive && !m.decommissioned) sim.restart(m.id);
  sim.log('heal everything');
  const converged = (): boolean => {
    settleMembershipChange();
    const leader = sim.leader();
    if (!leader) return false;
    const raw = leader.raw!;
    const status = raw.status();
    if (raw.termAt(status.commit) !== status.term) return false;
    const { voters: v, learners } = status.conf;
    return [...v, ...learners].every((id) => {
      const m = sim.members.get(id);
      if (!m || m.decommissioned) return true;
      return m.alive && m.sm.applied >= status.commit;
    });
  };
  if (!sim.runUntilTrue(converged, 6000)) {
    sim.violate('liveness: the cluster did not converge within 6000 time units after every fault healed');
  }
  // A write issued now must commit.
  clientsActive = false;
  sim.runUntilTrue(() => inFlight === 0, 1500);
  const leader = sim.leader();
  if (leader) {
    let written = false;
    sim.clientRequest(99, leader.id, { op: 'put', key: 'final', value: 'done' }, 3000, () => {
      written = sim.history.some((h) => h.clientId === 99 && h.output !== undefined);
    });
    if (!sim.runUntilTrue(() => written, 3000) || !sim.runUntilTrue(converged, 3000)) {
      sim.violate('liveness: a write after healing did not commit');
    }
  }
  // Every member still in the configuration holds the same state.
  const conf = sim.membership();
  const fingerprints = new Map<string, NodeId[]>();
  for (const id of [...conf.voters, ...conf.learners]) {
    const m = sim.members.get(id);
    if (!m?.alive) continue;
    const f = m.sm.fingerprint();
    fingerprints.set(f, [...(fingerprints.get(f) ?? []), id]);
  }
  if (fingerprints.size > 1) sim.violate(`convergence: members hold different states: ${[...fingerprints.values()].map((ids) => ids.join(',')).join(' vs ')}`);

  const history = sim.history.filter((h) => h.clientId !== 99 || h.output !== undefined);
  const linearizability = options.skipLinearizability ? undefined : checkLinearizable(kvModel, history, { maxSteps: 2_000_000 });
  if (linearizability?.result === 'illegal') sim.violate(`linearizability: ${linearizability.explanation}`);
  return {
    seed,
    violations: sim.violations,
    linearizability,
    operations: history.length,
    unknownOutcomes: history.filter((h) => h.output === undefined).length,
    stats: sim.stats,
    config,
    trace: sim.traceText(),
    ok: sim.violations.length === 0 && linearizability?.result !== 'unknown',
  };
}

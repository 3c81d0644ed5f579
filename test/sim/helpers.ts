// Small synchronous helpers for scripted simulation scenarios.
import { Role } from '../../node/raft/raft.js';
import type { NodeId } from '../../node/raft/types.js';
import type { Simulation, SimMember } from './cluster.js';
import type { KvInput, KvOutput } from './kv-machine.js';

/** Runs until a leader has committed an entry of its own term; returns it. */
export function waitForLeader(sim: Simulation, timeout = 3000, among?: NodeId[]): SimMember | undefined {
  let found: SimMember | undefined;
  sim.runUntilTrue(() => {
    for (const m of sim.members.values()) {
      const r = m.raw;
      if (!r || r.role !== Role.Leader) continue;
      if (among && !among.includes(m.id)) continue;
      if (r.termAt(r.status().commit) === r.term) {
        found = m;
        return true;
      }
    }
    return false;
  }, timeout);
  return found;
}

/** Performs one client operation and runs the simulation until it finishes. */
export function op(sim: Simulation, via: NodeId, input: KvInput, timeout = 1000, clientId = 1): KvOutput | undefined {
  let finished = false;
  const before = sim.history.length;
  sim.clientRequest(clientId, via, input, timeout, () => {
    finished = true;
  });
  sim.runUntilTrue(() => finished, timeout + 10, 1);
  const rec = sim.history.slice(before).find((h) => h.clientId === clientId && h.input === input);
  return rec?.output;
}

export function put(sim: Simulation, via: NodeId, key: string, value: string, timeout = 1000): boolean {
  return op(sim, via, { op: 'put', key, value }, timeout) !== undefined;
}

export function get(sim: Simulation, via: NodeId, key: string, timeout = 1000): string | undefined {
  const out = op(sim, via, { op: 'get', key }, timeout);
  return out && 'value' in out ? out.value : undefined;
}

/** Runs until every live member has applied up to the highest commit index. */
export function waitForConvergence(sim: Simulation, timeout = 3000): boolean {
  return sim.runUntilTrue(() => {
    const live = sim.liveMembers().filter((m) => !m.decommissioned);
    const target = Math.max(...live.map((m) => m.raw!.status().commit));
    return live.every((m) => m.sm.applied >= target && m.raw!.status().commit >= target);
  }, timeout);
}

export function fingerprints(sim: Simulation, ids?: NodeId[]): Set<string> {
  const out = new Set<string>();
  for (const m of sim.members.values()) {
    if (!m.alive || m.decommissioned || (ids && !ids.includes(m.id))) continue;
    out.add(m.sm.fingerprint());
  }
  return out;
}

export function leaders(sim: Simulation): SimMember[] {
  return [...sim.members.values()].filter((m) => m.raw?.role === Role.Leader);
}

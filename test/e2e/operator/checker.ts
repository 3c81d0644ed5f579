// Checks after a disruption: every acknowledged write is still there, and the
// Raft member list is exactly the StatefulSet's pods.
import type { KubeClient } from '../kube/client.js';
import { memberEndpoints, MemberClients, type ClientTLS, type Member } from './etcd-client.js';
import { eventually } from './util.js';

export interface ClusterRef {
  kube: KubeClient;
  namespace: string;
  cluster: string;
  tls: ClientTLS | undefined;
}

/** Runs `fn` against the members one after another until one answers. */
async function withAnyMember<T>(ref: ClusterRef, clients: MemberClients, fn: (c: ReturnType<MemberClients['get']>) => Promise<T>): Promise<T> {
  const eps = await memberEndpoints(ref.kube, ref.namespace, ref.cluster);
  const errors: string[] = [];
  for (const ep of eps) {
    try {
      return await fn(clients.get(ep));
    } catch (e) {
      errors.push(`${ep.name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no member answered (${eps.length} endpoints): ${errors.join('; ')}`);
}

export interface LostWrites {
  checked: number;
  missing: string[];
  wrongValue: string[];
}

/** Keys acknowledged by the writer that a linearizable read of the prefix does not return (or returns with another value). */
export async function findLostWrites(ref: ClusterRef, prefix: string, acknowledged: Map<string, string>): Promise<LostWrites> {
  const clients = new MemberClients(ref.tls);
  try {
    const stored = await eventually('a linearizable read of the written keys', 60_000, () => withAnyMember(ref, clients, (c) => c.rangePrefix(prefix, false)));
    return compare(stored, acknowledged);
  } finally {
    clients.close();
  }
}

function compare(stored: Map<string, string>, acknowledged: Map<string, string>): LostWrites {
  const missing: string[] = [];
  const wrongValue: string[] = [];
  for (const [k, v] of acknowledged) {
    const got = stored.get(k);
    if (got === undefined) missing.push(k);
    else if (got !== v) wrongValue.push(k);
  }
  return { checked: acknowledged.size, missing, wrongValue };
}

/**
 * Every running member eventually holds every acknowledged key in its own
 * state (serializable read): a member that came back with an empty volume must
 * have been re-synced, not left behind.
 */
export async function everyMemberHasWrites(ref: ClusterRef, prefix: string, acknowledged: Map<string, string>, timeoutMs = 60_000): Promise<void> {
  const clients = new MemberClients(ref.tls);
  const pending = new Map<string, string>();
  try {
    await eventually(
      'every member holding every acknowledged key',
      timeoutMs,
      async () => {
        pending.clear();
        const eps = await memberEndpoints(ref.kube, ref.namespace, ref.cluster);
        for (const ep of eps) {
          try {
            const r = compare(await clients.get(ep).rangePrefix(prefix, true), acknowledged);
            const bad = r.missing.length + r.wrongValue.length;
            if (bad > 0) pending.set(ep.name, `${bad} of ${r.checked} missing or different, e.g. ${[...r.missing, ...r.wrongValue].slice(0, 3).join(', ')}`);
          } catch (e) {
            pending.set(ep.name, (e as Error).message);
          }
        }
        return eps.length > 0 && pending.size === 0;
      },
      () => [...pending].map(([k, v]) => `${k}: ${v}`).join('\n'),
      2000,
    );
  } finally {
    clients.close();
  }
}

export interface MembershipView {
  members: Member[];
  statefulSetReplicas: number;
  readyReplicas: number;
  expectedNames: string[];
}

/** The Raft member list (linearizable) next to the StatefulSet. */
export async function membershipView(ref: ClusterRef): Promise<MembershipView> {
  const clients = new MemberClients(ref.tls);
  try {
    const members = await withAnyMember(ref, clients, (c) => c.memberList());
    const sts = await ref.kube.get(`/apis/apps/v1/namespaces/${ref.namespace}/statefulsets/${ref.cluster}`);
    const n = Number(sts.spec.replicas);
    return {
      members,
      statefulSetReplicas: n,
      readyReplicas: Number(sts.status?.readyReplicas ?? 0),
      expectedNames: Array.from({ length: n }, (_, i) => `${ref.cluster}-${i}`),
    };
  } finally {
    clients.close();
  }
}

/** Why the view is not "members == StatefulSet pods, all voters, all started", or undefined when it is. */
export function membershipMismatch(v: MembershipView, desiredReplicas: number): string | undefined {
  const names = v.members.map((m) => m.name).sort();
  const problems: string[] = [];
  if (v.statefulSetReplicas !== desiredReplicas) problems.push(`StatefulSet replicas ${v.statefulSetReplicas}, want ${desiredReplicas}`);
  if (v.readyReplicas !== v.statefulSetReplicas) problems.push(`${v.readyReplicas}/${v.statefulSetReplicas} pods ready`);
  if (v.members.length !== v.statefulSetReplicas) problems.push(`${v.members.length} members for ${v.statefulSetReplicas} pods`);
  if (JSON.stringify(names) !== JSON.stringify([...v.expectedNames].sort())) problems.push(`member names [${names.join(', ')}], pods [${v.expectedNames.join(', ')}]`);
  const learners = v.members.filter((m) => m.isLearner).map((m) => m.name || m.id);
  if (learners.length > 0) problems.push(`learners left: ${learners.join(', ')}`);
  const unstarted = v.members.filter((m) => !m.name || m.clientURLs.length === 0).map((m) => m.id);
  if (unstarted.length > 0) problems.push(`members never started: ${unstarted.join(', ')}`);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

export const describeMembers = (v: MembershipView): string =>
  v.members.map((m) => `${m.name || '(unstarted)'}/${m.id}${m.isLearner ? '/learner' : ''}`).join(', ');

/** The Raft leader's member name, asked of the members themselves (Status + MemberList). */
export async function currentLeader(ref: ClusterRef): Promise<string> {
  const clients = new MemberClients(ref.tls);
  try {
    return await eventually('a leader', 30_000, () =>
      withAnyMember(ref, clients, async (c) => {
        const [st, members] = await Promise.all([c.status(), c.memberList()]);
        const leader = members.find((m) => m.id === st.leader);
        if (!leader?.name) throw new Error(`leader ${st.leader} not in the member list`);
        return leader.name;
      }),
    );
  } finally {
    clients.close();
  }
}

/** Moves Raft leadership to member `name` (through the current leader), and waits until the members agree. */
export async function moveLeaderTo(ref: ClusterRef, name: string): Promise<void> {
  const clients = new MemberClients(ref.tls);
  try {
    await eventually(`leadership on ${name}`, 60_000, async () => {
      const eps = await memberEndpoints(ref.kube, ref.namespace, ref.cluster);
      const any = clients.get(eps[0]);
      const [st, members] = await Promise.all([any.status(), any.memberList()]);
      const target = members.find((m) => m.name === name);
      if (!target) throw new Error(`${name} is not a member`);
      if (st.leader === target.id) return true;
      const leader = members.find((m) => m.id === st.leader);
      const leaderEp = eps.find((e) => e.name === leader?.name);
      if (!leaderEp) throw new Error(`leader ${st.leader} has no endpoint`);
      await clients.get(leaderEp).moveLeader(target.id);
      return false;
    });
  } finally {
    clients.close();
  }
}

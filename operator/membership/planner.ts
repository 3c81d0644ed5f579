// The membership planner: from one observation of a cluster (its member list
// and each member's status, the StatefulSet, pods and PVCs) it picks the ONE
// next step towards the desired size, or says why it must wait or refuse.
//
// It is pure and keeps no memory between calls: everything is derived from
// what is observed, so an operator that crashed at any point resumes with the
// right step (a learner added but the StatefulSet not raised yet is raised; a
// member removed but the StatefulSet not lowered yet is lowered; ...). The
// priorities below make one membership change at a time and never a change
// that the remaining healthy voters could not carry.
//
// Member IDs are decimal strings (uint64), never JS numbers. What counts as
// healthy and who is the leader is defined once, in quorum.ts.
import { isHealthy, leaderAmong, quorumOf, type MemberReport } from './quorum.js';

/** Annotation the operator puts on a member's PVC once the member has started from it. */
export const MEMBER_ID_ANNOTATION = 'kvorum.io/member-id';

/** A learner is promoted once its applied index is at most this far behind the leader's. */
export const DEFAULT_PROMOTE_MAX_LAG = 100;

export interface PodObservation {
  phase: string;
  ready: boolean;
  deleting: boolean;
  /** The member's container last exited refusing to join because its member had started with other data (contract/join.ts). */
  joinRefused: boolean;
  /** The member's container last exited refusing its own data as corrupt (contract/data-corruption.ts): its words. */
  dataRefused?: string;
}

export interface PVCObservation {
  uid: string;
  /** Value of MEMBER_ID_ANNOTATION, if set. */
  memberId?: string;
  deleting: boolean;
}

export interface OrdinalObservation {
  ordinal: number;
  podName: string;
  pvcName: string;
  /** The peer URL a member for this ordinal has (or gets). */
  peerURL: string;
  pod?: PodObservation;
  pvc?: PVCObservation;
}

export interface MemberObservation {
  id: string;
  /**
   * Empty: added by MemberAdd and never started. (Founding members carry
   * their name from --initial-cluster before they start; a joining node
   * refuses to take over an entry with a name, see contract/join.ts.)
   */
  name: string;
  peerURLs: string[];
  isLearner: boolean;
  /** Has run and published itself (client URLs known). Defaults to `name !== ''`. */
  started?: boolean;
}

export interface MemberStatusObservation extends MemberReport {
  appliedIndex?: number;
}

export interface MembershipObservation {
  desiredReplicas: number;
  /** Undefined when the StatefulSet does not exist (yet). */
  statefulSet?: { replicas: number; readyReplicas: number; updatedReplicas: number };
  /** Every ordinal that may matter (at least 0 .. max(desired, statefulSet replicas)). */
  ordinals: OrdinalObservation[];
  /** Undefined when the member list could not be read. */
  members?: MemberObservation[];
  /** By member ID. A member without an entry counts as unreachable. */
  memberStatus: Record<string, MemberStatusObservation>;
  /** The ConfigMap's `initial-cluster` value; undefined when the ConfigMap is missing (not ours to create). */
  initialCluster?: string;
  retentionWhenScaled: 'Retain' | 'Delete';
  promoteMaxLag?: number;
}

export type RemoveReason = 'ScaleDown' | 'ReplaceMember' | 'CorruptData' | 'StrayMember';

export type MembershipAction =
  /** Membership matches the spec. */
  | { kind: 'none'; reason: 'MembersMatchSpec'; message: string }
  /** Something is under way or unknown; look again later. */
  | { kind: 'wait'; reason: string; message: string }
  /** The next step would lose quorum (or quorum is already lost): do nothing, tell the user. */
  | { kind: 'refuse'; reason: 'QuorumLost' | 'QuorumAtRisk'; message: string }
  | { kind: 'addLearner'; ordinal: number; peerURL: string; reason: 'ScaleUp' | 'ReplaceMember'; message: string }
  | { kind: 'promote'; ordinal: number; memberId: string; message: string }
  | { kind: 'removeMember'; memberId: string; ordinal?: number; reason: RemoveReason; message: string }
  | { kind: 'moveLeader'; fromMemberId: string; fromOrdinal: number; toMemberId: string; toOrdinal: number; message: string }
  | { kind: 'setInitialCluster'; members: { name: string; peerURL: string }[]; message: string }
  | { kind: 'setReplicas'; replicas: number; message: string }
  | { kind: 'deletePVC'; ordinal: number; pvcName: string; reason: 'RetentionPolicy' | 'StaleData'; message: string }
  | { kind: 'deletePod'; ordinal: number; podName: string; reason: 'StaleData' | 'RestartJoin'; message: string }
  | { kind: 'annotatePVC'; ordinal: number; pvcName: string; memberId: string; message: string };

export function normaliseURL(url: string): string {
  return url.replace(/\/+$/, '').toLowerCase();
}

/** `a=u1,b=u2` -> entries `name=url` (sorted), ignoring blanks. */
export function parseInitialCluster(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const eq = s.indexOf('=');
      return eq < 0 ? s : `${s.slice(0, eq)}=${normaliseURL(s.slice(eq + 1))}`;
    })
    .sort();
}

export function formatInitialCluster(members: { name: string; peerURL: string }[]): string {
  return members.map((m) => `${m.name}=${m.peerURL}`).join(',');
}

interface Placed {
  member: MemberObservation;
  /** Undefined: its peer URL matches no ordinal. */
  ordinal: number | undefined;
}

/** Plans the next membership step. */
export function planMembership(obs: MembershipObservation): MembershipAction {
  if (!obs.members) return { kind: 'wait', reason: 'ClusterUnreachable', message: 'the member list could not be read from any endpoint' };
  if (!obs.statefulSet) return { kind: 'wait', reason: 'StatefulSetMissing', message: 'the StatefulSet does not exist yet' };
  const v = new View(obs);
  return (
    v.quorumGate() ??
    v.stalePVCOfNewMember() ??
    v.replaceLostMember() ??
    v.removeStray() ??
    v.lowerReplicas() ??
    v.applyRetention() ??
    v.scaleDownStep() ??
    v.reAddMissing() ??
    v.restartRefusedPod() ??
    v.syncInitialCluster() ??
    v.promoteLearner() ??
    v.scaleUpStep() ??
    v.annotatePVCs() ??
    v.settled()
  );
}

/** Derived facts about one observation; each method returns an action when its rule applies. */
class View {
  readonly sts: number;
  readonly desired: number;
  readonly members: MemberObservation[];
  readonly placed: Placed[];
  readonly byOrdinal = new Map<number, MemberObservation>();
  readonly ordinals = new Map<number, OrdinalObservation>();
  readonly voters: MemberObservation[];
  readonly healthyVoters: MemberObservation[];
  readonly leader: MemberObservation | undefined;
  /** Members of ordinals below this belong to pods that exist or are about to be created. */
  readonly expectedLimit: number;

  constructor(readonly obs: MembershipObservation) {
    this.sts = obs.statefulSet!.replicas;
    this.desired = obs.desiredReplicas;
    this.members = obs.members!;
    for (const o of obs.ordinals) this.ordinals.set(o.ordinal, o);
    const byURL = new Map<string, number>();
    for (const o of obs.ordinals) byURL.set(normaliseURL(o.peerURL), o.ordinal);
    this.placed = this.members.map((member) => {
      const hits = member.peerURLs.map((u) => byURL.get(normaliseURL(u))).filter((x): x is number => x !== undefined);
      return { member, ordinal: hits[0] };
    });
    for (const p of this.placed) if (p.ordinal !== undefined && !this.byOrdinal.has(p.ordinal)) this.byOrdinal.set(p.ordinal, p.member);
    this.voters = this.members.filter((m) => !m.isLearner);
    this.healthyVoters = this.voters.filter((m) => this.healthy(m));
    this.leader = leaderAmong(this.voters, (m) => this.obs.memberStatus[m.id]);
    this.expectedLimit = Math.max(this.sts, Math.min(this.desired, this.sts + 1));
  }

  started(m: MemberObservation): boolean {
    return m.started ?? m.name !== '';
  }

  reachable(m: MemberObservation): boolean {
    return this.obs.memberStatus[m.id]?.reachable === true;
  }

  healthy(m: MemberObservation): boolean {
    return isHealthy(this.obs.memberStatus[m.id]);
  }

  ordinalOf(m: MemberObservation): number | undefined {
    return this.placed.find((p) => p.member === m)?.ordinal;
  }

  private name(m: MemberObservation): string {
    const o = this.ordinalOf(m);
    return `member ${m.id}${o === undefined ? '' : ` (${this.ordinals.get(o)?.podName ?? `ordinal ${o}`})`}`;
  }

  quorumGate(): MembershipAction | undefined {
    if (this.voters.length === 0) return { kind: 'wait', reason: 'NoVoters', message: 'the member list has no voting member' };
    const q = quorumOf(this.voters.length);
    // Without a leader nobody is healthy: a quorum that answers is electing one.
    const counted = this.leader ? this.healthyVoters : this.voters.filter((m) => this.reachable(m));
    if (counted.length < q) {
      const starting = this.voters.filter((m) => !this.reachable(m) && !this.started(m));
      if (counted.length + starting.length >= q) {
        return { kind: 'wait', reason: 'MembersStarting', message: `waiting for ${starting.length} member(s) that never started yet` };
      }
      return {
        kind: 'refuse',
        reason: 'QuorumLost',
        message: `only ${counted.length} of ${this.voters.length} voting members are ${this.leader ? 'healthy' : 'reachable'} (quorum is ${q}); no membership change can be made`,
      };
    }
    if (!this.leader) return { kind: 'wait', reason: 'NoLeader', message: 'the cluster has no leader; membership changes wait for one' };
    return undefined;
  }

  /** May `m` be removed without the remaining healthy voters falling below quorum of the new size? */
  private removalRefusal(m: MemberObservation, what: string): MembershipAction | undefined {
    if (m.isLearner) return undefined;
    const after = this.voters.length - 1;
    const healthyAfter = this.healthyVoters.filter((x) => x.id !== m.id).length;
    if (after === 0 || healthyAfter < quorumOf(after)) {
      return {
        kind: 'refuse',
        reason: 'QuorumAtRisk',
        message: `refusing to ${what}: ${healthyAfter} healthy of ${after} remaining voters would be below quorum ${quorumOf(Math.max(after, 1))}`,
      };
    }
    return undefined;
  }

  /** May a member be added (and later promoted), counting it healthy once it runs? */
  private addRefusal(what: string): MembershipAction | undefined {
    const after = this.voters.length + 1;
    if (this.healthyVoters.length + 1 < quorumOf(after)) {
      return {
        kind: 'refuse',
        reason: 'QuorumAtRisk',
        message: `refusing to ${what}: only ${this.healthyVoters.length} of ${this.voters.length} voters are healthy; ${after} voters need ${quorumOf(after)}`,
      };
    }
    return undefined;
  }

  private pendingLearner(): MemberObservation | undefined {
    return this.members.find((m) => m.isLearner);
  }

  /** A member that never started, whose PVC still holds another member's data: the PVC must go before the pod starts from it. */
  stalePVCOfNewMember(): MembershipAction | undefined {
    for (const [o, m] of this.byOrdinal) {
      const ord = this.ordinals.get(o);
      const pvc = ord?.pvc;
      if (!ord || !pvc || this.started(m)) continue;
      if (pvc.memberId !== undefined && pvc.memberId !== m.id && !pvc.deleting) {
        return {
          kind: 'deletePVC',
          ordinal: o,
          pvcName: ord.pvcName,
          reason: 'StaleData',
          message: `${ord.pvcName} holds the data of member ${pvc.memberId}, not of new member ${m.id}; deleting it so ${ord.podName} starts empty`,
        };
      }
    }
    // A PVC being deleted stays while its pod uses it: delete the pod so the StatefulSet recreates both.
    for (const ord of this.ordinals.values()) {
      if (ord.pvc?.deleting && ord.pod && !ord.pod.deleting && ord.ordinal < this.sts) {
        return { kind: 'deletePod', ordinal: ord.ordinal, podName: ord.podName, reason: 'StaleData', message: `${ord.pvcName} is being deleted; deleting ${ord.podName} to release it` };
      }
    }
    return undefined;
  }

  /** A started member whose data is gone: remove it (it is re-added as a learner by reAddMissing). */
  replaceLostMember(): MembershipAction | undefined {
    for (const [o, m] of this.byOrdinal) {
      // A join refusal is only ever about an entry with a name (the node's own rule); a member that answers is not lost.
      if (m.name === '' || this.reachable(m)) continue;
      const ord = this.ordinals.get(o)!;
      const refused = ord.pod?.joinRefused === true;
      const otherData = this.started(m) && ord.pvc?.memberId !== undefined && ord.pvc.memberId !== m.id;
      // Data the member refuses as corrupt is as good as lost: once the
      // member is re-added under a new ID, its PVC (annotated with the old
      // one) is stale and deleted, so the pod starts from an empty volume.
      const corrupt = ord.pod?.dataRefused;
      if (corrupt !== undefined) {
        return (
          this.removalRefusal(m, `replace ${this.name(m)} whose data is corrupt`) ?? {
            kind: 'removeMember',
            memberId: m.id,
            ordinal: o,
            reason: 'CorruptData',
            message: `${this.name(m)} refuses its data as corrupt (${corrupt}); removing it to wipe its volume and add it again as a learner`,
          }
        );
      }
      if (!refused && !otherData) continue;
      const why = refused ? `${ord.podName} started with an empty data dir and refuses to take over the member's identity` : `${ord.pvcName} belongs to member ${ord.pvc!.memberId}`;
      return (
        this.removalRefusal(m, `replace ${this.name(m)} whose data was lost`) ?? {
          kind: 'removeMember',
          memberId: m.id,
          ordinal: o,
          reason: 'ReplaceMember',
          message: `${this.name(m)} lost its data (${why}); removing it to add it again as a learner`,
        }
      );
    }
    return undefined;
  }

  /** Members whose peer URL matches no pod that exists or is being added (e.g. a learner left by a crash, then a scale-up cancelled). */
  removeStray(): MembershipAction | undefined {
    const strays = this.placed
      .filter((p) => p.ordinal === undefined || p.ordinal >= this.expectedLimit || this.byOrdinal.get(p.ordinal) !== p.member)
      // learners first (free to remove), then from the highest ordinal down
      .sort((a, b) => Number(b.member.isLearner) - Number(a.member.isLearner) || (b.ordinal ?? Infinity) - (a.ordinal ?? Infinity));
    for (const { member: m, ordinal } of strays) {
      if (this.leader?.id === m.id) return this.moveLeadershipOff(m, `remove stray ${this.name(m)}`);
      return (
        this.removalRefusal(m, `remove stray ${this.name(m)}`) ?? {
          kind: 'removeMember',
          memberId: m.id,
          ...(ordinal !== undefined && { ordinal }),
          reason: 'StrayMember',
          message: `${this.name(m)} (peer URLs ${m.peerURLs.join(',')}) matches no pod of the cluster; removing it`,
        }
      );
    }
    return undefined;
  }

  private highestMemberOrdinal(): number {
    let h = -1;
    for (const o of this.byOrdinal.keys()) if (o < this.expectedLimit && o > h) h = o;
    return h;
  }

  /** After a member was removed on scale-down, its pod goes: replicas down to the highest remaining member. */
  lowerReplicas(): MembershipAction | undefined {
    const target = Math.max(this.desired, this.highestMemberOrdinal() + 1);
    if (this.sts > target) {
      return { kind: 'setReplicas', replicas: target, message: `scaling the StatefulSet down from ${this.sts} to ${target}: members above ordinal ${target - 1} are removed` };
    }
    return undefined;
  }

  applyRetention(): MembershipAction | undefined {
    if (this.obs.retentionWhenScaled !== 'Delete') return undefined;
    for (const ord of [...this.ordinals.values()].sort((a, b) => b.ordinal - a.ordinal)) {
      if (ord.ordinal < this.sts || ord.ordinal < this.desired) continue;
      if (!ord.pvc || ord.pvc.deleting || ord.pod || this.byOrdinal.has(ord.ordinal)) continue;
      return { kind: 'deletePVC', ordinal: ord.ordinal, pvcName: ord.pvcName, reason: 'RetentionPolicy', message: `deleting ${ord.pvcName} of scaled-down ${ord.podName} (retentionPolicy.whenScaled: Delete)` };
    }
    return undefined;
  }

  private moveLeadershipOff(m: MemberObservation, purpose: string): MembershipAction {
    const from = this.ordinalOf(m);
    const candidates = this.healthyVoters
      .filter((x) => x.id !== m.id)
      .map((x) => ({ x, o: this.ordinalOf(x) }))
      .filter((c): c is { x: MemberObservation; o: number } => c.o !== undefined && c.o < this.desired && this.byOrdinal.get(c.o) === c.x)
      .sort((a, b) => (this.obs.memberStatus[b.x.id]?.appliedIndex ?? 0) - (this.obs.memberStatus[a.x.id]?.appliedIndex ?? 0) || a.o - b.o);
    const to = candidates[0];
    if (!to || from === undefined) {
      return { kind: 'refuse', reason: 'QuorumAtRisk', message: `refusing to ${purpose}: it is the leader and no healthy voter can take over` };
    }
    return {
      kind: 'moveLeader',
      fromMemberId: m.id,
      fromOrdinal: from,
      toMemberId: to.x.id,
      toOrdinal: to.o,
      message: `moving leadership from ${this.name(m)} to ${this.name(to.x)} before it is removed`,
    };
  }

  /** Scale-down: the highest ordinal at or above the desired size goes first. */
  scaleDownStep(): MembershipAction | undefined {
    const h = this.highestMemberOrdinal();
    if (h < this.desired) return undefined;
    const m = this.byOrdinal.get(h)!;
    const purpose = `remove ${this.name(m)} to scale down to ${this.desired}`;
    if (this.leader?.id === m.id) return this.moveLeadershipOff(m, purpose);
    return (
      this.removalRefusal(m, purpose) ?? {
        kind: 'removeMember',
        memberId: m.id,
        ordinal: h,
        reason: 'ScaleDown',
        message: `removing ${this.name(m)} from the cluster to scale down to ${this.desired}`,
      }
    );
  }

  /** An ordinal whose pod exists (or should) but has no member (its member was removed to be replaced). */
  reAddMissing(): MembershipAction | undefined {
    for (let o = 0; o < Math.min(this.desired, this.sts); o++) {
      if (this.byOrdinal.has(o)) continue;
      const ord = this.ordinals.get(o);
      if (!ord) return { kind: 'wait', reason: 'OrdinalUnknown', message: `no observation for ordinal ${o}` };
      const learner = this.pendingLearner();
      if (learner) return { kind: 'wait', reason: 'LearnerPending', message: `${this.name(learner)} must be promoted before ${ord.podName} is added again` };
      return (
        this.addRefusal(`add ${ord.podName} again`) ?? {
          kind: 'addLearner',
          ordinal: o,
          peerURL: ord.peerURL,
          reason: 'ReplaceMember',
          message: `adding ${ord.podName} again as a learner (its previous member was removed)`,
        }
      );
    }
    return undefined;
  }

  /** A pod still backing off after the join refusal, now that its member was added again: restart it now. */
  restartRefusedPod(): MembershipAction | undefined {
    for (const [o, m] of this.byOrdinal) {
      const ord = this.ordinals.get(o)!;
      if (m.name === '' && ord.pod?.joinRefused && !ord.pod.deleting) {
        return { kind: 'deletePod', ordinal: o, podName: ord.podName, reason: 'RestartJoin', message: `restarting ${ord.podName} so it joins as new member ${m.id}` };
      }
    }
    return undefined;
  }

  /** The members (by pod name and expected peer URL) a joining pod reads from the ConfigMap. */
  desiredInitialCluster(): { name: string; peerURL: string }[] {
    return [...this.byOrdinal.entries()]
      .filter(([o]) => o < this.expectedLimit)
      .sort(([a], [b]) => a - b)
      .map(([o]) => ({ name: this.ordinals.get(o)!.podName, peerURL: this.ordinals.get(o)!.peerURL }));
  }

  syncInitialCluster(): MembershipAction | undefined {
    if (this.obs.initialCluster === undefined) return undefined;
    const want = this.desiredInitialCluster();
    const have = parseInitialCluster(this.obs.initialCluster);
    const wanted = parseInitialCluster(formatInitialCluster(want));
    if (have.join(',') === wanted.join(',')) return undefined;
    return { kind: 'setInitialCluster', members: want, message: `initial-cluster set to the ${want.length} current members` };
  }

  promoteLearner(): MembershipAction | undefined {
    for (const [o, m] of [...this.byOrdinal.entries()].sort(([a], [b]) => a - b)) {
      if (!m.isLearner || o >= this.sts) continue;
      const ord = this.ordinals.get(o)!;
      const st = this.obs.memberStatus[m.id];
      if (!this.started(m) || !st?.reachable) return { kind: 'wait', reason: 'LearnerStarting', message: `waiting for learner ${this.name(m)} to start` };
      const leaderApplied = this.obs.memberStatus[this.leader!.id]?.appliedIndex ?? 0;
      const lag = leaderApplied - (st.appliedIndex ?? 0);
      const maxLag = this.obs.promoteMaxLag ?? DEFAULT_PROMOTE_MAX_LAG;
      if (lag > maxLag) return { kind: 'wait', reason: 'LearnerCatchingUp', message: `learner ${this.name(m)} is ${lag} entries behind the leader` };
      return (
        this.addRefusal(`promote ${this.name(m)}`) ?? {
          kind: 'promote',
          ordinal: o,
          memberId: m.id,
          message: `promoting learner ${ord.podName} (member ${m.id}) to voter: ${Math.max(lag, 0)} entries behind the leader`,
        }
      );
    }
    return undefined;
  }

  scaleUpStep(): MembershipAction | undefined {
    if (this.sts >= this.desired) return undefined;
    const n = this.sts;
    const ord = this.ordinals.get(n);
    if (!ord) return { kind: 'wait', reason: 'OrdinalUnknown', message: `no observation for ordinal ${n}` };
    if (this.byOrdinal.has(n)) {
      // The learner was added (possibly before a crash); the ConfigMap is in sync (syncInitialCluster ran first).
      return { kind: 'setReplicas', replicas: n + 1, message: `scaling the StatefulSet up to ${n + 1} to start learner ${ord.podName}` };
    }
    const learner = this.pendingLearner();
    if (learner) return { kind: 'wait', reason: 'LearnerPending', message: `${this.name(learner)} must be promoted before another member is added` };
    if (ord.pvc) {
      // No member has this ordinal, so whatever the PVC holds is not a member's data any more.
      if (ord.pvc.deleting) return { kind: 'wait', reason: 'PVCDeleting', message: `waiting for old ${ord.pvcName} to be deleted` };
      return { kind: 'deletePVC', ordinal: n, pvcName: ord.pvcName, reason: 'StaleData', message: `deleting leftover ${ord.pvcName} before ${ord.podName} is added` };
    }
    const unstarted = this.members.find((m) => !this.started(m));
    if (unstarted) return { kind: 'wait', reason: 'MemberStarting', message: `waiting for ${this.name(unstarted)} to start before adding another member` };
    return (
      this.addRefusal(`add ${ord.podName}`) ?? {
        kind: 'addLearner',
        ordinal: n,
        peerURL: ord.peerURL,
        reason: 'ScaleUp',
        message: `adding ${ord.podName} as a learner to scale up to ${this.desired}`,
      }
    );
  }

  /** Records on a healthy started member's PVC which member it holds. */
  annotatePVCs(): MembershipAction | undefined {
    for (const [o, m] of [...this.byOrdinal.entries()].sort(([a], [b]) => a - b)) {
      const ord = this.ordinals.get(o)!;
      if (!this.started(m) || !ord.pvc || ord.pvc.deleting || ord.pvc.memberId === m.id) continue;
      if (!this.reachable(m) || !ord.pod?.ready) continue;
      return { kind: 'annotatePVC', ordinal: o, pvcName: ord.pvcName, memberId: m.id, message: `recording member ${m.id} on ${ord.pvcName}` };
    }
    return undefined;
  }

  settled(): MembershipAction {
    const unstarted = this.members.find((m) => !this.started(m));
    if (unstarted) return { kind: 'wait', reason: 'MemberStarting', message: `waiting for ${this.name(unstarted)} to start` };
    const down = this.members.find((m) => !this.healthy(m));
    if (down) return { kind: 'wait', reason: 'MemberUnreachable', message: `${this.name(down)} is ${this.reachable(down) ? 'reachable but knows no leader' : 'not reachable'}` };
    if (this.sts !== this.desired || this.members.length !== this.desired) {
      return { kind: 'wait', reason: 'Converging', message: `${this.members.length} members, StatefulSet at ${this.sts}, ${this.desired} desired` };
    }
    if (this.obs.retentionWhenScaled === 'Delete') {
      const left = [...this.ordinals.values()].find((o) => o.ordinal >= this.sts && o.pvc);
      if (left) return { kind: 'wait', reason: 'PVCCleanup', message: `waiting to delete ${left.pvcName} of a scaled-down member` };
    }
    return { kind: 'none', reason: 'MembersMatchSpec', message: `${this.members.length} voting members match the spec` };
  }
}

// The Cluster API's changes to the member table: add (as voter or learner),
// remove, promote a learner, update peer URLs. Each is checked the way etcd
// checks it, then goes through the log as a conf change (or, for URL
// updates, a normal entry) and answers once applied here.
import { majority } from '../raft/quorum.js';
import type { MemberProgress } from '../raft/raw-node.js';
import { ConfChangeType, type NodeId } from '../raft/types.js';
import { errNoLeader, ServerError } from './errors.js';
import { newMemberId } from './ids.js';
import type { Member, Membership } from './membership.js';
import type { Proposer } from './proposals.js';
import type { RaftNode } from './raft-node.js';

/** A change of the voter set, as the reconfiguration check sees it. */
export type VoterChange = { kind: 'add' } | { kind: 'remove'; id: NodeId } | { kind: 'promote'; id: NodeId };

/** What the check needs to know of each member (the leader's view). */
export type MemberActivity = Pick<MemberProgress, 'isLearner' | 'recentActive'>;

/**
 * etcd's strict reconfiguration check: whether the members the leader heard
 * from lately would still make a majority of the voters after the change.
 * The learner being promoted counts as active when the leader hears from
 * it, so a one-voter cluster can promote a learner.
 */
export function reconfigurationAllowed(members: ReadonlyMap<NodeId, MemberActivity>, change: VoterChange): boolean {
  let active = 0;
  let voters = 0;
  for (const [id, m] of members) {
    if (change.kind === 'remove' && id === change.id) continue;
    if (m.isLearner) {
      if (change.kind === 'promote' && id === change.id && m.recentActive) active++;
      continue;
    }
    voters++;
    if (m.recentActive) active++;
  }
  const after = change.kind === 'remove' ? voters : voters + 1;
  return active >= majority(after);
}

/** Whether a learner's log is close enough to the leader's to promote it (etcd: 90%). */
export function learnerInSync(progress: ReadonlyMap<NodeId, Pick<MemberProgress, 'match'>>, learner: NodeId, leader: NodeId): boolean {
  const pr = progress.get(learner);
  const leaderMatch = progress.get(leader)?.match ?? 0;
  return pr !== undefined && pr.match >= leaderMatch * 0.9;
}

export interface MembershipAdminOptions {
  membership: Membership;
  node: RaftNode;
  proposer: Proposer;
  /** New member IDs are derived from it, as etcd's are. */
  clusterToken: string;
}

export class MembershipAdmin {
  constructor(private readonly opts: MembershipAdminOptions) {}

  async list(linearizable: boolean): Promise<Member[]> {
    if (linearizable) await this.opts.proposer.readBarrier();
    return this.opts.membership.list();
  }

  async add(peerUrls: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }> {
    const { membership } = this.opts;
    if (peerUrls.length === 0) throw new ServerError('INVALID_ARGUMENT', 'etcdserver: member peer URLs are not provided');
    for (const url of peerUrls) {
      if (!/^https?:\/\/[^/]+/.test(url)) throw new ServerError('INVALID_ARGUMENT', `etcdserver: invalid peer URL "${url}"`);
      if (membership.peerUrlInUse(url)) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: Peer URLs already exists');
    }
    if (!isLearner) this.checkQuorumAfter({ kind: 'add' });
    const id = newMemberId(peerUrls, this.opts.clusterToken);
    const member: Member = { id, name: '', peerUrls, clientUrls: [], isLearner };
    await this.opts.proposer.proposeConf({ type: isLearner ? ConfChangeType.AddLearner : ConfChangeType.AddNode, nodeId: id }, member);
    return { member, members: membership.list() };
  }

  async remove(id: number): Promise<Member[]> {
    const { membership } = this.opts;
    const member = membership.get(id);
    if (!member) {
      throw new ServerError('NOT_FOUND', membership.isRemoved(id) ? 'etcdserver: member was removed' : 'etcdserver: member not found');
    }
    if (!member.isLearner) this.checkQuorumAfter({ kind: 'remove', id });
    await this.opts.proposer.proposeConf({ type: ConfChangeType.RemoveNode, nodeId: id }, member);
    return membership.list();
  }

  async promote(id: number): Promise<Member[]> {
    const { membership, node } = this.opts;
    const member = membership.get(id);
    if (!member) throw new ServerError('NOT_FOUND', 'etcdserver: member not found');
    if (!member.isLearner) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: can only promote a learner member');
    if (node.isLeader) {
      const status = node.status();
      if (!learnerInSync(status.progress, id, status.id)) {
        throw new ServerError('FAILED_PRECONDITION', 'etcdserver: can only promote a learner member which is in sync with leader');
      }
    } else if (node.leaderId === 0) {
      throw errNoLeader();
    }
    this.checkQuorumAfter({ kind: 'promote', id });
    await this.opts.proposer.proposeConf({ type: ConfChangeType.AddNode, nodeId: id }, { ...member, isLearner: false });
    return membership.list();
  }

  async update(id: number, peerUrls: string[]): Promise<Member[]> {
    const { membership } = this.opts;
    if (!membership.has(id)) throw new ServerError('NOT_FOUND', 'etcdserver: member not found');
    for (const url of peerUrls) {
      if (membership.peerUrlInUse(url, id)) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: Peer URLs already exists');
    }
    await this.opts.proposer.propose({ memberUpdate: { id, peerUrls } });
    return membership.list();
  }

  /** Only the leader knows who is active; followers skip the check (the leader's own API call makes it). */
  private checkQuorumAfter(change: VoterChange): void {
    const { node } = this.opts;
    if (!node.isLeader) return;
    if (!reconfigurationAllowed(node.status().progress, change)) {
      throw new ServerError('FAILED_PRECONDITION', 'etcdserver: re-configuration failed due to not enough started members');
    }
  }
}

// The cluster's member table as the state machine sees it: who is in the
// cluster, their URLs, names and learner status. It changes only by applying
// committed entries, so every member holds the same table.

export interface Member {
  id: number;
  /** Empty until the member has started and published its attributes. */
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

export class Membership {
  private readonly members = new Map<number, Member>();
  /** IDs removed from the cluster: they may never come back under the same ID. */
  private readonly removed = new Set<number>();

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id).map((m) => ({ ...m }));
  }

  get(id: number): Member | undefined {
    const m = this.members.get(id);
    return m && { ...m };
  }

  has(id: number): boolean {
    return this.members.has(id);
  }

  isRemoved(id: number): boolean {
    return this.removed.has(id);
  }

  add(member: Member): void {
    this.members.set(member.id, { ...member, peerUrls: [...member.peerUrls], clientUrls: [...member.clientUrls] });
  }

  promote(id: number): void {
    const m = this.members.get(id);
    if (m) m.isLearner = false;
  }

  remove(id: number): void {
    this.members.delete(id);
    this.removed.add(id);
  }

  updatePeerUrls(id: number, peerUrls: string[]): void {
    const m = this.members.get(id);
    if (m) m.peerUrls = [...peerUrls];
  }

  setAttributes(id: number, name: string, clientUrls: string[]): void {
    const m = this.members.get(id);
    if (!m) return;
    m.name = name;
    m.clientUrls = [...clientUrls];
  }

  /** Whether a peer URL is already used by some member. */
  peerUrlInUse(url: string, except?: number): boolean {
    for (const m of this.members.values()) if (m.id !== except && m.peerUrls.includes(url)) return true;
    return false;
  }

  voterCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (!m.isLearner) n++;
    return n;
  }

  toJSON(): { members: Member[]; removed: number[] } {
    return { members: this.list(), removed: [...this.removed].sort((a, b) => a - b) };
  }

  static fromJSON(data: { members: Member[]; removed: number[] }): Membership {
    const m = new Membership();
    m.restore(data);
    return m;
  }

  /** Replaces the whole table with a snapshot's. */
  restore(data: { members: Member[]; removed: number[] }): void {
    this.members.clear();
    this.removed.clear();
    for (const member of data.members) this.add(member);
    for (const id of data.removed) this.removed.add(id);
  }
}

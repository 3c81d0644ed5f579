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
  /** The highest entry format the member's release reads, as it last published (absent: 1, an older release). */
  entryFormat?: number;
}

/** The member table as a snapshot holds it. */
export interface MembershipData {
  members: Member[];
  removed: number[];
  /** The cluster's entry format; absent: 1 (snapshots of older releases). */
  entryFormat?: number;
}

export class Membership {
  private readonly members = new Map<number, Member>();
  /** IDs removed from the cluster: they may never come back under the same ID. */
  private readonly removed = new Set<number>();
  /** The cluster's entry format (entry-format.ts), raised by a replicated entry. */
  entryFormat = 1;

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

  setAttributes(id: number, name: string, clientUrls: string[], entryFormat?: number): void {
    const m = this.members.get(id);
    if (!m) return;
    m.name = name;
    m.clientUrls = [...clientUrls];
    if (entryFormat === undefined) delete m.entryFormat;
    else m.entryFormat = entryFormat;
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

  toJSON(): MembershipData {
    const data: MembershipData = { members: this.list(), removed: [...this.removed].sort((a, b) => a - b) };
    // Written only once raised, so a snapshot of a format-1 cluster stays byte for byte what older releases wrote.
    if (this.entryFormat > 1) data.entryFormat = this.entryFormat;
    return data;
  }

  static fromJSON(data: MembershipData): Membership {
    const m = new Membership();
    m.restore(data);
    return m;
  }

  /** Replaces the whole table with a snapshot's. */
  restore(data: MembershipData): void {
    this.members.clear();
    this.removed.clear();
    this.entryFormat = data.entryFormat ?? 1;
    for (const member of data.members) this.add(member);
    for (const id of data.removed) this.removed.add(id);
  }
}

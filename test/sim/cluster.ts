// A deterministic simulation of a Raft cluster: members of the real core run
// over a virtual network and clock driven by one seeded random stream.
// Messages can be lost, duplicated, delayed and reordered; links can be cut in
// either direction; members crash (losing whatever was not yet persisted) and
// restart from their durable storage. Client requests go through the members
// as a server would send them, and every client operation is recorded so the
// history can be checked for linearizability. Safety invariants are checked
// as the run goes; a violation is recorded with the trace that led to it.
import { MemoryStorage } from '../../node/raft/memory-storage.js';
import { decodeConfChange } from '../../node/raft/confchange.js';
import { ProposalDroppedError, Role, type Raft, type RaftConfig } from '../../node/raft/raft.js';
import { RawNode, type Ready } from '../../node/raft/raw-node.js';
import { ConfChangeType, EntryType, MessageType, type ConfChange, type Entry, type Message, type NodeId } from '../../node/raft/types.js';
import { KvMachine, decodeCommand, encodeCommand, type KvInput, type KvOutput } from './kv-machine.js';
import { Rng } from './rng.js';

export interface SimOptions {
  seed: number;
  voters: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Virtual time units between two ticks of a member. */
  tickInterval?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxInflightMsgs?: number;
  maxSizePerMsg?: number;
  /** Take a snapshot and compact the log every this many applied entries (0 = never). */
  snapshotEvery?: number;
  lossRate?: number;
  dupRate?: number;
  minDelay?: number;
  maxDelay?: number;
  /** Upper bound on the virtual time a Ready takes to persist. */
  maxDiskDelay?: number;
  /** Substitute a deliberately altered core (for tests that prove the checks catch bugs). */
  createRaft?: (config: RaftConfig) => Raft;
  /** Number of trace lines kept for failure reports (0 keeps everything). */
  traceLimit?: number;
}

export interface ClientOperation {
  clientId: number;
  input: KvInput;
  output: KvOutput | undefined;
  call: number;
  ret: number;
}

type Input =
  | { kind: 'msg'; m: Message }
  | { kind: 'tick' }
  | { kind: 'propose'; data: Uint8Array; reply: (err?: string) => void }
  | { kind: 'conf'; cc: ConfChange; reply: (err?: string) => void }
  | { kind: 'read'; context: Uint8Array; reply: (err?: string) => void }
  | { kind: 'transfer'; target: NodeId }
  | { kind: 'campaign' }
  | { kind: 'snapStatus'; from: NodeId; ok: boolean };

interface PendingWrite {
  respond: (out: KvOutput) => void;
}

interface PendingRead {
  key: string;
  index: number;
  respond: (out: KvOutput) => void;
}

export class SimMember {
  raw: RawNode | undefined;
  sm = new KvMachine();
  inbox: Input[] = [];
  busy = false;
  /** Bumped on every crash so events scheduled for the old incarnation are ignored. */
  incarnation = 0;
  writes = new Map<string, PendingWrite>();
  reads = new Map<string, PendingRead>();
  confirmedReads: PendingRead[] = [];
  decommissioned = false;
  lastLeaderTerm = 0;
  /** Highest index whose committed entry this member has reported to the checker. */
  recordedCommit = 0;

  constructor(
    readonly id: NodeId,
    public storage: MemoryStorage,
  ) {}

  get alive(): boolean {
    return this.raw !== undefined;
  }
}

interface Event {
  time: number;
  seq: number;
  run: () => void;
}

/** A binary min-heap of events ordered by (time, seq): ties run in scheduling order. */
class EventQueue {
  private heap: Event[] = [];
  private seq = 0;

  push(time: number, run: () => void): void {
    const e = { time, seq: this.seq++, run };
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(h[p]!, e)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r]!, h[l]!) ? r : l;
        if (before(last, h[c]!)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }

  peekTime(): number {
    return this.heap[0]?.time ?? Infinity;
  }
}

function before(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

function entryKey(e: Entry): string {
  let data = '';
  for (const b of e.data) data += String.fromCharCode(b);
  return `${e.term}/${e.type}/${data}`;
}

export class Simulation {
  readonly rng: Rng;
  readonly opts: Required<Omit<SimOptions, 'createRaft'>> & Pick<SimOptions, 'createRaft'>;
  now = 0;
  readonly members = new Map<NodeId, SimMember>();
  readonly history: ClientOperation[] = [];
  readonly violations: string[] = [];
  private readonly trace: string[] = [];
  private readonly queue = new EventQueue();
  /** Directed links that drop everything: "from>to". */
  private readonly cut = new Set<string>();
  /** Extra drop rule for scripted scenarios. */
  dropFilter: ((m: Message) => boolean) | undefined;
  private nextId: NodeId;
  private nextOp = 1;
  private nextRead = 1;

  // Invariant bookkeeping.
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** What every member that persisted an entry at (index, term) holds: data and the previous entry's term. */
  private readonly persisted = new Map<string, { key: string; prevTerm: number }>();
  private readonly committed = new Map<number, string>();
  private maxCommitted = 0;
  private readonly appliedAt = new Map<number, string>();
  /** Conf changes applied by any member, as "type:nodeId". */
  readonly appliedConfChanges = new Set<string>();
  readonly stats = { messages: 0, dropped: 0, elections: 0, snapshotsSent: 0, rejections: 0, crashes: 0 };

  constructor(options: SimOptions) {
    this.opts = {
      electionTick: 10,
      heartbeatTick: 1,
      tickInterval: 10,
      preVote: true,
      checkQuorum: true,
      maxInflightMsgs: 8,
      maxSizePerMsg: 4096,
      snapshotEvery: 0,
      lossRate: 0,
      dupRate: 0,
      minDelay: 1,
      maxDelay: 5,
      maxDiskDelay: 2,
      traceLimit: 400,
      ...options,
    };
    this.rng = new Rng(options.seed);
    const ids = Array.from({ length: options.voters }, (_, i) => i + 1);
    this.nextId = options.voters + 1;
    for (const id of ids) {
      const member = new SimMember(id, MemoryStorage.bootstrap(ids));
      this.members.set(id, member);
      this.start(member);
    }
  }

  // ---- running ------------------------------------------------------------

  /** Runs events until virtual time `until` (inclusive). */
  runUntil(until: number): void {
    while (this.queue.peekTime() <= until) {
      const e = this.queue.pop()!;
      this.now = e.time;
      e.run();
    }
    this.now = Math.max(this.now, until);
  }

  runFor(duration: number): void {
    this.runUntil(this.now + duration);
  }

  /** Runs until `done()` holds or `timeout` passes; returns whether it held. */
  runUntilTrue(done: () => boolean, timeout: number, step = 10): boolean {
    const deadline = this.now + timeout;
    while (this.now < deadline) {
      if (done()) return true;
      this.runFor(step);
    }
    return done();
  }

  schedule(delay: number, run: () => void): void {
    this.queue.push(this.now + Math.max(0, delay), run);
  }

  log(line: string): void {
    this.trace.push(`${String(this.now).padStart(6)} ${line}`);
    if (this.opts.traceLimit > 0 && this.trace.length > this.opts.traceLimit * 2) {
      this.trace.splice(0, this.trace.length - this.opts.traceLimit);
    }
  }

  traceText(): string {
    const lines = this.opts.traceLimit > 0 ? this.trace.slice(-this.opts.traceLimit) : this.trace;
    return lines.join('\n');
  }

  violate(what: string): void {
    this.log(`VIOLATION ${what}`);
    this.violations.push(`t=${this.now}: ${what}`);
  }

  // ---- members ------------------------------------------------------------

  private start(member: SimMember): void {
    const { hardState } = member.storage.initialState();
    const snap = member.storage.snapshot();
    member.sm = KvMachine.restore(snap.data);
    member.raw = new RawNode(
      {
        id: member.id,
        storage: member.storage,
        electionTick: this.opts.electionTick,
        heartbeatTick: this.opts.heartbeatTick,
        random: () => this.rng.next(),
        applied: snap.meta.index,
        preVote: this.opts.preVote,
        checkQuorum: this.opts.checkQuorum,
        maxInflightMsgs: this.opts.maxInflightMsgs,
        maxSizePerMsg: this.opts.maxSizePerMsg,
      },
      this.opts.createRaft,
    );
    member.busy = false;
    member.inbox = [];
    this.log(`n${member.id} start term=${hardState.term} commit=${hardState.commit} snap=${snap.meta.index} last=${member.storage.lastIndex()}`);
    const incarnation = member.incarnation;
    // Members tick at slightly different phases, as real clocks would.
    const phase = this.rng.int(0, this.opts.tickInterval - 1);
    const tick = (): void => {
      if (member.incarnation !== incarnation || !member.alive) return;
      this.deliver(member, { kind: 'tick' });
      this.schedule(this.opts.tickInterval, tick);
    };
    this.schedule(phase, tick);
  }

  /** Loses everything not yet persisted: the inbox, in-flight Ready, pending client requests. */
  crash(id: NodeId): void {
    const member = this.members.get(id);
    if (!member?.alive) return;
    this.log(`n${id} CRASH`);
    this.stats.crashes++;
    member.raw = undefined;
    member.incarnation++;
    member.inbox = [];
    member.busy = false;
    member.writes.clear();
    member.reads.clear();
    member.confirmedReads = [];
  }

  restart(id: NodeId): void {
    const member = this.members.get(id);
    if (!member || member.alive || member.decommissioned) return;
    this.log(`n${id} RESTART`);
    this.start(member);
  }

  /** Creates a member with empty storage (to be added to the cluster by a conf change). */
  addMember(): SimMember {
    const id = this.nextId++;
    const member = new SimMember(id, new MemoryStorage());
    this.members.set(id, member);
    this.start(member);
    return member;
  }

  /** Stops a member that has been removed from the cluster, for good. */
  decommission(id: NodeId): void {
    const member = this.members.get(id);
    if (!member) return;
    this.crash(id);
    member.decommissioned = true;
  }

  liveMembers(): SimMember[] {
    return [...this.members.values()].filter((m) => m.alive);
  }

  /** The live member that believes it leads in the highest term, if any. */
  leader(): SimMember | undefined {
    let best: SimMember | undefined;
    for (const m of this.members.values()) {
      const r = m.raw;
      if (r?.role === Role.Leader && (!best || r.term > best.raw!.term)) best = m;
    }
    return best;
  }

  private deliver(member: SimMember, input: Input): void {
    member.inbox.push(input);
    if (!member.busy) this.process(member);
  }

  /**
   * Steps everything queued, then starts persisting the next Ready (if any).
   * The core throws only when one of its own invariants breaks (for example
   * a leader asking a follower to overwrite a committed entry): that is a
   * violation, and the member is crashed.
   */
  private process(member: SimMember): void {
    try {
      this.processUnguarded(member);
    } catch (err) {
      this.violate(`core panicked on n${member.id}: ${err instanceof Error ? err.message : String(err)}`);
      this.crash(member.id);
    }
  }

  private processUnguarded(member: SimMember): void {
    const raw = member.raw;
    if (!raw) return;
    const inbox = member.inbox;
    member.inbox = [];
    for (const input of inbox) this.handleInput(raw, input);
    this.checkRoles(member);
    if (!raw.hasReady()) return;
    const rd = raw.ready();
    member.busy = true;
    const incarnation = member.incarnation;
    // The Ready is only durable once the "fsync" completes; a crash before
    // then loses it and the messages it would have sent.
    this.schedule(this.rng.int(0, this.opts.maxDiskDelay), () => {
      if (member.incarnation !== incarnation) return;
      try {
        this.persistAndApply(member, raw, rd);
      } catch (err) {
        this.violate(`core panicked on n${member.id}: ${err instanceof Error ? err.message : String(err)}`);
        this.crash(member.id);
        return;
      }
      member.busy = false;
      this.process(member);
    });
  }

  private handleInput(raw: RawNode, input: Input): void {
    switch (input.kind) {
      case 'tick':
        raw.tick();
        return;
      case 'msg':
        raw.step(input.m);
        return;
      case 'campaign':
        raw.campaign();
        return;
      case 'transfer':
        raw.transferLeadership(input.target);
        return;
      case 'snapStatus':
        raw.reportSnapshot(input.from, input.ok);
        return;
      case 'propose':
        try {
          raw.propose(input.data);
          input.reply();
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
          input.reply(err.message);
        }
        return;
      case 'conf':
        try {
          raw.proposeConfChange(input.cc);
          input.reply();
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
          input.reply(err.message);
        }
        return;
      case 'read':
        try {
          raw.readIndex(input.context);
          input.reply();
        } catch (err) {
          if (!(err instanceof ProposalDroppedError)) throw err;
          input.reply(err.message);
        }
        return;
    }
  }

  private persistAndApply(member: SimMember, raw: RawNode, rd: Ready): void {
    const storage = member.storage;
    if (rd.snapshot) {
      storage.applySnapshot(rd.snapshot);
      this.log(`n${member.id} install snapshot index=${rd.snapshot.meta.index} term=${rd.snapshot.meta.term}`);
    }
    if (rd.entries.length > 0) {
      this.checkLogMatching(member, rd.entries);
      storage.append(rd.entries);
    }
    if (rd.hardState) storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.send(m);
    if (rd.snapshot) {
      member.sm = KvMachine.restore(rd.snapshot.data);
      member.sm.applied = rd.snapshot.meta.index;
    }
    this.recordCommitted(member, raw);
    for (const e of rd.committedEntries) this.applyEntry(member, raw, e);
    for (const rs of rd.readStates) {
      const read = member.reads.get(contextKey(rs.context));
      if (!read) continue;
      member.reads.delete(contextKey(rs.context));
      read.index = rs.index;
      member.confirmedReads.push(read);
    }
    raw.advance(rd);
    this.serveReads(member);
    this.maybeSnapshot(member, raw);
  }

  private applyEntry(member: SimMember, raw: RawNode, e: Entry): void {
    if (e.index !== member.sm.applied + 1) {
      this.violate(`n${member.id} applied index ${e.index} after ${member.sm.applied}`);
    }
    const key = entryKey(e);
    const seen = this.appliedAt.get(e.index);
    if (seen === undefined) this.appliedAt.set(e.index, key);
    else if (seen !== key) this.violate(`state machine safety: n${member.id} applied ${key} at ${e.index}, another member applied ${seen}`);
    member.sm.applied = e.index;
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      raw.applyConfChange(cc);
      this.appliedConfChanges.add(`${cc.type}:${cc.nodeId}`);
      this.log(`n${member.id} apply conf ${ConfChangeType[cc.type]} n${cc.nodeId} at ${e.index}`);
      return;
    }
    if (e.data.length === 0) return;
    const cmd = decodeCommand(e.data);
    const out = member.sm.apply(e.index, cmd);
    const pending = member.writes.get(`${cmd.client}:${cmd.op}`);
    if (pending) {
      member.writes.delete(`${cmd.client}:${cmd.op}`);
      pending.respond(out);
    }
  }

  private serveReads(member: SimMember): void {
    const ready = member.confirmedReads.filter((r) => r.index <= member.sm.applied);
    if (ready.length === 0) return;
    member.confirmedReads = member.confirmedReads.filter((r) => r.index > member.sm.applied);
    for (const r of ready) r.respond({ value: member.sm.read(r.key) });
  }

  private maybeSnapshot(member: SimMember, raw: RawNode): void {
    const every = this.opts.snapshotEvery;
    if (every <= 0) return;
    const applied = member.sm.applied;
    if (applied - member.storage.snapshot().meta.index < every) return;
    member.storage.createSnapshot(applied, raw.status().conf, member.sm.snapshot());
    // Keep a few entries so slightly lagging followers still get appends.
    member.storage.compact(Math.max(member.storage.firstIndex() - 1, applied - 3));
  }

  // ---- network ------------------------------------------------------------

  setLink(from: NodeId, to: NodeId, up: boolean): void {
    if (up) this.cut.delete(`${from}>${to}`);
    else this.cut.add(`${from}>${to}`);
  }

  /** Cuts every link between the two groups, in both directions. */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a) for (const y of b) {
      this.setLink(x, y, false);
      this.setLink(y, x, false);
    }
  }

  isolate(id: NodeId): void {
    const others = [...this.members.keys()].filter((x) => x !== id);
    this.partition([id], others);
  }

  heal(): void {
    this.cut.clear();
    this.dropFilter = undefined;
  }

  linkUp(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  private send(m: Message): void {
    this.stats.messages++;
    if (m.type === MessageType.AppResp && m.reject) this.stats.rejections++;
    const dropped = !this.linkUp(m.from, m.to) || this.rng.chance(this.opts.lossRate) || (this.dropFilter?.(m) ?? false);
    if (dropped) {
      this.stats.dropped++;
      if (m.type === MessageType.Snap) this.reportSnapshot(m, false);
      return;
    }
    const copies = this.rng.chance(this.opts.dupRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.schedule(this.rng.int(this.opts.minDelay, this.opts.maxDelay), () => {
        const to = this.members.get(m.to);
        // A partition that formed while the message was in flight also drops it.
        if (!to?.alive || !this.linkUp(m.from, m.to)) {
          if (m.type === MessageType.Snap) this.reportSnapshot(m, false);
          return;
        }
        if (m.type === MessageType.Snap) {
          this.stats.snapshotsSent++;
          this.reportSnapshot(m, true);
        }
        this.deliver(to, { kind: 'msg', m: { ...m, entries: m.entries.map((e) => ({ ...e })) } });
      });
    }
  }

  private reportSnapshot(m: Message, ok: boolean): void {
    const from = this.members.get(m.from);
    if (from?.alive) this.deliver(from, { kind: 'snapStatus', from: m.to, ok });
  }

  // ---- control requests ---------------------------------------------------

  campaign(id: NodeId): void {
    const m = this.members.get(id);
    if (m?.alive) this.deliver(m, { kind: 'campaign' });
  }

  transferLeadership(leader: NodeId, target: NodeId): void {
    const m = this.members.get(leader);
    if (m?.alive) {
      this.log(`n${leader} transfer leadership to n${target}`);
      this.deliver(m, { kind: 'transfer', target });
    }
  }

  proposeConfChange(via: NodeId, cc: ConfChange, reply: (err?: string) => void = () => {}): void {
    const m = this.members.get(via);
    if (!m?.alive) return reply('member down');
    this.log(`n${via} propose conf ${ConfChangeType[cc.type]} n${cc.nodeId}`);
    this.deliver(m, { kind: 'conf', cc, reply });
  }

  /** Proposes raw data on a member without a client (for scripted scenarios). */
  proposeRaw(via: NodeId, input: KvInput): void {
    const m = this.members.get(via);
    if (!m?.alive) return;
    const data = encodeCommand({ client: 0, op: this.nextOp++, input });
    this.deliver(m, { kind: 'propose', data, reply: () => {} });
  }

  // ---- clients ------------------------------------------------------------

  /**
   * Issues one client operation through member `via`. `done` is called when
   * the client stops waiting: with the output, or undefined on a timeout or a
   * definite refusal. The history records the operation unless it definitely
   * had no effect.
   */
  clientRequest(clientId: number, via: NodeId, input: KvInput, timeout: number, done: () => void): void {
    const record: ClientOperation = { clientId, input, output: undefined, call: this.now, ret: Infinity };
    const member = this.members.get(via);
    let finished = false;
    const finish = (out: KvOutput | undefined, definitelyFailed: boolean): void => {
      if (finished) return;
      finished = true;
      if (out !== undefined) {
        record.output = out;
        record.ret = this.now;
        this.history.push(record);
      } else if (!definitelyFailed) {
        this.history.push(record);
      }
      done();
    };
    this.schedule(timeout, () => finish(undefined, false));
    if (!member?.alive) {
      this.schedule(1, () => finish(undefined, true));
      return;
    }
    const incarnation = member.incarnation;
    const respond = (out: KvOutput): void => {
      // The reply travels back to the client.
      this.schedule(this.rng.int(this.opts.minDelay, this.opts.maxDelay), () => finish(out, false));
    };
    if (input.op === 'get') {
      const context = new TextEncoder().encode(`read-${this.nextRead++}`);
      member.reads.set(contextKey(context), { key: input.key, index: 0, respond });
      this.deliver(member, {
        kind: 'read',
        context,
        reply: (err) => {
          if (err && member.incarnation === incarnation) {
            member.reads.delete(contextKey(context));
            this.schedule(1, () => finish(undefined, true));
          }
        },
      });
      return;
    }
    const op = this.nextOp++;
    member.writes.set(`${clientId}:${op}`, { respond });
    this.deliver(member, {
      kind: 'propose',
      data: encodeCommand({ client: clientId, op, input }),
      reply: (err) => {
        if (err && member.incarnation === incarnation) {
          // Refused before reaching the log: it can never take effect.
          member.writes.delete(`${clientId}:${op}`);
          this.schedule(1, () => finish(undefined, true));
        }
      },
    });
  }

  // ---- invariants ---------------------------------------------------------

  /** At most one leader per term; a new leader holds every committed entry. */
  private checkRoles(member: SimMember): void {
    const r = member.raw;
    if (!r || r.role !== Role.Leader) return;
    const other = this.leaderOfTerm.get(r.term);
    if (other === undefined) {
      this.leaderOfTerm.set(r.term, member.id);
      this.stats.elections++;
      const st = r.status();
      this.log(`n${member.id} LEADER term=${r.term} last=${st.lastIndex} commit=${st.commit}`);
    } else if (other !== member.id) {
      this.violate(`election safety: n${other} and n${member.id} both lead term ${r.term}`);
    }
    if (member.lastLeaderTerm === r.term) return;
    member.lastLeaderTerm = r.term;
    const first = r.status().firstIndex;
    for (let i = Math.max(first, 1); i <= this.maxCommitted; i++) {
      const key = this.committed.get(i);
      if (key === undefined) continue;
      const entry = r.entries(i, i + 1)?.[0];
      if (!entry || entryKey(entry) !== key) {
        this.violate(`leader completeness: leader n${member.id} of term ${r.term} lacks committed entry ${i} (${key})`);
        break;
      }
    }
  }

  /** Log matching: the same (index, term) always carries the same entry and the same predecessor term. */
  private checkLogMatching(member: SimMember, entries: Entry[]): void {
    for (let n = 0; n < entries.length; n++) {
      const e = entries[n]!;
      const prevTerm = n === 0 ? this.termBefore(member, e.index) : entries[n - 1]!.term;
      const id = `${e.index}@${e.term}`;
      const seen = this.persisted.get(id);
      const key = entryKey(e);
      if (!seen) this.persisted.set(id, { key, prevTerm });
      else if (seen.key !== key || (prevTerm >= 0 && seen.prevTerm >= 0 && seen.prevTerm !== prevTerm)) {
        this.violate(`log matching: n${member.id} entry ${id} differs from another member's (${key} after term ${prevTerm} vs ${seen.key} after term ${seen.prevTerm})`);
      }
    }
  }

  private termBefore(member: SimMember, index: number): number {
    if (index <= 1) return 0;
    try {
      return member.storage.term(index - 1);
    } catch {
      return -1;
    }
  }

  /** Committed entries never change: record each member's newly committed entries. */
  private recordCommitted(member: SimMember, raw: RawNode): void {
    const { commit: upTo, firstIndex } = raw.status();
    const from = Math.max(firstIndex, member.recordedCommit + 1);
    member.recordedCommit = Math.max(member.recordedCommit, upTo);
    for (let i = from; i <= upTo; i++) {
      const entry = raw.entries(i, i + 1)?.[0];
      if (!entry) continue;
      const key = entryKey(entry);
      const seen = this.committed.get(i);
      if (seen === undefined) this.committed.set(i, key);
      else if (seen !== key) this.violate(`committed entry lost: index ${i} was ${seen}, n${member.id} now commits ${key}`);
    }
    this.maxCommitted = Math.max(this.maxCommitted, upTo);
  }

  highestCommitted(): number {
    return this.maxCommitted;
  }

  /** Current voters and learners according to the newest leader (or any live member). */
  membership(): { voters: NodeId[]; learners: NodeId[] } {
    const source = this.leader() ?? this.liveMembers()[0];
    return source?.raw?.status().conf ?? { voters: [], learners: [] };
  }
}

export function contextKey(ctx: Uint8Array): string {
  return Array.from(ctx, (b) => b.toString(16).padStart(2, '0')).join('');
}

export { ConfChangeType, type ConfChange };

// The interpreter behind the golden scripts: members of the Raft core driven
// only through RawNode's public methods, over a network that holds every
// message until a script delivers or drops it. Each command returns the lines
// it printed: a member's state when it changed, the messages it sent, the
// entries it applied and the reads it may serve.
import {
  ConfChangeType,
  EntryType,
  MemoryStorage,
  ProposalDroppedError,
  RawNode,
  Role,
  decodeConfChange,
  type ConfChange,
  type Message,
  type NodeId,
  type RaftConfig,
} from '../../../../node/raft/index.js';
import { formatBytes, formatConf, formatEntry, formatId, formatMessage } from './format.js';

interface Member {
  id: NodeId;
  node: RawNode;
  storage: MemoryStorage;
  /** The state line last printed for this member; a new one is printed when it changes. */
  shown: string;
}

type Options = Pick<RaftConfig, 'electionTick' | 'heartbeatTick' | 'preVote' | 'checkQuorum' | 'readOnlyLeaseBased'> & { seed: number };

/** Positional words and `key=value` words of a command line. */
interface Args {
  pos: string[];
  kv: Map<string, string>;
}

const encoder = new TextEncoder();

/** The `key=` options each command takes; any other is a mistake in the script. */
const OPTIONS: Record<string, string[]> = {
  create: ['election', 'heartbeat', 'prevote', 'checkquorum', 'lease', 'seed'],
  'add-learner': ['via'],
  promote: ['via'],
  deliver: ['from', 'to'],
  drop: ['from', 'to'],
};

export class World {
  private members = new Map<NodeId, Member>();
  /** Messages sent and not yet delivered or dropped, in send order. */
  private queue: Message[] = [];
  private isolated = new Set<NodeId>();
  private options: Options = { electionTick: 10, heartbeatTick: 1, seed: 0 };
  private out: string[] = [];

  private readonly commands: Record<string, (a: Args) => void> = {
    create: (a) => this.create(a),
    tick: (a) => this.tick(a),
    campaign: (a) => this.member(a.pos[0]).node.campaign(),
    elect: (a) => this.elect(a),
    propose: (a) => this.propose(a.pos[0], (m) => m.node.propose(encoder.encode(a.pos[1] ?? ''))),
    'transfer-leader': (a) => this.member(a.pos[0]).node.transferLeadership(this.id(a.pos[1])),
    'read-index': (a) => this.propose(a.pos[0], (m) => m.node.readIndex(encoder.encode(a.pos[1] ?? ''))),
    'add-learner': (a) => this.confChange(a, ConfChangeType.AddLearner),
    promote: (a) => this.confChange(a, ConfChangeType.AddNode),
    deliver: (a) => this.deliver(a),
    drop: (a) => this.drop(a),
    stabilize: () => this.stabilize(),
    isolate: (a) => a.pos.forEach((p) => this.isolated.add(this.id(p))),
    recover: () => this.isolated.clear(),
    status: (a) => this.status(a),
  };

  /** Runs one command line; returns what it printed. */
  run(line: string): string[] {
    this.out = [];
    const [name = '', ...words] = line.split(/\s+/).filter((w) => w !== '');
    const command = this.commands[name];
    if (!command) throw new Error(`unknown command ${name}; known: ${Object.keys(this.commands).join(', ')}`);
    const args: Args = { pos: [], kv: new Map() };
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq > 0) args.kv.set(w.slice(0, eq), w.slice(eq + 1));
      else args.pos.push(w);
    }
    const allowed = OPTIONS[name] ?? [];
    for (const key of args.kv.keys()) if (!allowed.includes(key)) throw new Error(`${name} takes no option ${key}=`);
    command(args);
    // Whatever a command did to a member shows in its next Ready.
    for (const m of this.members.values()) this.settle(m);
    return this.out;
  }

  // ---- commands -----------------------------------------------------------

  private create(a: Args): void {
    const voters = this.ids(a.pos[0]);
    const bool = (key: string): boolean | undefined => {
      const v = a.kv.get(key);
      if (v !== undefined && v !== 'true' && v !== 'false') throw new Error(`${key}= takes true or false, not ${v}`);
      return v === undefined ? undefined : v === 'true';
    };
    const num = (key: string, dflt: number): number => count(a.kv.get(key), dflt);
    this.options = {
      electionTick: num('election', 10),
      heartbeatTick: num('heartbeat', 1),
      preVote: bool('prevote'),
      checkQuorum: bool('checkquorum'),
      readOnlyLeaseBased: bool('lease'),
      seed: num('seed', 0),
    };
    this.members.clear();
    this.queue = [];
    this.isolated.clear();
    for (const id of voters) this.addMember(id, MemoryStorage.bootstrap(voters));
    // Applying the bootstrap entries is the same for every script: not shown.
    for (const m of this.members.values()) this.settle(m);
    this.out = [];
  }

  /** Campaign and deliver everything, printing nothing: the set-up for scripts about something else. */
  private elect(a: Args): void {
    const m = this.member(a.pos[0]);
    m.node.campaign();
    this.settle(m);
    this.stabilize();
    this.out = [];
    if (m.node.status().role !== Role.Leader) throw new Error(`${m.id} did not win the election`);
  }

  private tick(a: Args): void {
    const targets = a.pos[0] === 'all' ? [...this.members.keys()] : this.ids(a.pos[0]);
    const times = count(a.pos[1], 1);
    for (let t = 0; t < times; t++) {
      for (const id of targets) {
        const m = this.member(id);
        m.node.tick();
        this.settle(m);
      }
    }
  }

  /** Runs a request that the core may refuse, printing the refusal. */
  private propose(who: string | undefined, request: (m: Member) => void): void {
    const m = this.member(who);
    try {
      request(m);
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.out.push(`${m.id} ${err.message}`);
    }
  }

  /** add-learner / promote ID via=PROPOSER; a new learner starts with an empty log. */
  private confChange(a: Args, type: ConfChangeType): void {
    const target = this.id(a.pos[0]);
    if (type === ConfChangeType.AddLearner && !this.members.has(target)) this.addMember(target, new MemoryStorage());
    const cc: ConfChange = { type, nodeId: target, context: new Uint8Array() };
    this.propose(a.kv.get('via'), (m) => m.node.proposeConfChange(cc));
  }

  /** Delivers the queued messages that match the filters (one round: replies wait for the next). */
  private deliver(a: Args): void {
    for (const msg of this.take(a)) {
      const to = this.members.get(msg.to);
      if (!to || this.isolated.has(msg.from) || this.isolated.has(msg.to)) {
        this.out.push(`dropped ${formatMessage(msg)}`);
        continue;
      }
      to.node.step(msg);
      this.settle(to);
    }
  }

  private drop(a: Args): void {
    for (const msg of this.take(a)) this.out.push(`dropped ${formatMessage(msg)}`);
  }

  /** Delivers round after round until no message is left. */
  private stabilize(): void {
    for (let round = 0; this.queue.length > 0; round++) {
      if (round === 100) throw new Error('still sending messages after 100 rounds');
      this.deliver({ pos: [], kv: new Map() });
    }
  }

  private status(a: Args): void {
    const ids = a.pos.length === 0 ? [...this.members.keys()] : this.ids(a.pos[0]);
    for (const id of ids) {
      const s = this.member(id).node.status();
      const transfer = s.leadTransferee === 0 ? '' : ` transferee=${s.leadTransferee}`;
      this.out.push(
        `${id} ${s.role} term=${s.term} vote=${formatId(s.vote)} lead=${formatId(s.lead)} ` +
          `commit=${s.commit} applied=${s.applied} last=${s.lastIndex} ${formatConf(s.conf)}${transfer}`,
      );
    }
  }

  // ---- members --------------------------------------------------------------

  private addMember(id: NodeId, storage: MemoryStorage): void {
    const { seed, ...config } = this.options;
    const node = new RawNode({ ...config, id, storage, random: seededRandom(seed, id) });
    const m: Member = { id, node, storage, shown: '' };
    m.shown = stateLine(m);
    this.members.set(id, m);
  }

  /** Handles every Ready the member has, as a server would, and prints what happened. */
  private settle(m: Member): void {
    const lines: string[] = [];
    while (m.node.hasReady()) {
      const rd = m.node.ready();
      if (rd.snapshot) m.storage.applySnapshot(rd.snapshot);
      m.storage.append(rd.entries);
      if (rd.hardState) m.storage.setHardState(rd.hardState);
      for (const msg of rd.messages) lines.push(formatMessage(msg));
      this.queue.push(...rd.messages);
      if (rd.committedEntries.length > 0) lines.push(`${m.id} applied ${rd.committedEntries.map(formatEntry).join(' ')}`);
      for (const e of rd.committedEntries) {
        if (e.type !== EntryType.ConfChange) continue;
        lines.push(`${m.id} conf ${formatConf(m.node.applyConfChange(decodeConfChange(e.data)))}`);
      }
      for (const rs of rd.readStates) lines.push(`${m.id} read ctx=${formatBytes(rs.context)} index=${rs.index}`);
      m.node.advance(rd);
    }
    const state = stateLine(m);
    if (state !== m.shown) lines.unshift(state);
    m.shown = state;
    this.out.push(...lines);
  }

  /** Removes and returns the queued messages matching from= and to= (comma lists). */
  private take(a: Args): Message[] {
    const match = (key: string, value: string): boolean => !a.kv.has(key) || a.kv.get(key)!.split(',').includes(value);
    const taken: Message[] = [];
    this.queue = this.queue.filter((msg) => {
      const hit = match('from', String(msg.from)) && match('to', String(msg.to));
      if (hit) taken.push(msg);
      return !hit;
    });
    return taken;
  }

  private member(word: string | number | undefined): Member {
    const m = this.members.get(this.id(word));
    if (!m) throw new Error(`no member ${word}`);
    return m;
  }

  private id(word: string | number | undefined): NodeId {
    const id = Number(word);
    if (!Number.isInteger(id) || id <= 0) throw new Error(`not a member id: ${word}`);
    return id;
  }

  private ids(word: string | undefined): NodeId[] {
    return (word ?? '').split(',').map((w) => this.id(w));
  }
}

/** A whole number from the script, or `dflt` when absent. */
function count(word: string | undefined, dflt: number): number {
  if (word === undefined) return dflt;
  const n = Number(word);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a count: ${word}`);
  return n;
}

function stateLine(m: Member): string {
  const s = m.node.status();
  return `${m.id} is ${s.role} term=${s.term} vote=${formatId(s.vote)} lead=${formatId(s.lead)}`;
}

/**
 * The core's random source. Seed 0 draws 0 always, so every election timeout
 * is exactly `election` ticks; any other seed gives each member its own fixed
 * sequence (mulberry32), so timeouts differ but never from run to run.
 */
function seededRandom(seed: number, id: NodeId): () => number {
  if (seed === 0) return () => 0;
  let state = (seed * 1000 + id) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  };
}

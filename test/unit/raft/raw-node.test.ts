import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../../../node/raft/memory-storage.js';
import { ProposalDroppedError, Role } from '../../../node/raft/raft.js';
import { RawNode, type Ready } from '../../../node/raft/raw-node.js';
import { decodeConfChange } from '../../../node/raft/confchange.js';
import { EntryType, MessageType, type Message } from '../../../node/raft/types.js';
import { makeMessage } from '../../../node/raft/raft.js';

let seed = 1;
const random = (): number => {
  seed = (seed * 16807) % 2147483647;
  return seed / 2147483647;
};

/** Persists, applies and advances one Ready the way a server would. */
function handle(node: RawNode, storage: MemoryStorage, rd: Ready): void {
  if (rd.snapshot) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  for (const e of rd.committedEntries) if (e.type === EntryType.ConfChange) node.applyConfChange(decodeConfChange(e.data));
  node.advance(rd);
}

function drain(node: RawNode, storage: MemoryStorage): Ready[] {
  const out: Ready[] = [];
  while (node.hasReady()) {
    const rd = node.ready();
    handle(node, storage, rd);
    out.push(rd);
  }
  return out;
}

test('a single-member cluster elects itself and commits proposals in the same Ready', () => {
  const storage = MemoryStorage.bootstrap([1]);
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random });
  drain(node, storage); // applies the bootstrap conf change
  node.campaign();
  drain(node, storage);
  assert.equal(node.status().role, Role.Leader);
  node.propose(new TextEncoder().encode('hello'));
  const rd = node.ready();
  assert.equal(rd.entries.length, 1, 'the entry is handed over for persistence');
  assert.deepEqual(rd.committedEntries.map((e) => new TextDecoder().decode(e.data)), ['hello'], 'and is committed at once');
  assert.ok(rd.hardState && rd.hardState.commit === rd.entries[0]!.index);
  handle(node, storage, rd);
  assert.equal(node.hasReady(), false);
  assert.equal(node.status().applied, rd.entries[0]!.index);
});

test('a single-member leader answers ReadIndex immediately', () => {
  const storage = MemoryStorage.bootstrap([1]);
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random });
  drain(node, storage);
  node.campaign();
  drain(node, storage);
  node.readIndex(new Uint8Array([1, 2]));
  const rd = node.ready();
  assert.deepEqual(rd.readStates, [{ index: node.status().commit, context: new Uint8Array([1, 2]) }]);
});

test('a member with no leader refuses proposals and reads with ProposalDroppedError', () => {
  const storage = MemoryStorage.bootstrap([1, 2, 3]);
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random });
  drain(node, storage);
  assert.throws(() => node.propose(new Uint8Array([1])), ProposalDroppedError);
  assert.throws(() => node.readIndex(new Uint8Array([1])), /no leader/);
});

test('a campaign in a 3-member cluster sends pre-votes at the next term without changing its own term', () => {
  const storage = MemoryStorage.bootstrap([1, 2, 3]);
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random });
  drain(node, storage);
  node.campaign();
  const rd = node.ready();
  const votes = rd.messages.filter((m: Message) => m.type === MessageType.PreVote);
  assert.deepEqual(votes.map((m) => m.to).sort(), [2, 3]);
  assert.ok(votes.every((m) => m.term === 2));
  assert.equal(node.status().term, 1);
  assert.equal(node.status().role, Role.PreCandidate);
});

test('the election timeout is randomized within [electionTick, 2*electionTick)', () => {
  const storage = MemoryStorage.bootstrap([1, 2, 3]);
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random: () => 0.999 });
  drain(node, storage);
  let ticks = 0;
  while (node.status().role === Role.Follower && ticks < 100) {
    node.tick();
    ticks++;
  }
  assert.equal(ticks, 19);
});

test('local-only message types are refused from the network', () => {
  const storage = MemoryStorage.bootstrap([1, 2, 3]);
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random });
  assert.throws(() => node.step(makeMessage({ type: MessageType.Hup, from: 2, to: 1 })), /cannot come from the network/);
});

test('invalid configurations are refused', () => {
  const storage = MemoryStorage.bootstrap([1]);
  assert.throws(() => new RawNode({ id: 0, storage, electionTick: 10, heartbeatTick: 1, random }), /must not be 0/);
  assert.throws(() => new RawNode({ id: 1, storage, electionTick: 1, heartbeatTick: 1, random }), /greater than heartbeatTick/);
  assert.throws(
    () => new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random, readOnlyLeaseBased: true, checkQuorum: false }),
    /require checkQuorum/,
  );
});

test('status() shows the log bounds and, on the leader only, every member’s progress', () => {
  const storage = MemoryStorage.bootstrap([1]);
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random });
  drain(node, storage);
  assert.equal(node.status().progress.size, 0, 'a follower reports no progress');
  assert.equal(node.status().promotable, true);
  node.campaign();
  drain(node, storage);
  node.propose(new TextEncoder().encode('x'));
  drain(node, storage);
  const st = node.status();
  assert.equal(st.role, Role.Leader);
  assert.equal(node.role, Role.Leader);
  assert.equal(node.lead, 1);
  assert.equal(node.term, st.term);
  assert.equal(st.firstIndex, 1);
  assert.equal(st.lastIndex, st.commit);
  assert.equal(node.termAt(st.commit), st.term, 'the last entry is of the leader’s term');
  assert.equal(node.termAt(st.lastIndex + 1), undefined);
  assert.deepEqual([...st.progress], [[1, { match: st.lastIndex, next: st.lastIndex + 1, isLearner: false, recentActive: true }]]);
  assert.deepEqual(node.entries(st.lastIndex, st.lastIndex + 1)?.map((e) => new TextDecoder().decode(e.data)), ['x']);
  // A copy: changing it changes nothing in the core.
  (st.progress as Map<number, unknown>).clear();
  assert.equal(node.status().progress.size, 1);
});

test('a refused proposal says why with a typed reason', () => {
  const storage = MemoryStorage.bootstrap([1, 2, 3]);
  const node = new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 1, random });
  drain(node, storage);
  assert.throws(
    () => node.propose(new Uint8Array([1])),
    (err: unknown) => err instanceof ProposalDroppedError && err.reason === 'no leader' && err.message === 'raft: proposal dropped: no leader',
  );
});

test('finding 1: a TimeoutNow from a member that is not the leader does not start an election', () => {
  const storage = MemoryStorage.bootstrap([1, 2, 3]);
  const node = new RawNode({ id: 2, storage, electionTick: 10, heartbeatTick: 1, random });
  drain(node, storage);
  node.step(makeMessage({ type: MessageType.Heartbeat, from: 1, to: 2, term: 7 }));
  drain(node, storage);
  assert.equal(node.status().lead, 1);
  node.step(makeMessage({ type: MessageType.TimeoutNow, from: 3, to: 2, term: 7 }));
  drain(node, storage);
  assert.equal(node.status().term, 7, 'a forged TimeoutNow leaves the term alone');
  assert.equal(node.status().role, Role.Follower);
  node.step(makeMessage({ type: MessageType.TimeoutNow, from: 1, to: 2, term: 7 }));
  drain(node, storage);
  assert.equal(node.status().term, 8, 'the leader’s own TimeoutNow still hands leadership over');
});

test('a peer that answers every heartbeat stays recently active in status() right after the check-quorum reset; a silent one drops out', () => {
  // The membership checks (promote, add, remove) and the graceful stop's
  // choice of transferee read recentActive from status(): a peer must not
  // look inactive in the instant after CheckQuorum clears the flag.
  const ids = [1, 2, 3];
  const storages = new Map(ids.map((id) => [id, MemoryStorage.bootstrap(ids)]));
  const nodes = new Map(ids.map((id) => [id, new RawNode({ id, storage: storages.get(id)!, electionTick: 10, heartbeatTick: 1, random })]));
  const down = new Set<number>();
  const settle = (): void => {
    for (let moved = true; moved; ) {
      moved = false;
      for (const [id, node] of nodes) {
        while (node.hasReady()) {
          const rd = node.ready();
          handle(node, storages.get(id)!, rd);
          for (const m of rd.messages) {
            moved = true;
            if (!down.has(m.to) && !down.has(id)) nodes.get(m.to)!.step(m);
          }
        }
      }
    }
  };
  settle();
  const leader = nodes.get(1)!;
  leader.campaign();
  settle();
  assert.equal(leader.role, Role.Leader);
  // Tick to the check-quorum point without delivering anything after the last tick.
  for (let i = 0; i < 9; i++) {
    leader.tick();
    settle();
  }
  leader.tick(); // electionElapsed reaches the timeout: recentActive is cleared here
  for (const [id, pr] of leader.status().progress) assert.equal(pr.recentActive, true, `member ${id} answered every heartbeat`);
  settle();
  down.add(3);
  for (let i = 0; i < 20; i++) {
    leader.tick();
    settle();
  }
  assert.equal(leader.role, Role.Leader, 'two of three still make a quorum');
  const st = leader.status();
  assert.equal(st.progress.get(2)?.recentActive, true);
  assert.equal(st.progress.get(3)?.recentActive, false, 'silent for two check-quorum windows');
});

// Deliberately broken variants of the Raft core and the scripted situations
// that expose them. They exist to prove the simulator's checks have teeth: a
// check that passes a broken core proves nothing about the real one.
import { Raft, type RaftConfig } from '../../node/raft/raft.js';
import { MessageType } from '../../node/raft/types.js';
import { Simulation } from './cluster.js';

/** Commits any entry a quorum holds, even from an earlier term (the Figure 8 bug). */
export class CommitByCountingRaft extends Raft {
  protected override maybeCommit(): boolean {
    const index = this.quorumMatchIndex();
    if (index <= this.log.committed) return false;
    this.log.commitTo(index);
    return true;
  }
}

/** Grants votes without checking that the candidate's log is up to date. */
export class NoLogCheckRaft extends Raft {
  protected override candidateLogIsUpToDate(): boolean {
    return true;
  }
}

export const createCommitByCounting = (c: RaftConfig): Raft => new CommitByCountingRaft(c);
export const createNoLogCheck = (c: RaftConfig): Raft => new NoLogCheckRaft(c);

/** Elections happen only when a script asks for them. */
const SCRIPTED = { preVote: false, checkQuorum: false, electionTick: 1_000_000, heartbeatTick: 1 };

/**
 * Figure 8 of the Raft paper, on 5 members. An entry of term 2 reaches a
 * majority only while a later term's leader (term 4) is replicating it; a
 * member holding a term-3 entry at the same index can still win an election
 * and overwrite it. A correct core never counts that entry as committed.
 */
export function figure8(createRaft?: (c: RaftConfig) => Raft): { sim: Simulation; contestedIndex: number } {
  const sim = new Simulation({ seed: 8, voters: 5, ...SCRIPTED, maxSizePerMsg: 1, createRaft });
  const lastIndex = (id: number): number => sim.members.get(id)!.raw!.status().lastIndex;
  sim.runFor(50);
  // (a) S1 leads term 2 and replicates one entry to S2 only.
  sim.campaign(1);
  sim.runFor(100);
  sim.partition([1, 2], [3, 4, 5]);
  sim.proposeRaw(1, { op: 'put', key: 'fig8', value: 'term-2 entry' });
  sim.runFor(100);
  const contestedIndex = lastIndex(2);
  // (b) S1 crashes; S5 wins term 3 with S3 and S4 and appends at the same
  // index, but its appends never leave it.
  sim.crash(1);
  sim.heal();
  sim.partition([3, 4, 5], [1, 2]);
  sim.dropFilter = (m) => m.from === 5 && m.type === MessageType.App && m.entries.length > 0;
  sim.campaign(5);
  sim.runFor(100);
  // (c) S5 crashes; S1 restarts and wins term 4 with S2 and S3, then
  // replicates the term-2 entry to S3, but its own term-4 entry only to S2:
  // the term-2 entry is on a majority, the term-4 entry is not.
  sim.crash(5);
  sim.heal();
  sim.partition([1, 2, 3], [4, 5]);
  // (S3 first rejects an append it cannot attach, so S1 backs off and sends
  // the term-2 entry; only the term-4 entry on top of it gets lost.)
  sim.dropFilter = (m) =>
    m.from === 1 && m.to === 3 && m.type === MessageType.App && m.entries.some((e) => e.term > 2) && lastIndex(3) >= contestedIndex;
  sim.restart(1);
  sim.runFor(20);
  sim.campaign(1); // term 3: S3 already voted for S5 in term 3
  sim.runFor(100);
  sim.campaign(1); // term 4
  sim.runFor(200);
  // (d) S1 crashes; S5 restarts and, its last entry being of term 3, wins
  // term 5 with S3 and S4, overwriting the term-2 entry.
  sim.crash(1);
  sim.heal();
  sim.dropFilter = undefined;
  sim.restart(5);
  sim.runFor(20);
  sim.campaign(5); // term 4: S2 and S3 voted for S1
  sim.runFor(100);
  sim.campaign(5); // term 5
  sim.runFor(300);
  return { sim, contestedIndex };
}

/**
 * A member misses committed writes while partitioned; the leader then
 * crashes and the stale member campaigns. The election restriction must
 * make the up-to-date member refuse its vote.
 */
export function staleCandidate(createRaft?: (c: RaftConfig) => Raft): Simulation {
  const sim = new Simulation({ seed: 9, voters: 3, ...SCRIPTED, createRaft });
  sim.runFor(50);
  sim.campaign(1);
  sim.runFor(100);
  sim.isolate(3);
  for (let i = 0; i < 5; i++) sim.proposeRaw(1, { op: 'put', key: `w${i}`, value: 'committed' });
  sim.runFor(200);
  sim.crash(1);
  sim.heal();
  sim.campaign(3);
  sim.runFor(300);
  return sim;
}

// The Maintenance API's member-level operations: status, hashes, moving the
// leader, alarms, defragmenting and the backup stream.
import type { HashKvResult } from '../mvcc/types.js';
import { backupLength, encodeBackupStream } from '../backup/backup-file.js';
import type { Alarm, AlarmType } from './alarms.js';
import { ServerError } from './errors.js';
import type { ReplicatedState } from './apply.js';
import type { Proposer } from './proposals.js';
import type { RaftNode } from './raft-node.js';
import { STATE_SNAPSHOT_VERSION, captureState } from './state-snapshot.js';

/** Status fields of etcd's StatusResponse, without the header. */
export interface MemberStatus {
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  leader: number;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  isLearner: boolean;
}

/** Encoder output chunks for a backup stream: what the stream holds at once is about two of them. */
const BACKUP_CHUNK_BYTES = 1024 * 1024;

/** A backup being streamed: its total size, known before its bytes. */
export interface BackupStream {
  size: number;
  /** Each chunk is valid only until the next is asked for (the encoder fills its memory again). */
  chunks: AsyncIterable<Uint8Array>;
}

/** What Defragment did. */
export interface DefragmentResult {
  /** The index of the snapshot it took, if anything was applied since the last one. */
  snapshotIndex?: number;
  snapshotBytes?: number;
}

export interface MaintenanceOptions {
  memberId: number;
  state: ReplicatedState;
  node: RaftNode;
  proposer: Proposer;
  requestTimeoutMs: number;
}

export class Maintenance {
  constructor(private readonly opts: MaintenanceOptions) {}

  status(version: string): MemberStatus {
    const { memberId, node, state } = this.opts;
    const raft = node.status();
    return {
      version,
      dbSize: state.store.sizeBytes,
      dbSizeInUse: state.store.sizeBytes,
      leader: raft.lead,
      raftIndex: raft.commit,
      raftTerm: raft.term,
      raftAppliedIndex: node.applied,
      errors: state.alarms.list().map((a) => `memberID:${a.memberId.toString(16)} alarm:${a.alarm}`),
      isLearner: state.membership.get(memberId)?.isLearner ?? false,
    };
  }

  hashKv(revision: number): HashKvResult {
    return this.opts.state.store.hash(revision);
  }

  async moveLeader(target: number): Promise<void> {
    const { node, memberId, state } = this.opts;
    if (!node.isLeader) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: not leader');
    const member = state.membership.get(target);
    if (!member) throw new ServerError('NOT_FOUND', 'etcdserver: bad leader transferee');
    if (member.isLearner) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: bad leader transferee');
    if (target === memberId) return;
    node.transferLeadership(target);
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      if (node.leaderId === target) return;
    }
    throw new ServerError('DEADLINE_EXCEEDED', 'etcdserver: request timed out, leader transfer took too long');
  }

  alarmList(): Alarm[] {
    return this.opts.state.alarms.list();
  }

  async alarmDeactivate(memberId: number, alarm: AlarmType): Promise<void> {
    await this.opts.proposer.propose({ alarm: { action: 'deactivate', memberId, alarm } });
  }

  /**
   * What defragmenting means here: this member's state lives in memory and
   * on disk as a snapshot plus the WAL after it, so it snapshots its state
   * now instead of after --snapshot-count entries. Once that snapshot is
   * durable, older snapshot files beyond --max-snapshots and the WAL
   * segments it covers are deleted, so deleted and compacted data stops
   * taking disk space. Like etcd's, it concerns this member only.
   */
  async defragment(): Promise<DefragmentResult> {
    try {
      const saved = await this.opts.node.snapshotNow();
      return saved ? { snapshotIndex: saved.index, snapshotBytes: saved.bytes } : {};
    } catch (err) {
      if (err instanceof ServerError) throw err;
      throw new ServerError('UNAVAILABLE', `etcdserver: defragment failed: ${(err as Error).message}`);
    }
  }

  /**
   * This member's whole state at the applied index, in the backup format,
   * captured now and encoded a slice at a time as the consumer pulls chunks:
   * the caller bounds memory by pulling only as fast as it can send. The
   * state is sized first (the backup header states it), a pass that costs
   * less than encoding and holds no bytes.
   */
  async backup(): Promise<BackupStream> {
    const { store, membership, alarms, auth } = this.opts.state;
    const { node } = this.opts;
    const point = { revision: store.revision, compactRevision: store.compactRevision, raftIndex: node.applied, raftTerm: node.termAt(node.applied) ?? node.status().term };
    const state = captureState(store, { version: STATE_SNAPSHOT_VERSION, membership: membership.toJSON(), alarms: alarms.toJSON(), auth: auth.toJSON(), point }, BACKUP_CHUNK_BYTES, true);
    let payloadSize: number;
    try {
      payloadSize = await state.size();
    } catch (err) {
      throw new ServerError('UNAVAILABLE', `etcdserver: snapshot failed: ${(err as Error).message}`);
    }
    return { size: backupLength(payloadSize), chunks: encodeBackupStream(payloadSize, state.chunks()) };
  }
}

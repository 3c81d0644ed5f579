// One backup attempt: choose the member to copy, stream its
// Maintenance.Snapshot into the bucket (hashing and counting on the way),
// then write the manifest. The manifest goes last, so a directory without
// one is an unfinished attempt and nothing restores from it.
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { SnapshotPointTap } from '../../contract/index.js';
import type { ClusterMember, EndpointStatus } from '../membership/client.js';
import type { BackupKeys } from './layout.js';
import { encodeManifest, MANIFEST_FORMAT_VERSION, type BackupManifest } from './manifest.js';
import type { ObjectStore } from './object-store.js';

/** What a backup needs of the cluster's own API (ClusterClient has it). */
export interface SnapshotSource {
  memberList(): Promise<ClusterMember[]>;
  status(endpoint: string): Promise<EndpointStatus>;
  snapshot(endpoint: string, signal?: AbortSignal): Readable;
  hashKv(endpoint: string, revision: number): Promise<{ hash: number; compactRevision: number; revision: number }>;
}

/** A backup that cannot be taken now; `transient` says whether a later attempt may succeed. */
export class BackupError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface ChosenMember {
  endpoint: string;
  status: EndpointStatus;
}

/** A follower this close to the leader's commit index counts as caught up. */
export const CAUGHT_UP_ENTRIES = 1000;

/**
 * The member to copy: a caught-up follower first (the leader keeps serving
 * writes undisturbed), the leader otherwise. Learners, members with alarms
 * other than NOSPACE and members that know no leader are passed over.
 */
export function chooseMember(statuses: EndpointStatus[]): ChosenMember | undefined {
  const healthy = statuses.filter((s) => !s.isLearner && s.leaderId !== '0' && s.errors.every((e) => e.includes('NOSPACE')));
  const leader = healthy.find((s) => s.leaderId === s.memberId);
  if (!leader) return undefined;
  const followers = healthy
    .filter((s) => s !== leader && s.leaderId === leader.memberId && s.raftAppliedIndex + CAUGHT_UP_ENTRIES >= leader.raftIndex)
    .sort((a, b) => b.raftAppliedIndex - a.raftAppliedIndex);
  const pick = followers[0] ?? leader;
  return { endpoint: pick.endpoint, status: pick };
}

export interface TakeBackupInput {
  source: SnapshotSource;
  endpoints: string[];
  store: ObjectStore;
  keys: BackupKeys;
  cluster: { name: string; namespace: string };
  backupName: string;
  startedAt: Date;
  now?: () => Date;
  signal?: AbortSignal;
  log: Logger;
}

export async function takeBackup(input: TakeBackupInput): Promise<BackupManifest> {
  const { source, store, keys, log } = input;
  const now = input.now ?? (() => new Date());
  const statuses = (await Promise.allSettled(input.endpoints.map((ep) => source.status(ep)))).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const chosen = chooseMember(statuses);
  if (!chosen) throw new BackupError('NoHealthyMember', `no healthy member with a leader among ${input.endpoints.length} endpoints (${statuses.length} answered)`, true);
  const members = await source.memberList().catch(() => [] as ClusterMember[]);
  const memberName = members.find((m) => m.id === chosen.status.memberId)?.name || chosen.endpoint;

  // A previous attempt (this process, or an operator that died) may have left parts or a partial object.
  const aborted = await store.abortIncompleteUploads(keys.dir, [keys.snapshot]);
  const leftovers = await store.list(keys.dir);
  if (aborted > 0 || leftovers.length > 0) {
    log.info({ aborted, leftovers }, 'cleaning up an earlier attempt');
    await store.deleteKeys(leftovers);
  }

  const sha = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sha.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const tap = new SnapshotPointTap();
  const snapshot = source.snapshot(chosen.endpoint, input.signal);
  log.info({ member: memberName, endpoint: chosen.endpoint, key: keys.snapshot }, 'streaming snapshot');
  // Whichever side fails first is the cause; the other side's failure is its echo.
  let first: 'stream' | 'upload' | undefined;
  const piping = pipeline(snapshot, tap, counter).catch((err: unknown) => {
    first ??= 'stream';
    throw err;
  });
  const uploading = store.upload(keys.snapshot, counter, input.signal).catch((err: unknown) => {
    first ??= 'upload';
    throw err;
  });
  const [streamed, uploaded] = await Promise.allSettled([piping, uploading]);
  if (streamed.status === 'rejected' || uploaded.status === 'rejected') {
    snapshot.destroy();
    counter.destroy();
    if (first === 'upload' && uploaded.status === 'rejected') throw uploaded.reason;
    const reason = streamed.status === 'rejected' ? streamed.reason : (uploaded as PromiseRejectedResult).reason;
    throw new BackupError('SnapshotFailed', `snapshot from ${memberName}: ${(reason as Error).message}`, true);
  }
  const point = await tap.point;
  const hashKv = await source.hashKv(chosen.endpoint, point.revision).then(
    (h) => h.hash,
    (err: unknown) => {
      // Compacted past the snapshot already: the backup is still good, only unverifiable by hash.
      log.warn({ err, revision: point.revision }, 'HashKV at the snapshot revision failed; the manifest records no hash');
      return undefined;
    },
  );
  const manifest: BackupManifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    cluster: { name: input.cluster.name, namespace: input.cluster.namespace, id: BigInt(chosen.status.clusterId).toString(16) },
    backup: input.backupName,
    kvorumVersion: chosen.status.version,
    member: { name: memberName, id: BigInt(chosen.status.memberId).toString(16) },
    revision: point.revision,
    compactRevision: point.compactRevision,
    raftIndex: point.raftIndex,
    raftTerm: point.raftTerm,
    ...(hashKv !== undefined && { hashKv }),
    sha256: sha.digest('hex'),
    size,
    snapshotKey: keys.snapshot,
    startedAt: input.startedAt.toISOString(),
    completedAt: now().toISOString(),
  };
  await store.putText(keys.manifest, encodeManifest(manifest));
  return manifest;
}

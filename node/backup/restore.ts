// Restoring a backup file into a fresh data dir, as `etcdutl snapshot
// restore` does: the key-value state (revisions included) is kept, the member
// table is replaced by the new --initial-cluster, alarms are dropped, and the
// data dir is written as if that state were the Raft snapshot at index n (the
// number of members), term 1, with commit = n. Every member of the new cluster
// runs the restore with the same file and flags, so all of them compute the
// same member and cluster IDs and start from the same state.
//
// A member started on the result with --initial-cluster-state=new does not
// bootstrap (the data dir is not empty) and loads the restored snapshot.
//
// Crash safety: everything is written into a hidden directory inside the data
// dir and moved into place at the end, wal/ and snap/ first and the
// data-format file last. A crash before the moves leaves only the hidden
// directory (cleaned up by the next restore); a crash between them leaves a
// dir that the storage layer refuses to open ("has wal but no meta.json"),
// never one that silently starts empty.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { encodeSnapshot as encodeMvccSnapshot, decodeSnapshot as decodeMvccSnapshot } from '../mvcc/snapshot.js';
import { MvccStore } from '../mvcc/store.js';
import { foundingIdentity } from '../server/member.js';
import { Membership } from '../server/membership.js';
import { encodeStateSnapshot } from '../server/state-snapshot.js';
import { DiskStorage } from '../storage/raft-storage.js';
import { BackupFileError, readBackupFile, restoreMvcc } from './backup-file.js';

export interface RestoreOptions {
  snapshotPath: string;
  dataDir: string;
  /** This member's name; it must appear in `initialCluster`. */
  name: string;
  initialCluster: { name: string; peerUrls: string[] }[];
  initialClusterToken: string;
  /** This member's peer URLs; they must be the ones `initialCluster` gives it. */
  initialAdvertisePeerUrls: string[];
  /** Do not verify the file's checksum (its envelope must still be well formed). */
  skipHashCheck?: boolean;
  logger?: Logger;
}

export interface RestoreResult {
  memberId: number;
  clusterId: number;
  /** The key-value revision the restored member starts at. */
  revision: number;
}

/** `--initial-cluster` (NAME=URL,...) as restore options take it; a name may appear with several URLs. */
export function parseInitialCluster(text: string): RestoreOptions['initialCluster'] {
  const cluster = new Map<string, string[]>();
  for (const part of text.split(',')) {
    const [n, url] = part.split('=');
    if (!n || !url) throw new Error(`--initial-cluster entry "${part}" is not NAME=URL`);
    cluster.set(n, [...(cluster.get(n) ?? []), url.replace(/\/+$/, '')]);
  }
  return [...cluster].map(([n, peerUrls]) => ({ name: n, peerUrls }));
}

/** A restore that cannot go ahead; nothing was written. */
export class RestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreError';
  }
}

/** Entries a fresh volume may hold that do not make the data dir "in use". */
const HARMLESS_ENTRIES = new Set(['lost+found']);
const STAGING_PREFIX = '.kvorum-restore-';
/** Moved into place in this order; the data-format file (what marks a dir as initialised) comes last. */
const STORAGE_ENTRIES = ['wal', 'snap', 'meta.json'];

export async function restoreSnapshot(opts: RestoreOptions): Promise<RestoreResult> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  checkCluster(opts);
  const { payload } = await readBackupFile(opts.snapshotPath, { skipHashCheck: opts.skipHashCheck ?? false });
  const subject = `snapshot file ${opts.snapshotPath}`;
  const source = restoreMvcc(payload, subject);

  const { memberId, clusterId, ids } = foundingIdentity({ name: opts.name, initialCluster: opts.initialCluster, clusterToken: opts.initialClusterToken });
  const n = opts.initialCluster.length;
  const data = restoredPayload(source, opts.initialCluster, ids, n, subject);
  const voters = [...ids.values()].sort((a, b) => a - b);

  await prepareDataDir(opts.dataDir);
  const staging = join(opts.dataDir, STAGING_PREFIX + randomBytes(6).toString('hex'));
  try {
    const storage = await DiskStorage.open(staging, { memberId, clusterId, logger });
    try {
      if (!storage.created) throw new RestoreError(`restore: staging dir ${staging} was not empty`);
      await storage.saveSnapshot({ meta: { index: n, term: 1, conf: { voters, learners: [] } }, data });
      await storage.save({ term: 1, vote: 0, commit: n }, []);
    } finally {
      await storage.close();
    }
    for (const entry of STORAGE_ENTRIES) await rename(join(staging, entry), join(opts.dataDir, entry));
    await syncDir(opts.dataDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  logger.info(
    { dataDir: opts.dataDir, member: memberId.toString(16), cluster: clusterId.toString(16), revision: source.revision, members: n },
    'restored snapshot',
  );
  return { memberId, clusterId, revision: source.revision };
}

/** The same checks `kvorum node` makes on --initial-cluster, repeated for callers that build options by hand. */
function checkCluster(opts: RestoreOptions): void {
  if (opts.initialCluster.length === 0) throw new RestoreError('restore: the initial cluster has no members');
  if (opts.initialClusterToken === '') throw new RestoreError('restore: the initial cluster token must not be empty');
  const names = new Set<string>();
  const urls = new Set<string>();
  for (const m of opts.initialCluster) {
    if (m.name === '') throw new RestoreError('restore: a member of the initial cluster has an empty name');
    if (names.has(m.name)) throw new RestoreError(`restore: the initial cluster lists "${m.name}" twice`);
    names.add(m.name);
    if (m.peerUrls.length === 0) throw new RestoreError(`restore: member "${m.name}" of the initial cluster has no peer URLs`);
    for (const u of m.peerUrls) {
      if (urls.has(u)) throw new RestoreError(`restore: peer URL ${u} appears twice in the initial cluster`);
      urls.add(u);
    }
  }
  const self = opts.initialCluster.find((m) => m.name === opts.name);
  if (!self) throw new RestoreError(`restore: the initial cluster has no member named "${opts.name}"`);
  const mine = [...opts.initialAdvertisePeerUrls].sort();
  const listed = [...self.peerUrls].sort();
  if (mine.length !== listed.length || mine.some((u, i) => u !== listed[i])) {
    throw new RestoreError(
      `restore: the initial cluster gives "${opts.name}" the peer URLs ${listed.join(',')}, but its advertised peer URLs are ${mine.join(',')}`,
    );
  }
}

/**
 * The state snapshot the new cluster starts from: the source's key-value
 * state with its applied index moved to `index` (the source's index means
 * nothing in the new log, and a larger one would make the store skip the new
 * cluster's first entries), the new founding members, and no alarms.
 */
function restoredPayload(
  source: MvccStore,
  cluster: { name: string; peerUrls: string[] }[],
  ids: Map<string, number>,
  index: number,
  subject: string,
): Uint8Array {
  let mvccBytes: Uint8Array;
  try {
    const content = decodeMvccSnapshot(source.snapshot());
    mvccBytes = encodeMvccSnapshot({ ...content, appliedIndex: index });
  } catch (err) {
    throw new BackupFileError(subject, `holds key-value state that cannot be re-encoded: ${(err as Error).message}`);
  }
  const store = MvccStore.restore(mvccBytes);
  const membership = new Membership();
  for (const m of cluster) membership.add({ id: ids.get(m.name)!, name: m.name, peerUrls: [...m.peerUrls], clientUrls: [], isLearner: false });
  return encodeStateSnapshot(store, { membership: membership.toJSON(), alarms: [] });
}

/** Creates the data dir if needed and refuses one that already holds anything. */
async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const entries = await readdir(dataDir);
  // Leftovers of a restore that crashed before moving anything into place.
  for (const e of entries.filter((e) => e.startsWith(STAGING_PREFIX))) await rm(join(dataDir, e), { recursive: true, force: true });
  const inUse = entries.filter((e) => !e.startsWith(STAGING_PREFIX) && !HARMLESS_ENTRIES.has(e));
  if (inUse.length > 0) {
    throw new RestoreError(
      `restore: data dir ${dataDir} is not empty (it has ${inUse.slice(0, 5).join(', ')}${inUse.length > 5 ? ', ...' : ''}); ` +
        'restore only into a new or empty directory',
    );
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

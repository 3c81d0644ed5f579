// The manifest stored beside each snapshot object: enough to restore and
// verify the backup without the Kubernetes objects that made it. JSON, with
// an explicit format version; readers refuse versions they do not know.

export const MANIFEST_FORMAT_VERSION = 1;

export interface BackupManifest {
  formatVersion: 1;
  cluster: { name: string; namespace: string; /** Raft cluster ID, hexadecimal. */ id: string };
  /** The KVBackup's name. */
  backup: string;
  /** Kvorum version of the member that served the snapshot. */
  kvorumVersion: string;
  member: { name: string; /** hexadecimal */ id: string };
  revision: number;
  compactRevision: number;
  raftIndex: number;
  raftTerm: number;
  /** HashKV of the serving member at `revision`; a restored cluster must report the same. */
  hashKv?: number;
  /** SHA-256 (hex) and size in bytes of the snapshot object. */
  sha256: string;
  size: number;
  /** The snapshot object's key, relative to the bucket. */
  snapshotKey: string;
  startedAt: string;
  completedAt: string;
}

export class BackupManifestError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`backup manifest: ${field} ${problem}`);
    this.name = 'BackupManifestError';
  }
}

export function encodeManifest(m: BackupManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

export function parseManifest(text: string): BackupManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BackupManifestError('(document)', `is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw new BackupManifestError('(document)', 'is not an object');
  if (raw.formatVersion !== MANIFEST_FORMAT_VERSION) throw new BackupManifestError('formatVersion', `is ${JSON.stringify(raw.formatVersion)}; this operator reads ${MANIFEST_FORMAT_VERSION}`);
  const cluster = object(raw, 'cluster');
  const member = object(raw, 'member');
  const m: BackupManifest = {
    formatVersion: 1,
    cluster: { name: str(cluster, 'name', 'cluster.'), namespace: str(cluster, 'namespace', 'cluster.'), id: str(cluster, 'id', 'cluster.') },
    backup: str(raw, 'backup'),
    kvorumVersion: str(raw, 'kvorumVersion'),
    member: { name: str(member, 'name', 'member.'), id: str(member, 'id', 'member.') },
    revision: count(raw, 'revision'),
    compactRevision: count(raw, 'compactRevision'),
    raftIndex: count(raw, 'raftIndex'),
    raftTerm: count(raw, 'raftTerm'),
    sha256: str(raw, 'sha256'),
    size: count(raw, 'size'),
    snapshotKey: str(raw, 'snapshotKey'),
    startedAt: str(raw, 'startedAt'),
    completedAt: str(raw, 'completedAt'),
  };
  if (raw.hashKv !== undefined) m.hashKv = count(raw, 'hashKv');
  if (!/^[0-9a-f]{64}$/.test(m.sha256)) throw new BackupManifestError('sha256', 'is not 64 lowercase hex digits');
  return m;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function object(o: Obj, field: string): Obj {
  const v = o[field];
  if (!isObject(v)) throw new BackupManifestError(field, 'is missing or not an object');
  return v;
}

function str(o: Obj, field: string, path = ''): string {
  const v = o[field];
  if (typeof v !== 'string' || v === '') throw new BackupManifestError(`${path}${field}`, 'is missing or not a non-empty string');
  return v;
}

function count(o: Obj, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new BackupManifestError(field, 'is missing or not a non-negative integer');
  return v;
}

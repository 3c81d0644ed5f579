// Where a backup's objects live in the bucket. The layout is part of the
// backup format: a cluster can be restored from the bucket alone, so it is
// documented in the README and never changes within a format version.
//
//   <prefix>/<namespace>/<cluster>/<backup>/snapshot.kvsnap   the Maintenance.Snapshot stream, as the member sent it
//   <prefix>/<namespace>/<cluster>/<backup>/manifest.json     what it is (manifest.ts), written after the snapshot
//
// A directory without a manifest is an unfinished backup and is never restored from.

export interface BackupKeys {
  /** The backup's directory, ending in "/". */
  dir: string;
  snapshot: string;
  manifest: string;
}

export const SNAPSHOT_OBJECT = 'snapshot.kvsnap';
export const MANIFEST_OBJECT = 'manifest.json';

/** The prefix with no leading slash and one trailing slash, or "" for none. */
export function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}

export function clusterDir(prefix: string | undefined, namespace: string, cluster: string): string {
  return `${normalizePrefix(prefix)}${namespace}/${cluster}/`;
}

export function backupKeys(prefix: string | undefined, namespace: string, cluster: string, backupName: string): BackupKeys {
  const dir = `${clusterDir(prefix, namespace, cluster)}${backupName}/`;
  return { dir, snapshot: `${dir}${SNAPSHOT_OBJECT}`, manifest: `${dir}${MANIFEST_OBJECT}` };
}

export const s3Url = (bucket: string, key: string): string => `s3://${bucket}/${key}`;

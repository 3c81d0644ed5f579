// Resolves spec.bootstrap.fromBackup into the snapshot object to restore
// from and its manifest: a KVBackup of the same namespace (its status says
// where its objects are), or an object-store location (a backup directory,
// its manifest or its snapshot key), so a cluster can be restored from the
// bucket alone.
import type { BootstrapSpec, KVBackup, KVCluster } from '../api/index.js';
import { MANIFEST_OBJECT, SNAPSHOT_OBJECT, backupKeys, s3Url } from './layout.js';
import { BackupManifestError, parseManifest, type BackupManifest } from './manifest.js';
import { ObjectStoreError, type ObjectStore, type S3Credentials } from './object-store.js';
import { BackupError } from './take-backup.js';
import type { ObjectStoreDestination, CredentialsSecretRef } from '../api/index.js';

export interface RestoreSource {
  target: { destination: ObjectStoreDestination; credentialsSecret?: CredentialsSecretRef };
  snapshotKey: string;
  manifest: BackupManifest;
  backup?: string;
}

export interface RestoreSourceDeps {
  getBackup(namespace: string, name: string): KVBackup | undefined;
  credentials(namespace: string, ref: CredentialsSecretRef | undefined): Promise<S3Credentials>;
  objectStore(destination: ObjectStoreDestination, credentials: S3Credentials): ObjectStore;
}

type FromBackup = NonNullable<BootstrapSpec['fromBackup']>;

/** The manifest's key for a location that names a backup directory, its manifest or its snapshot. */
export function manifestKeyOf(key: string): string {
  if (key.endsWith(`/${MANIFEST_OBJECT}`) || key === MANIFEST_OBJECT) return key;
  if (key.endsWith(`/${SNAPSHOT_OBJECT}`)) return key.slice(0, -SNAPSHOT_OBJECT.length) + MANIFEST_OBJECT;
  return `${key.replace(/\/+$/, '')}/${MANIFEST_OBJECT}`;
}

export async function resolveRestoreSource(cluster: KVCluster, from: FromBackup, deps: RestoreSourceDeps): Promise<RestoreSource> {
  const ns = cluster.metadata.namespace ?? '';
  let target: RestoreSource['target'];
  let manifestKey: string;
  let backup: string | undefined;
  if (from.backupName) {
    const b = deps.getBackup(ns, from.backupName);
    if (!b) throw new BackupError('BackupNotFound', `KVBackup ${ns}/${from.backupName} not found`, true);
    if (b.status?.phase !== 'Completed' || !b.status.target) throw new BackupError('BackupNotCompleted', `KVBackup ${ns}/${from.backupName} is ${b.status?.phase ?? 'Pending'}, not Completed`, true);
    target = b.status.target;
    manifestKey = backupKeys(target.destination.prefix, ns, b.spec.cluster, from.backupName).manifest;
    backup = from.backupName;
  } else if (from.location) {
    const { key, credentialsSecret, ...destination } = from.location;
    target = { destination, ...(credentialsSecret && { credentialsSecret }) };
    manifestKey = manifestKeyOf(key);
  } else {
    throw new BackupError('InvalidBootstrap', 'spec.bootstrap.fromBackup needs backupName or location', false);
  }
  const where = s3Url(target.destination.bucket, manifestKey);
  const store = deps.objectStore(target.destination, await deps.credentials(ns, target.credentialsSecret));
  let manifest: BackupManifest;
  try {
    manifest = parseManifest(await store.getText(manifestKey));
  } catch (err) {
    if (err instanceof BackupManifestError) throw new BackupError('BackupManifestInvalid', `${where}: ${err.message}`, false);
    if (err instanceof ObjectStoreError) {
      const reason = err.reason === 'ObjectNotFound' ? 'BackupNotFound' : err.reason;
      throw new BackupError(reason, err.reason === 'ObjectNotFound' ? `${where}: no such object (not a completed backup?)` : err.message, err.transient);
    }
    throw err;
  }
  return { target, snapshotKey: manifest.snapshotKey, manifest, ...(backup && { backup }) };
}

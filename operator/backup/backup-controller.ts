// Reconciles KVBackups: one attempt at a time per cluster, run in the
// background (a snapshot can take minutes; the worker does not wait), with
// retries and back-off for transient failures, a deadline, and a finalizer
// that deletes the objects with the KVBackup unless its policy says Retain.
//
// Every decision is made from the KVBackup's status, so an operator that
// takes over after a crash continues: a Running backup with no attempt in
// this process is started again (the earlier attempt's parts are aborted and
// its partial object deleted before the new one streams).
import type { Logger } from 'pino';
import { API_VERSION, FINALIZERS, KINDS, type Condition, type KVBackup, type KVBackupStatus, type KVCluster, type ObjectStoreDestination } from '../api/index.js';
import type { EventRecorder } from '../kube/events.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import type { OperatorMetrics } from '../runtime/metrics.js';
import type { ReconcileResult } from '../runtime/controller.js';
import { mergeConditions } from '../cluster/status.js';
import { readCredentials } from './credentials.js';
import { backupKeys, s3Url, type BackupKeys } from './layout.js';
import type { BackupManifest } from './manifest.js';
import type { ObjectStore, S3Credentials } from './object-store.js';
import { BackupError, takeBackup, type SnapshotSource } from './take-backup.js';

export const DEFAULT_DEADLINE_SECONDS = 1800;
export const MAX_ATTEMPTS = 5;

/** How the operator reaches a cluster's members (the cluster reconciler knows). */
export interface ClusterAccess {
  endpoints: string[];
  source: SnapshotSource;
  /** Releases the connections when the attempt is over. */
  close(): void;
}

export interface BackupControllerDeps {
  client: Pick<KubeClient, 'get' | 'mergePatch' | 'applyStatus'>;
  getCluster: (namespace: string, name: string) => KVCluster | undefined;
  /** KVBackups of a cluster, from the cache. */
  backupsOf: (namespace: string, cluster: string) => KVBackup[];
  access: (namespace: string, cluster: string) => ClusterAccess | undefined;
  objectStore: (destination: ObjectStoreDestination, credentials: S3Credentials) => ObjectStore;
  /** Puts the key back in the work queue after `ms`. */
  requeue: (key: string, ms: number) => void;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  now?: () => Date;
  /** First retry delay; doubles per attempt. */
  retryBaseMs?: number;
}

const terminal = (b: KVBackup): boolean => b.status?.phase === 'Completed' || b.status?.phase === 'Failed';
const iso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');

export class BackupController {
  /** Attempts running in this process, by backup key. */
  private readonly running = new Map<string, AbortController>();
  /** Clusters with an attempt running in this process (at most one each). */
  private readonly busyClusters = new Set<string>();
  private readonly now: () => Date;

  constructor(private readonly deps: BackupControllerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [ns, name] = key.split('/') as [string, string];
    // A fresh read: the cache may lag behind the status this process just wrote.
    const backup = await this.deps.client.get<KVBackup & KubeObject>(RESOURCES.kvBackup, ns, name);
    if (!backup) {
      this.running.get(key)?.abort();
      return {};
    }
    if (backup.metadata.deletionTimestamp) return this.finalize(key, backup);
    if (!backup.metadata.finalizers?.includes(FINALIZERS.backup)) {
      await this.deps.client.mergePatch(RESOURCES.kvBackup, ns, name, { metadata: { finalizers: [...(backup.metadata.finalizers ?? []), FINALIZERS.backup] } });
    }
    if (terminal(backup) || this.running.has(key)) return {};

    const now = this.now();
    const retryAt = backup.status?.nextAttemptAt ? Date.parse(backup.status.nextAttemptAt) : 0;
    if (retryAt > now.getTime()) return { requeueAfterMs: retryAt - now.getTime() };
    const cluster = this.deps.getCluster(ns, backup.spec.cluster);
    const startedAt = backup.status?.startedAt ? new Date(backup.status.startedAt) : undefined;
    const deadlineMs = (backup.spec.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS) * 1000;
    const since = startedAt ?? new Date(backup.metadata.creationTimestamp ?? now.toISOString());
    if (now.getTime() - since.getTime() > deadlineMs) {
      const last = backup.status?.error ? `; last error: ${backup.status.error}` : '';
      return this.fail(backup, backup.status?.reason ?? 'DeadlineExceeded', `not completed within ${deadlineMs / 1000}s${last}`);
    }
    if (!cluster) return this.pending(backup, 'ClusterNotFound', `KVCluster ${ns}/${backup.spec.cluster} not found`);
    const target = backup.status?.target ?? resolveTarget(backup, cluster);
    if (!target) return this.fail(backup, 'NoDestination', 'no destination: set spec.destination or the cluster\'s spec.backup.destination');

    const clusterKey = `${ns}/${backup.spec.cluster}`;
    const other = this.deps.backupsOf(ns, backup.spec.cluster).find((b) => b.metadata.name !== name && b.status?.phase === 'Running');
    if (this.busyClusters.has(clusterKey) || other) {
      return this.pending(backup, 'WaitingForBackup', `another backup of ${backup.spec.cluster} is running${other ? ` (${other.metadata.name})` : ''}`);
    }
    const access = this.deps.access(ns, backup.spec.cluster);
    if (!access) return this.pending(backup, 'ClusterNotReachable', `the operator has no address of ${backup.spec.cluster}'s members yet`);

    const attempts = (backup.status?.attempts ?? 0) + 1;
    if (attempts > MAX_ATTEMPTS) return this.fail(backup, backup.status?.reason ?? 'TooManyAttempts', `gave up after ${MAX_ATTEMPTS} attempts; last error: ${backup.status?.error ?? 'unknown'}`);
    const started = startedAt ?? now;
    await this.writeStatus(backup, { phase: 'Running', startedAt: iso(started), attempts, target, nextAttemptAt: undefined }, [{ type: 'Completed', status: 'False', reason: 'Running', message: `attempt ${attempts} of at most ${MAX_ATTEMPTS}` }]);
    if (attempts === 1) await this.event(backup, 'Normal', 'Started', `backing up ${backup.spec.cluster} to ${s3Url(target.destination.bucket, backupKeys(target.destination.prefix, ns, backup.spec.cluster, name).dir)}`);
    else await this.event(backup, 'Normal', 'Retrying', `attempt ${attempts}${backup.status?.error ? ` after: ${backup.status.error}` : ''}`);

    const abort = new AbortController();
    this.running.set(key, abort);
    this.busyClusters.add(clusterKey);
    const deadline = AbortSignal.timeout(Math.max(1, deadlineMs - (now.getTime() - started.getTime())));
    void this.attempt(backup, target, access, started, attempts, AbortSignal.any([abort.signal, deadline])).finally(() => {
      this.running.delete(key);
      this.busyClusters.delete(clusterKey);
    });
    return {};
  }

  /** Aborts attempts in progress (operator shutdown); the next leader starts them again. */
  stop(): void {
    for (const a of this.running.values()) a.abort();
  }

  private async attempt(backup: KVBackup, target: BackupTarget, access: ClusterAccess, startedAt: Date, attempts: number, signal: AbortSignal): Promise<void> {
    const ns = backup.metadata.namespace ?? '';
    const name = backup.metadata.name ?? '';
    const key = `${ns}/${name}`;
    const labels = { kvcluster_namespace: ns, kvcluster: backup.spec.cluster };
    const keys = backupKeys(target.destination.prefix, ns, backup.spec.cluster, name);
    const log = this.deps.log.child({ kvbackup: key, attempt: attempts });
    let store: ObjectStore | undefined;
    const attemptStart = this.now();
    try {
      const creds = await readCredentials(this.deps.client, ns, target.credentialsSecret);
      store = this.deps.objectStore(target.destination, creds);
      const manifest = await takeBackup({ source: access.source, endpoints: access.endpoints, store, keys, cluster: { name: backup.spec.cluster, namespace: ns }, backupName: name, startedAt, now: this.now, signal, log });
      await this.complete(backup, target, manifest);
      this.deps.metrics.backupLastSuccess.set(labels, Date.parse(manifest.completedAt) / 1000);
      this.deps.metrics.backupSize.set(labels, manifest.size);
      this.deps.metrics.backupDuration.observe(labels, (this.now().getTime() - attemptStart.getTime()) / 1000);
      log.info({ revision: manifest.revision, size: manifest.size, member: manifest.member.name }, 'backup completed');
    } catch (err) {
      const e = err as Error & { reason?: string; transient?: boolean };
      const reason = signal.aborted && !e.reason ? 'DeadlineExceeded' : (e.reason ?? 'Unknown');
      const transient = e.transient === true && !signal.aborted;
      log.warn({ err, reason, transient }, 'backup attempt failed');
      // Never leave parts or a manifest-less object behind.
      await cleanUp(store, keys).catch((cleanupErr: unknown) => log.warn({ err: cleanupErr }, 'could not clean up the failed attempt'));
      const fresh = await this.deps.client.get<KVBackup & KubeObject>(RESOURCES.kvBackup, ns, name).catch(() => undefined);
      if (!fresh || fresh.metadata.deletionTimestamp) return;
      if (transient && attempts < MAX_ATTEMPTS) {
        const delay = (this.deps.retryBaseMs ?? 5_000) * 2 ** (attempts - 1);
        await this.writeStatus(fresh, { reason, error: e.message, nextAttemptAt: new Date(this.now().getTime() + delay).toISOString() }, [{ type: 'Completed', status: 'False', reason, message: `attempt ${attempts} failed, retrying in ${Math.round(delay / 1000)}s: ${e.message}` }]);
        this.deps.requeue(key, delay);
        return;
      }
      await this.fail(fresh, reason, e.message);
    }
  }

  private async complete(backup: KVBackup, target: BackupTarget, m: BackupManifest): Promise<void> {
    const bucket = target.destination.bucket;
    const status: KVBackupStatus = {
      phase: 'Completed',
      completedAt: m.completedAt.replace(/\.\d+Z$/, 'Z'),
      location: s3Url(bucket, m.snapshotKey),
      manifest: s3Url(bucket, backupKeys(target.destination.prefix, backup.metadata.namespace ?? '', backup.spec.cluster, backup.metadata.name ?? '').manifest),
      size: m.size,
      sha256: m.sha256,
      revision: m.revision,
      compactRevision: m.compactRevision,
      raftIndex: m.raftIndex,
      raftTerm: m.raftTerm,
      ...(m.hashKv !== undefined && { hashKv: m.hashKv }),
      member: m.member.name,
      clusterID: m.cluster.id,
      version: m.kvorumVersion,
    };
    const fresh = (await this.deps.client.get<KVBackup & KubeObject>(RESOURCES.kvBackup, backup.metadata.namespace ?? '', backup.metadata.name ?? '')) ?? backup;
    await this.writeStatus(fresh, { ...status, reason: undefined, error: undefined }, [{ type: 'Completed', status: 'True', reason: 'Completed', message: `revision ${m.revision}, ${m.size} bytes from ${m.member.name}` }]);
    await this.event(backup, 'Normal', 'Completed', `backed up revision ${m.revision} (${m.size} bytes, sha256 ${m.sha256.slice(0, 12)}…) from ${m.member.name} to ${status.location}`);
  }

  private async fail(backup: KVBackup, reason: string, message: string): Promise<ReconcileResult> {
    await this.writeStatus(backup, { phase: 'Failed', reason, error: message, completedAt: iso(this.now()) }, [{ type: 'Completed', status: 'False', reason, message }]);
    await this.event(backup, 'Warning', reason, message);
    this.deps.metrics.backupFailures.inc({ kvcluster_namespace: backup.metadata.namespace ?? '', kvcluster: backup.spec.cluster, reason });
    return {};
  }

  private async pending(backup: KVBackup, reason: string, message: string): Promise<ReconcileResult> {
    await this.writeStatus(backup, { phase: backup.status?.phase ?? 'Pending', reason, error: message }, [{ type: 'Completed', status: 'False', reason, message }]);
    return { requeueAfterMs: 10_000 };
  }

  /** Deletes the backup's objects (unless Retain) and lets the KVBackup go. */
  private async finalize(key: string, backup: KVBackup & KubeObject): Promise<ReconcileResult> {
    this.running.get(key)?.abort();
    const finalizers = backup.metadata.finalizers ?? [];
    if (!finalizers.includes(FINALIZERS.backup)) return {};
    const target = backup.status?.target;
    if (target && backup.spec.deletionPolicy !== 'Retain') {
      const ns = backup.metadata.namespace ?? '';
      const keys = backupKeys(target.destination.prefix, ns, backup.spec.cluster, backup.metadata.name ?? '');
      try {
        const store = this.deps.objectStore(target.destination, await readCredentials(this.deps.client, ns, target.credentialsSecret));
        await cleanUp(store, keys, true);
      } catch (err) {
        const e = err as Error & { reason?: string };
        // Nothing can be stored in a bucket that is gone; anything else is retried until it works or the user removes the finalizer.
        if (e.reason !== 'BucketNotFound') {
          await this.event(backup, 'Warning', 'CleanupFailed', `could not delete ${s3Url(target.destination.bucket, keys.dir)}: ${e.message}; retrying (remove finalizer ${FINALIZERS.backup} to give up)`);
          return { requeueAfterMs: 30_000 };
        }
      }
    }
    await this.deps.client.mergePatch(RESOURCES.kvBackup, backup.metadata.namespace ?? '', backup.metadata.name ?? '', {
      metadata: { finalizers: finalizers.filter((f) => f !== FINALIZERS.backup), resourceVersion: backup.metadata.resourceVersion },
    });
    return {};
  }

  private async writeStatus(stored: KVBackup, status: Partial<Record<keyof KVBackupStatus, unknown>>, conditions: { type: string; status: Condition['status']; reason: string; message: string }[]): Promise<void> {
    const merged: Record<string, unknown> = { ...stored.status, ...status, observedGeneration: stored.metadata.generation };
    for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
    merged.conditions = mergeConditions(stored.status?.conditions, conditions, stored.metadata.generation, this.now());
    await this.deps.client.applyStatus(RESOURCES.kvBackup, { apiVersion: API_VERSION, kind: KINDS.backup, metadata: { name: stored.metadata.name, namespace: stored.metadata.namespace }, status: merged } as KubeObject);
  }

  private async event(backup: KVBackup, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await this.deps.events.record(backup as unknown as KubeObject, type, reason, message);
  }
}

type BackupTarget = NonNullable<KVBackupStatus['target']>;

function resolveTarget(backup: KVBackup, cluster: KVCluster): BackupTarget | undefined {
  const destination = backup.spec.destination ?? cluster.spec.backup?.destination;
  if (!destination) return undefined;
  const credentialsSecret = backup.spec.credentialsSecret ?? cluster.spec.backup?.credentialsSecret;
  return { destination, ...(credentialsSecret && { credentialsSecret }) };
}

/** Aborts unfinished uploads of the backup and deletes what is in its directory; with `all` false a completed backup (one with a manifest) is left alone. */
async function cleanUp(store: ObjectStore | undefined, backup: BackupKeys, all = false): Promise<void> {
  if (!store) return;
  const dir = backup.dir;
  await store.abortIncompleteUploads(dir, [backup.snapshot]);
  const keys = await store.list(dir);
  if (!all && keys.some((k) => k.endsWith('/manifest.json'))) return;
  if (keys.length > 0) await store.deleteKeys(keys);
}

export { BackupError };

// The reconcile steps of a cluster founded from a backup
// (spec.bootstrap.fromBackup): resolve the backup before anything starts,
// notice members whose restore init container failed, and, once the cluster
// is available, check every member's HashKV at the backup's revision against
// the hash recorded when the backup was taken.
import { RESTORE_EXIT_REASONS, RESTORE_INIT_CONTAINER } from '../../contract/index.js';
import type { KVCluster, KVRestore, RestoreStatus } from '../api/index.js';
import { s3Url } from '../backup/layout.js';
import { resolveRestoreSource, type RestoreSourceDeps } from '../backup/restore-source.js';
import type { KubeObject } from '../kube/client.js';
import type { ConditionInput } from './status.js';

export type RestoreResolution = { status: RestoreStatus } | { problem: { reason: string; message: string } };

/** The restore status to found the cluster from: kept from an earlier pass, or resolved now from the bucket. */
export async function resolveRestore(stored: KVCluster, cluster: KVCluster, deps: RestoreSourceDeps): Promise<RestoreResolution | undefined> {
  // Kept for the cluster's life: the members' pod template keeps the (then idle) init container, so it never changes.
  if (stored.status?.restore) return { status: stored.status.restore };
  const from = cluster.spec.bootstrap?.fromBackup;
  if (!from) return undefined;
  // A cluster that was founded without a restore status (an older operator) is left alone.
  if (stored.status?.clusterID) return undefined;
  try {
    const src = await resolveRestoreSource(cluster, from, deps);
    const m = src.manifest;
    return {
      status: {
        source: s3Url(src.target.destination.bucket, src.snapshotKey),
        ...(src.backup && { backup: src.backup }),
        restoreID: cluster.metadata.uid ?? `${cluster.metadata.namespace}/${cluster.metadata.name}`,
        revision: m.revision,
        sha256: m.sha256,
        ...(m.hashKv !== undefined && { hashKv: m.hashKv }),
        phase: 'Restoring',
        message: `founding ${cluster.spec.replicas ?? 1} members from revision ${m.revision} of ${m.cluster.namespace}/${m.cluster.name} (backup ${m.backup}, ${m.size} bytes)`,
        target: src.target,
        snapshotKey: src.snapshotKey,
      },
    };
  } catch (err) {
    const e = err as Error & { reason?: string };
    return { problem: { reason: e.reason ?? 'RestoreSourceUnavailable', message: `cannot restore from the backup: ${e.message}` } };
  }
}

type PodWithInits = KubeObject & { status?: { initContainerStatuses?: { name: string; state?: { terminated?: { exitCode?: number; message?: string } }; lastState?: { terminated?: { exitCode?: number; message?: string } } }[] } };

/** Members whose restore init container exited with one of the restore exit codes, with the cause in words. */
export function restoreFailures(pods: KubeObject[], restore: RestoreStatus): { reason: string; message: string } | undefined {
  for (const pod of pods as PodWithInits[]) {
    const init = pod.status?.initContainerStatuses?.find((s) => s.name === RESTORE_INIT_CONTAINER);
    const t = init?.state?.terminated ?? init?.lastState?.terminated;
    if (!t || !t.exitCode) continue;
    const known = RESTORE_EXIT_REASONS[t.exitCode];
    const detail = known ? known.text : `exit code ${t.exitCode}${t.message ? `: ${t.message.trim().split('\n').slice(-1)[0]}` : ''}`;
    return { reason: known?.reason ?? 'RestoreFailed', message: `member ${pod.metadata.name} could not be restored from ${restore.source}: ${detail}; no member serves until the backup can be read` };
  }
  return undefined;
}

export interface HashCheck {
  status: RestoreStatus;
  condition?: ConditionInput;
  /** Set when the outcome is new (worth an Event). */
  event?: { type: 'Normal' | 'Warning'; reason: string; message: string };
}

/**
 * Compares each member's HashKV at the backup's revision with the manifest's.
 * Undefined while some member does not answer (the next pass tries again).
 */
export async function verifyRestore(restore: RestoreStatus, endpoints: string[], hashKv: (endpoint: string, revision: number) => Promise<{ hash: number }>): Promise<HashCheck | undefined> {
  if (restore.phase !== 'Restoring' || restore.hashKv === undefined) return undefined;
  const answers = await Promise.allSettled(endpoints.map((ep) => hashKv(ep, restore.revision)));
  if (answers.some((a) => a.status === 'rejected')) return undefined;
  const hashes = answers.map((a) => (a as PromiseFulfilledResult<{ hash: number }>).value.hash);
  const wrong = hashes.filter((h) => h !== restore.hashKv);
  const type = 'Restored';
  if (wrong.length === 0) {
    const message = `all ${hashes.length} members' HashKV at revision ${restore.revision} is ${restore.hashKv}, as recorded at backup time`;
    return { status: { ...restore, phase: 'Verified', message }, condition: { type, status: 'True', reason: 'HashVerified', message }, event: { type: 'Normal', reason: 'RestoreVerified', message } };
  }
  const message = `${wrong.length} of ${hashes.length} members' HashKV at revision ${restore.revision} differ from the backup's ${restore.hashKv} (${wrong.join(', ')})`;
  return { status: { ...restore, phase: 'HashMismatch', message }, condition: { type, status: 'False', reason: 'HashMismatch', message }, event: { type: 'Warning', reason: 'RestoreHashMismatch', message } };
}


export interface InPlaceRestore {
  name: string;
  step: 'Stopping' | 'Restoring';
  restore: RestoreStatus;
}

/** The KVRestore rolling the cluster back now, if any (the restore controller allows one at a time). */
export function activeInPlaceRestore(restores: KVRestore[]): InPlaceRestore | undefined {
  const r = restores.find((x) => x.status?.phase === 'Running' && x.status.step && x.status.restore);
  return r ? { name: r.metadata.name ?? '', step: r.status!.step!, restore: r.status!.restore! } : undefined;
}

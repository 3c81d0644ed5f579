// Reconciles KVRestores: rolls an existing cluster back to a backup, in
// place. The controller decides the steps and records them in the KVRestore's
// status; the cluster reconciler carries each one out on the cluster's own
// objects (operator/cluster/in-place-restore.ts), so the two never write the
// same object:
//
//   Stopping   the StatefulSet goes to zero members: no member serves, the
//              client Service has no endpoint.
//   Restoring  the members come back with the restore init container and a
//              new restore ID: each member's data dir is wiped and rebuilt
//              from the backup, and the members found a new cluster (new
//              cluster ID, the backup's revisions). Completed once every
//              member's HashKV at the backup's revision matches the backup's.
//
// Refused (Pending, with a condition and an Event) while the cluster is not
// Available, is changing membership or rolling, or another restore runs.
import type { Logger } from 'pino';
import { API_VERSION, CONDITION_TYPES, KINDS, type Condition, type KVCluster, type KVRestore, type KVRestoreStatus } from '../api/index.js';
import type { EventRecorder } from '../kube/events.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import type { ReconcileResult } from '../runtime/controller.js';
import { mergeConditions } from '../cluster/status.js';
import { s3Url } from './layout.js';
import { resolveRestoreSource, type RestoreSourceDeps } from './restore-source.js';

export const RESTORE_DEADLINE_MS = 30 * 60_000;

export interface RestoreControllerDeps {
  client: Pick<KubeClient, 'get' | 'applyStatus'>;
  getCluster(namespace: string, name: string): KVCluster | undefined;
  restoresOf(namespace: string, cluster: string): KVRestore[];
  /** Member pods of the cluster (from the cache). */
  memberPods(namespace: string, cluster: string): KubeObject[];
  sources: RestoreSourceDeps;
  /** Asks the cluster reconciler to look at the cluster now. */
  nudgeCluster(namespace: string, cluster: string): void;
  events: EventRecorder;
  log: Logger;
  now?: () => Date;
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');
const condition = (c: KVCluster, type: string): Condition | undefined => c.status?.conditions?.find((x) => x.type === type);

export class RestoreController {
  private readonly now: () => Date;

  constructor(private readonly deps: RestoreControllerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [ns, name] = key.split('/') as [string, string];
    const r = await this.deps.client.get<KVRestore & KubeObject>(RESOURCES.kvRestore, ns, name);
    if (!r || r.metadata.deletionTimestamp) return {};
    const phase = r.status?.phase;
    if (phase === 'Completed' || phase === 'Failed') return {};
    const cluster = this.deps.getCluster(ns, r.spec.cluster);
    if (!cluster) return this.wait(r, 'ClusterNotFound', `KVCluster ${ns}/${r.spec.cluster} not found`);
    if (phase === 'Running') return this.advance(r, cluster);

    const refusal = this.refusal(r, cluster);
    if (refusal) return this.wait(r, 'ClusterBusy', `refused for now: ${refusal}`);
    let restore;
    try {
      const src = await resolveRestoreSource(cluster, r.spec, this.deps.sources);
      restore = {
        source: s3Url(src.target.destination.bucket, src.snapshotKey),
        ...(src.backup && { backup: src.backup }),
        restoreID: r.metadata.uid ?? `${ns}/${name}`,
        revision: src.manifest.revision,
        sha256: src.manifest.sha256,
        ...(src.manifest.hashKv !== undefined && { hashKv: src.manifest.hashKv }),
        phase: 'Restoring' as const,
        message: `rolling ${r.spec.cluster} back to revision ${src.manifest.revision} of backup ${src.manifest.backup}`,
        target: src.target,
        snapshotKey: src.snapshotKey,
      };
    } catch (err) {
      const e = err as Error & { reason?: string };
      return this.finish(r, 'Failed', e.reason ?? 'RestoreSourceUnavailable', `cannot restore from the backup: ${e.message}; the cluster was not touched`);
    }
    await this.write(r, { phase: 'Running', step: 'Stopping', restore, startedAt: iso(this.now()), reason: 'Stopping', message: 'scaling the members to zero: clients are cut off until the restore completes' }, 'Running', 'Stopping');
    await this.deps.events.record(r as unknown as KubeObject, 'Normal', 'Started', `rolling ${r.spec.cluster} back to ${restore.source} (revision ${restore.revision}); the cluster stops serving until it completes`);
    this.deps.nudgeCluster(ns, r.spec.cluster);
    return { requeueAfterMs: 3000 };
  }

  /** Why the restore cannot start now, or undefined. */
  private refusal(r: KVRestore, cluster: KVCluster): string | undefined {
    const other = this.deps.restoresOf(r.metadata.namespace ?? '', r.spec.cluster).find((o) => o.metadata.name !== r.metadata.name && o.status?.phase === 'Running');
    if (other) return `restore ${other.metadata.name} of ${r.spec.cluster} is in progress`;
    const progressing = condition(cluster, CONDITION_TYPES.progressing);
    if (progressing?.status === 'True') return `${r.spec.cluster} is changing (${progressing.reason}: ${progressing.message})`;
    if (condition(cluster, CONDITION_TYPES.available)?.status !== 'True') return `${r.spec.cluster} is not Available`;
    return undefined;
  }

  private async advance(r: KVRestore, cluster: KVCluster): Promise<ReconcileResult> {
    const ns = r.metadata.namespace ?? '';
    const restore = r.status?.restore;
    if (!restore) return this.finish(r, 'Failed', 'Internal', 'status.restore is missing');
    const started = Date.parse(r.status?.startedAt ?? '') || this.now().getTime();
    if (this.now().getTime() - started > RESTORE_DEADLINE_MS) return this.finish(r, 'Failed', 'DeadlineExceeded', `not completed within ${RESTORE_DEADLINE_MS / 60_000} minutes at step ${r.status?.step}; see the KVCluster's conditions`);
    if (r.status?.step === 'Stopping') {
      const left = this.deps.memberPods(ns, r.spec.cluster).length;
      if (left > 0) return { requeueAfterMs: 2000 };
      await this.write(r, { step: 'Restoring', reason: 'Restoring', message: 'members are being rebuilt from the backup and founding a new cluster' }, 'Running', 'Restoring');
      this.deps.nudgeCluster(ns, r.spec.cluster);
      return { requeueAfterMs: 3000 };
    }
    const seen = cluster.status?.restore;
    if (seen?.restoreID === restore.restoreID && seen.phase === 'Verified') {
      return this.finish(r, 'Completed', 'Completed', `${r.spec.cluster} is back at revision ${restore.revision} with cluster ID ${cluster.status?.clusterID ?? '?'}: ${seen.message ?? ''}`);
    }
    if (seen?.restoreID === restore.restoreID && (seen.phase === 'HashMismatch' || seen.phase === 'Failed')) {
      return this.finish(r, 'Failed', seen.phase, seen.message ?? seen.phase);
    }
    return { requeueAfterMs: 3000 };
  }

  private async wait(r: KVRestore, reason: string, message: string): Promise<ReconcileResult> {
    if (r.status?.reason !== reason) await this.deps.events.record(r as unknown as KubeObject, 'Warning', reason, message);
    await this.write(r, { phase: 'Pending', reason, message }, 'Pending', reason);
    return { requeueAfterMs: 15_000 };
  }

  private async finish(r: KVRestore, phase: 'Completed' | 'Failed', reason: string, message: string): Promise<ReconcileResult> {
    await this.write(r, { phase, reason, message, completedAt: iso(this.now()) }, phase, reason);
    await this.deps.events.record(r as unknown as KubeObject, phase === 'Completed' ? 'Normal' : 'Warning', reason, message);
    this.deps.nudgeCluster(r.metadata.namespace ?? '', r.spec.cluster);
    return {};
  }

  private async write(stored: KVRestore, status: KVRestoreStatus, phase: string, reason: string): Promise<void> {
    const merged: KVRestoreStatus = { ...stored.status, ...status, observedGeneration: stored.metadata.generation };
    merged.conditions = mergeConditions(stored.status?.conditions, [{ type: 'Completed', status: phase === 'Completed' ? 'True' : 'False', reason, message: status.message ?? '' }], stored.metadata.generation, this.now());
    stored.status = merged;
    await this.deps.client.applyStatus(RESOURCES.kvRestore, { apiVersion: API_VERSION, kind: KINDS.restore, metadata: { name: stored.metadata.name, namespace: stored.metadata.namespace }, status: merged } as KubeObject);
  }
}

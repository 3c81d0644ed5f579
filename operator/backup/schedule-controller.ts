// Reconciles KVBackupSchedules: creates a KVBackup when the schedule is due
// (at most one for any number of missed times), never while a backup of the
// same cluster is unfinished, and prunes the schedule's backups by its
// retention. Created backups are named after their scheduled time, so an
// operator that crashed between creating one and recording it creates the
// same name again and gets AlreadyExists instead of a duplicate.
import type { Logger } from 'pino';
import { API_VERSION, KINDS, LABELS, MANAGED_BY, type KVBackup, type KVBackupSchedule, type KVBackupScheduleStatus } from '../api/index.js';
import type { EventRecorder } from '../kube/events.js';
import { isAlreadyExists, type KubeClient, type KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import type { ReconcileResult } from '../runtime/controller.js';
import { mergeConditions } from '../cluster/status.js';
import { parseDuration, toPrune } from './retention.js';
import { decide, parseSchedule, ScheduleError } from './schedule.js';

export interface ScheduleControllerDeps {
  client: Pick<KubeClient, 'get' | 'create' | 'delete' | 'applyStatus'>;
  /** KVBackups in a namespace, from the cache. */
  backupsIn: (namespace: string) => KVBackup[];
  events: EventRecorder;
  log: Logger;
  now?: () => Date;
}

/** Longest wait between looks at a schedule (clock jumps, missed events). */
const MAX_WAIT_MS = 60_000;
const iso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');

export class ScheduleController {
  private readonly now: () => Date;

  constructor(private readonly deps: ScheduleControllerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [ns, name] = key.split('/') as [string, string];
    const schedule = await this.deps.client.get<KVBackupSchedule & KubeObject>(RESOURCES.kvBackupSchedule, ns, name);
    if (!schedule || schedule.metadata.deletionTimestamp) return {};
    const now = this.now();
    let cron;
    let maxAgeMs: number | undefined;
    try {
      cron = parseSchedule(schedule.spec.schedule, schedule.spec.timeZone);
      if (schedule.spec.retention?.maxAge) maxAgeMs = parseDuration(schedule.spec.retention.maxAge);
    } catch (err) {
      const message = (err as Error).message;
      const reason = err instanceof ScheduleError ? (err.field === 'timeZone' ? 'InvalidTimeZone' : 'InvalidSchedule') : 'InvalidRetention';
      await this.writeStatus(schedule, { nextScheduleTime: undefined }, [{ type: 'Ready', status: 'False', reason, message }]);
      await this.deps.events.record(schedule as unknown as KubeObject, 'Warning', reason, message);
      return {};
    }

    const mine = this.deps.backupsIn(ns).filter((b) => b.metadata.labels?.[LABELS.schedule] === name);
    await this.prune(schedule, mine, maxAgeMs, now);
    const newestDone = mine
      .filter((b) => b.status?.phase === 'Completed')
      .sort((a, b) => Date.parse(b.status?.completedAt ?? '') - Date.parse(a.status?.completedAt ?? ''))[0];
    const progress: Partial<KVBackupScheduleStatus> = {
      active: mine.filter((b) => b.status?.phase !== 'Completed' && b.status?.phase !== 'Failed').map((b) => b.metadata.name ?? ''),
      ...(newestDone && { lastSuccessfulTime: newestDone.status?.completedAt, lastSuccessfulBackup: newestDone.metadata.name }),
    };

    if (schedule.spec.suspend) {
      await this.writeStatus(schedule, { ...progress, nextScheduleTime: undefined }, [{ type: 'Ready', status: 'True', reason: 'Suspended', message: 'spec.suspend is true: no backups are created' }]);
      return {};
    }
    const created = new Date(schedule.metadata.creationTimestamp ?? now.toISOString());
    const lastFired = schedule.status?.lastScheduleTime ? new Date(schedule.status.lastScheduleTime) : undefined;
    // `immediate`: fire once at creation, as if the schedule had a run then.
    const decision = !lastFired && schedule.spec.immediate ? { due: created, next: cron.nextRun(now) ?? undefined } : decide(cron, lastFired ?? created, now);
    const next = decision.next;
    if (decision.due) {
      const clusterBusy = this.deps.backupsIn(ns).some((b) => b.spec.cluster === schedule.spec.cluster && b.status?.phase !== 'Completed' && b.status?.phase !== 'Failed');
      if (clusterBusy) {
        // Like a CronJob with concurrencyPolicy Forbid: this run is skipped, the next one is not.
        await this.deps.events.record(schedule as unknown as KubeObject, 'Normal', 'Skipped', `run at ${iso(decision.due)} skipped: a backup of ${schedule.spec.cluster} is still unfinished`);
      } else {
        const backupName = await this.createBackup(schedule, decision.due);
        progress.active = [...(progress.active ?? []), backupName].filter((v, i, a) => a.indexOf(v) === i);
      }
      progress.lastScheduleTime = iso(decision.due);
    }
    await this.writeStatus(schedule, { ...progress, ...(next && { nextScheduleTime: iso(next) }) }, [{ type: 'Ready', status: 'True', reason: 'Scheduled', message: next ? `next backup at ${iso(next)}` : 'the schedule has no further runs' }]);
    const wait = next ? Math.min(MAX_WAIT_MS, Math.max(1000, next.getTime() - this.now().getTime() + 250)) : MAX_WAIT_MS;
    return { requeueAfterMs: wait };
  }

  private async createBackup(schedule: KVBackupSchedule, due: Date): Promise<string> {
    const ns = schedule.metadata.namespace ?? '';
    const scheduleName = schedule.metadata.name ?? '';
    // <schedule>-<unix minutes>: unique per scheduled time, within 63 characters.
    const backupName = `${scheduleName.slice(0, 52)}-${Math.floor(due.getTime() / 60_000)}`;
    const backup: KVBackup & KubeObject = {
      apiVersion: API_VERSION,
      kind: KINDS.backup,
      metadata: {
        name: backupName,
        namespace: ns,
        // No owner reference: deleting a schedule must not delete the backups it took.
        labels: { [LABELS.schedule]: scheduleName, [LABELS.cluster]: schedule.spec.cluster, [LABELS.managedBy]: MANAGED_BY },
      },
      spec: { cluster: schedule.spec.cluster, ...schedule.spec.backupTemplate },
    };
    try {
      await this.deps.client.create(RESOURCES.kvBackup, backup);
      await this.deps.events.record(schedule as unknown as KubeObject, 'Normal', 'BackupCreated', `created KVBackup ${backupName} for the run at ${iso(due)}`);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return backupName;
  }

  private async prune(schedule: KVBackupSchedule, mine: KVBackup[], maxAgeMs: number | undefined, now: Date): Promise<void> {
    const retention = schedule.spec.retention;
    if (!retention?.keepLast && maxAgeMs === undefined) return;
    const names = toPrune(
      mine.filter((b) => !b.metadata.deletionTimestamp).map((b) => ({
        name: b.metadata.name ?? '',
        ...(b.status?.phase && { phase: b.status.phase }),
        time: new Date(b.status?.completedAt ?? b.metadata.creationTimestamp ?? now.toISOString()),
        pinned: b.metadata.labels?.[LABELS.pinned] === 'true',
      })),
      { ...(retention?.keepLast !== undefined && { keepLast: retention.keepLast }), ...(maxAgeMs !== undefined && { maxAgeMs }) },
      now,
    );
    for (const n of names) {
      // The backup's finalizer deletes its objects before the KVBackup goes.
      await this.deps.client.delete(RESOURCES.kvBackup, schedule.metadata.namespace ?? '', n);
      await this.deps.events.record(schedule as unknown as KubeObject, 'Normal', 'Pruned', `deleted KVBackup ${n} (retention)`);
    }
  }

  private async writeStatus(stored: KVBackupSchedule, status: Partial<Record<keyof KVBackupScheduleStatus, unknown>>, conditions: { type: string; status: 'True' | 'False'; reason: string; message: string }[]): Promise<void> {
    const merged: Record<string, unknown> = { ...stored.status, ...status, observedGeneration: stored.metadata.generation };
    for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
    merged.conditions = mergeConditions(stored.status?.conditions, conditions, stored.metadata.generation, this.now());
    if (JSON.stringify(merged) === JSON.stringify(stored.status)) return;
    await this.deps.client.applyStatus(RESOURCES.kvBackupSchedule, { apiVersion: API_VERSION, kind: KINDS.backupSchedule, metadata: { name: stored.metadata.name, namespace: stored.metadata.namespace }, status: merged } as KubeObject);
  }
}

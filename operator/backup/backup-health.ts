// Whether a cluster's backups are keeping up: the BackupHealthy condition
// and the facts the stale-backup alert needs, from the cluster's KVBackups
// and the schedules that name it.
import { CONDITION_TYPES, type KVBackup, type KVBackupSchedule } from '../api/index.js';
import type { ConditionInput } from '../cluster/status.js';
import { intervalMs, parseSchedule } from './schedule.js';

export interface BackupHealth {
  /** Completion time of the newest Completed backup. */
  lastSuccessfulBackup?: string;
  /** Shortest interval of the cluster's active schedules. */
  intervalMs?: number;
  /** Absent when the cluster has neither backups nor schedules. */
  condition?: ConditionInput;
}

/** This many newest attempts all Failed makes backups unhealthy even when the last success is recent. */
export const FAILURES_BEFORE_UNHEALTHY = 2;

export function backupHealth(backups: KVBackup[], schedules: KVBackupSchedule[], now: Date): BackupHealth {
  const active = schedules.filter((s) => !s.spec.suspend);
  if (backups.length === 0 && active.length === 0) return {};
  const completed = backups.filter((b) => b.status?.phase === 'Completed' && b.status.completedAt).sort((a, b) => Date.parse(b.status!.completedAt!) - Date.parse(a.status!.completedAt!));
  const last = completed[0]?.status?.completedAt;
  const intervals = active.flatMap((s) => {
    try {
      const ms = intervalMs(parseSchedule(s.spec.schedule, s.spec.timeZone), now);
      return ms !== undefined ? [ms] : [];
    } catch {
      return [];
    }
  });
  const interval = intervals.length > 0 ? Math.min(...intervals) : undefined;
  const health: BackupHealth = { ...(last && { lastSuccessfulBackup: last }), ...(interval !== undefined && { intervalMs: interval }) };
  const type = CONDITION_TYPES.backupHealthy;

  const finished = backups.filter((b) => b.status?.phase === 'Completed' || b.status?.phase === 'Failed').sort((a, b) => Date.parse(b.metadata.creationTimestamp ?? '') - Date.parse(a.metadata.creationTimestamp ?? ''));
  const newest = finished.slice(0, FAILURES_BEFORE_UNHEALTHY);
  if (newest.length === FAILURES_BEFORE_UNHEALTHY && newest.every((b) => b.status?.phase === 'Failed')) {
    const b = newest[0]!;
    return { ...health, condition: { type, status: 'False', reason: 'BackupsFailing', message: `the last ${FAILURES_BEFORE_UNHEALTHY} backups failed; newest ${b.metadata.name}: ${b.status?.reason ?? ''} ${b.status?.error ?? ''}`.trim() } };
  }
  if (interval !== undefined) {
    const since = last ? Date.parse(last) : Math.min(...active.map((s) => Date.parse(s.metadata.creationTimestamp ?? now.toISOString())));
    if (now.getTime() - since > 2 * interval) {
      const message = last ? `the newest successful backup (${last}) is older than twice the schedule's interval (${Math.round((2 * interval) / 1000)}s)` : `no successful backup within twice the schedule's interval (${Math.round((2 * interval) / 1000)}s)`;
      return { ...health, condition: { type, status: 'False', reason: 'BackupStale', message } };
    }
  }
  if (!last) return { ...health, condition: { type, status: 'Unknown', reason: 'NoBackupYet', message: 'no backup has completed yet' } };
  return { ...health, condition: { type, status: 'True', reason: 'BackupsRecent', message: `newest successful backup ${completed[0]!.metadata.name} at ${last}` } };
}

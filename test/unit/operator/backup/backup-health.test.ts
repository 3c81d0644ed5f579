import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KVBackup, KVBackupSchedule } from '../../../../operator/api/index.js';
import { backupHealth } from '../../../../operator/backup/backup-health.js';

const backup = (name: string, phase: 'Completed' | 'Failed', created: string, completed?: string): KVBackup => ({
  apiVersion: 'kvorum.io/v1alpha1',
  kind: 'KVBackup',
  metadata: { name, creationTimestamp: created },
  spec: { cluster: 'c' },
  status: { phase, ...(completed && { completedAt: completed }), ...(phase === 'Failed' && { reason: 'Unreachable', error: 'cannot reach the object store' }) },
});
const schedule = (expr: string, suspend = false): KVBackupSchedule => ({
  apiVersion: 'kvorum.io/v1alpha1',
  kind: 'KVBackupSchedule',
  metadata: { name: 's', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { cluster: 'c', schedule: expr, suspend },
});
const now = new Date('2026-01-02T12:00:00Z');

test('BackupHealthy: recent under an hourly schedule, stale past twice the interval, failing after two failures', () => {
  assert.deepEqual(backupHealth([], [], now), {}, 'no backups, no schedule: no condition');
  const ok = backupHealth([backup('a', 'Completed', '2026-01-02T10:59:00Z', '2026-01-02T11:00:00Z')], [schedule('0 * * * *')], now);
  assert.equal(ok.condition?.status, 'True');
  assert.equal(ok.lastSuccessfulBackup, '2026-01-02T11:00:00Z');
  assert.equal(ok.intervalMs, 3_600_000);
  const stale = backupHealth([backup('a', 'Completed', '2026-01-02T09:00:00Z', '2026-01-02T09:00:10Z')], [schedule('0 * * * *')], now);
  assert.equal(stale.condition?.reason, 'BackupStale');
  assert.equal(backupHealth([backup('a', 'Completed', '2026-01-02T09:00:00Z', '2026-01-02T09:00:10Z')], [schedule('0 * * * *', true)], now).condition?.status, 'True', 'a suspended schedule sets no deadline');
  const failing = backupHealth(
    [backup('a', 'Completed', '2026-01-02T10:00:00Z', '2026-01-02T10:00:10Z'), backup('b', 'Failed', '2026-01-02T11:00:00Z'), backup('c', 'Failed', '2026-01-02T11:30:00Z')],
    [schedule('*/30 * * * *')],
    now,
  );
  assert.equal(failing.condition?.reason, 'BackupsFailing');
  assert.match(failing.condition?.message ?? '', /newest c: Unreachable cannot reach the object store/);
  assert.equal(failing.lastSuccessfulBackup, '2026-01-02T10:00:10Z');
});

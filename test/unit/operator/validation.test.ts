import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  validateBackupScheduleSpec,
  validateBackupSpec,
  validateClusterSpec,
  type KVClusterSpec,
} from '../../../operator/api/index.js';

/** Asserts exactly one problem, on the given field, whose text matches `re`. */
function oneProblem(problems: string[], field: string, re?: RegExp): void {
  assert.equal(problems.length, 1, `expected one problem, got ${JSON.stringify(problems)}`);
  assert.ok(problems[0].startsWith(`${field}: `), `problem should name ${field}: ${problems[0]}`);
  if (re) assert.match(problems[0], re);
}

test('an empty spec and a full, valid spec have no problems', () => {
  assert.deepEqual(validateClusterSpec({}), []);
  const full: KVClusterSpec = {
    replicas: 5,
    version: '0.2.0-rc.1',
    image: 'registry.example:5000/kvorum/kvorum',
    storage: { size: '20Gi', storageClassName: 'fast', retentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Delete' } },
    resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: 2147483648 } },
    podTemplate: {
      labels: { team: 'a' },
      annotations: { note: 'b' },
      affinity: { podAntiAffinity: {} },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'kv', effect: 'NoSchedule' }],
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' }],
      nodeSelector: { disk: 'ssd' },
      priorityClassName: 'high',
    },
    tls: { mode: 'Secrets', serverSecretName: 'srv', peerSecretName: 'peer', caSecretName: 'ca' },
    backup: { destination: { bucket: 'backups', endpoint: 'http://minio:9000', forcePathStyle: true }, credentialsSecret: { name: 's3' } },
    bootstrap: { fromBackup: { backupName: 'nightly-1' } },
    nodeConfig: { electionTimeoutMs: 1000, heartbeatIntervalMs: 100, snapshotCount: 10000, quotaBackendBytes: '8Gi' },
  };
  assert.deepEqual(validateClusterSpec(full), []);
});

test('replicas must be 1, 3, 5 or 7', () => {
  for (const ok of [1, 3, 5, 7]) assert.deepEqual(validateClusterSpec({ replicas: ok }), []);
  oneProblem(validateClusterSpec({ replicas: 2 }), 'spec.replicas', /one of 1, 3, 5, 7.*got 2/);
  oneProblem(validateClusterSpec({ replicas: 9 }), 'spec.replicas');
  oneProblem(validateClusterSpec({ replicas: 0 }), 'spec.replicas');
  oneProblem(validateClusterSpec({ replicas: '3' }), 'spec.replicas', /got "3"/);
});

test('storage.size must be a positive quantity', () => {
  oneProblem(validateClusterSpec({ storage: { size: '10XYZ' } }), 'spec.storage.size', /"10XYZ" is not a positive quantity/);
  oneProblem(validateClusterSpec({ storage: { size: '0Gi' } }), 'spec.storage.size');
  oneProblem(validateClusterSpec({ storage: { size: 0 } }), 'spec.storage.size');
  oneProblem(validateClusterSpec({ storage: { size: '-1Gi' } }), 'spec.storage.size');
  for (const ok of ['1Gi', '1.5Gi', '500M', 1073741824, '1e9']) assert.deepEqual(validateClusterSpec({ storage: { size: ok } }), [], String(ok));
});

test('quantities elsewhere: quotaBackendBytes and resources', () => {
  oneProblem(validateClusterSpec({ nodeConfig: { quotaBackendBytes: '2 GiB' } }), 'spec.nodeConfig.quotaBackendBytes');
  oneProblem(validateClusterSpec({ resources: { requests: { cpu: 'lots' } } }), 'spec.resources.requests.cpu', /not a quantity/);
  assert.deepEqual(validateClusterSpec({ resources: { requests: { cpu: '250m' } } }), []);
});

test('auto compaction: a mode etcd knows, and a retention that fits it', () => {
  for (const ok of [{ autoCompactionRetention: '1h' }, { autoCompactionRetention: '5' }, { autoCompactionMode: 'periodic', autoCompactionRetention: '30m' }, { autoCompactionMode: 'revision', autoCompactionRetention: '1000' }]) {
    assert.deepEqual(validateClusterSpec({ nodeConfig: ok }), [], JSON.stringify(ok));
  }
  oneProblem(validateClusterSpec({ nodeConfig: { autoCompactionMode: 'hourly' } }), 'spec.nodeConfig.autoCompactionMode');
  oneProblem(validateClusterSpec({ nodeConfig: { autoCompactionMode: 'revision', autoCompactionRetention: '1h' } }), 'spec.nodeConfig.autoCompactionRetention', /number of revisions/);
  oneProblem(validateClusterSpec({ nodeConfig: { autoCompactionRetention: 'an hour' } }), 'spec.nodeConfig.autoCompactionRetention', /duration/);
});

test('clientWorkers: an integer from 0 to 64, refused otherwise with its path', () => {
  for (const ok of [0, 1, 4, 64]) assert.deepEqual(validateClusterSpec({ nodeConfig: { clientWorkers: ok } }), [], String(ok));
  assert.deepEqual(validateClusterSpec({ nodeConfig: { clientWorkers: 8, autoCompactionRetention: '1h', quotaBackendBytes: '8Gi' } }), []);
  oneProblem(validateClusterSpec({ nodeConfig: { clientWorkers: -1 } }), 'spec.nodeConfig.clientWorkers', /at least 0, got -1/);
  oneProblem(validateClusterSpec({ nodeConfig: { clientWorkers: 65 } }), 'spec.nodeConfig.clientWorkers', /at most 64, got 65/);
  oneProblem(validateClusterSpec({ nodeConfig: { clientWorkers: 1.5 } }), 'spec.nodeConfig.clientWorkers', /must be an integer/);
  oneProblem(validateClusterSpec({ nodeConfig: { clientWorkers: '4' } }), 'spec.nodeConfig.clientWorkers', /must be an integer/);
  oneProblem(validateClusterSpec({ nodeConfig: { clientWorker: 4 } }), 'spec.nodeConfig.clientWorker', /unknown field/);
});

test('enums and strings name their field', () => {
  oneProblem(validateClusterSpec({ tls: { mode: 'Auto' } }), 'spec.tls.mode', /OperatorManaged, Secrets, Disabled/);
  oneProblem(validateClusterSpec({ storage: { retentionPolicy: { whenScaled: 'Keep' } } }), 'spec.storage.retentionPolicy.whenScaled');
  oneProblem(validateClusterSpec({ version: 'v1 beta' }), 'spec.version', /image tag/);
  oneProblem(validateClusterSpec({ storage: { storageClassName: '' } }), 'spec.storage.storageClassName', /must not be empty/);
  oneProblem(validateClusterSpec({ podTemplate: { tolerations: [{ operator: 'In' }] } }), 'spec.podTemplate.tolerations[0].operator');
  oneProblem(
    validateClusterSpec({ podTemplate: { topologySpreadConstraints: [{ maxSkew: 0, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }] } }),
    'spec.podTemplate.topologySpreadConstraints[0].maxSkew',
  );
  oneProblem(validateClusterSpec({ podTemplate: { labels: { a: 1 } } }), 'spec.podTemplate.labels.a');
});

test('unknown fields are reported with their path', () => {
  oneProblem(validateClusterSpec({ replica: 3 }), 'spec.replica', /unknown field/);
  oneProblem(validateClusterSpec({ storage: { class: 'x' } }), 'spec.storage.class', /unknown field/);
});

test('TLS Secrets mode needs the server and peer Secrets', () => {
  const problems = validateClusterSpec({ tls: { mode: 'Secrets', serverSecretName: 's' } });
  oneProblem(problems, 'spec.tls.peerSecretName', /required when spec.tls.mode is Secrets/);
  assert.equal(validateClusterSpec({ tls: { mode: 'Secrets' } }).length, 2);
});

test('bootstrap.fromBackup needs exactly one of backupName and location', () => {
  oneProblem(validateClusterSpec({ bootstrap: { fromBackup: {} } }), 'spec.bootstrap.fromBackup', /exactly one/);
  oneProblem(
    validateClusterSpec({ bootstrap: { fromBackup: { backupName: 'b', location: { bucket: 'bkt', key: 'k' } } } }),
    'spec.bootstrap.fromBackup',
    /exactly one/,
  );
  assert.deepEqual(validateClusterSpec({ bootstrap: { fromBackup: { location: { bucket: 'bkt', key: 'a/b.snap' } } } }), []);
  oneProblem(validateClusterSpec({ bootstrap: { fromBackup: { location: { bucket: 'bkt' } } } }), 'spec.bootstrap.fromBackup.location.key', /required/);
});

test('backup destination and credentials', () => {
  oneProblem(validateClusterSpec({ backup: {} }), 'spec.backup.destination', /required/);
  oneProblem(validateClusterSpec({ backup: { destination: { bucket: 'b' } } }), 'spec.backup.destination.bucket', /at least 3/);
  oneProblem(validateClusterSpec({ backup: { destination: { bucket: 'bkt', endpoint: 'minio:9000' } } }), 'spec.backup.destination.endpoint', /http/);
  oneProblem(validateClusterSpec({ backup: { destination: { bucket: 'bkt' }, credentialsSecret: {} } }), 'spec.backup.credentialsSecret.name', /required/);
});

test('nodeConfig: ranges and election timeout >= 5 x heartbeat, with etcd defaults for the missing side', () => {
  oneProblem(validateClusterSpec({ nodeConfig: { electionTimeoutMs: 100, heartbeatIntervalMs: 100 } }), 'spec.nodeConfig.electionTimeoutMs', /5 times/);
  oneProblem(validateClusterSpec({ nodeConfig: { electionTimeoutMs: 300 } }), 'spec.nodeConfig.electionTimeoutMs', /300 < 5 x 100/);
  oneProblem(validateClusterSpec({ nodeConfig: { heartbeatIntervalMs: 500 } }), 'spec.nodeConfig.electionTimeoutMs', /1000 < 5 x 500/);
  assert.deepEqual(validateClusterSpec({ nodeConfig: { electionTimeoutMs: 500, heartbeatIntervalMs: 100 } }), []);
  oneProblem(validateClusterSpec({ nodeConfig: { snapshotCount: 0 } }), 'spec.nodeConfig.snapshotCount', /at least 1/);
  oneProblem(validateClusterSpec({ nodeConfig: { electionTimeoutMs: 1.5 } }), 'spec.nodeConfig.electionTimeoutMs', /integer/);
});

test('non-object input is reported, not thrown', () => {
  oneProblem(validateClusterSpec(null), 'spec', /object/);
  oneProblem(validateClusterSpec({ storage: 'big' }), 'spec.storage', /object/);
});

test('update rules: storageClassName, tls.mode and bootstrap cannot change', () => {
  const old = { storage: { storageClassName: 'fast' }, tls: { mode: 'OperatorManaged' }, bootstrap: { fromBackup: { backupName: 'b1' } } };
  assert.deepEqual(validateClusterSpec(structuredClone(old), old), []);
  assert.deepEqual(validateClusterSpec({ ...structuredClone(old), replicas: 5 }, old), []);
  oneProblem(validateClusterSpec({ ...old, storage: { storageClassName: 'slow' } }, old), 'spec.storage.storageClassName', /immutable.*"fast".*"slow"/);
  oneProblem(validateClusterSpec({ ...old, storage: {} }, old), 'spec.storage.storageClassName', /cannot be removed/);
  oneProblem(validateClusterSpec({ ...old, tls: { mode: 'Disabled' } }, old), 'spec.tls.mode', /immutable/);
  // An absent mode means the default, OperatorManaged: no change.
  assert.deepEqual(validateClusterSpec({ ...old, tls: {} }, old), []);
  oneProblem(validateClusterSpec({ ...old, bootstrap: { fromBackup: { backupName: 'b2' } } }, old), 'spec.bootstrap', /immutable/);
  oneProblem(validateClusterSpec({ storage: old.storage, tls: old.tls }, old), 'spec.bootstrap', /immutable/);
  // Setting a class for the first time is allowed.
  assert.deepEqual(validateClusterSpec({ storage: { storageClassName: 'fast' } }, {}), []);
});

test('KVBackup spec', () => {
  assert.deepEqual(validateBackupSpec({ cluster: 'prod' }), []);
  oneProblem(validateBackupSpec({}), 'spec.cluster', /required/);
  oneProblem(validateBackupSpec({ cluster: 'Prod_1' }), 'spec.cluster', /KVCluster/);
  oneProblem(validateBackupSpec({ cluster: 'prod', destination: { prefix: 'x' } }), 'spec.destination.bucket', /required/);
  oneProblem(validateBackupSpec({ cluster: 'other' }, { cluster: 'prod' }), 'spec', /immutable/);
  assert.deepEqual(validateBackupSpec({ cluster: 'prod' }, { cluster: 'prod' }), []);
});

test('KVBackupSchedule spec: cron fields, retention, suspend', () => {
  assert.deepEqual(validateBackupScheduleSpec({ cluster: 'prod', schedule: '30 2 * * *', retention: { keepLast: 7, maxAge: '168h' } }), []);
  assert.deepEqual(validateBackupScheduleSpec({ cluster: 'prod', schedule: '*/10 0-6 1,15 jan-mar MON-FRI' }), []);
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '0 3 * *' }), 'spec.schedule', /five fields/);
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '60 3 * * *' }), 'spec.schedule', /minute field "60"/);
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '0 24 * * *' }), 'spec.schedule', /hour/);
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '0 3 0 * *' }), 'spec.schedule', /day of month/);
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '0 3 * * 5-1' }), 'spec.schedule', /day of week/);
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '*/0 3 * * *' }), 'spec.schedule', /minute/);
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '0 3 * * *', retention: { keepLast: 0 } }), 'spec.retention.keepLast');
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '0 3 * * *', retention: { maxAge: '7d' } }), 'spec.retention.maxAge', /duration/);
  oneProblem(validateBackupScheduleSpec({ cluster: 'prod', schedule: '0 3 * * *', suspend: 'yes' }), 'spec.suspend');
  assert.equal(validateBackupScheduleSpec({}).length, 2);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESTORE_EXIT_CODES } from '../../../../contract/index.js';
import type { KVCluster, RestoreStatus } from '../../../../operator/api/index.js';
import { manifestKeyOf, resolveRestoreSource } from '../../../../operator/backup/restore-source.js';
import { encodeManifest, type BackupManifest } from '../../../../operator/backup/manifest.js';
import { ObjectStoreError, type ObjectStore } from '../../../../operator/backup/object-store.js';
import { buildStatefulSet } from '../../../../operator/cluster/builders.js';
import { restoreFailures, verifyRestore } from '../../../../operator/cluster/restore-step.js';

const restore: RestoreStatus = {
  source: 's3://b/p/ns/c/bk/snapshot.kvsnap',
  restoreID: 'uid-1',
  revision: 500,
  sha256: 'ab'.repeat(32),
  hashKv: 42,
  phase: 'Restoring',
  target: { destination: { bucket: 'b', prefix: 'p', endpoint: 'http://s3:9000' }, credentialsSecret: { name: 's3' } },
  snapshotKey: 'p/ns/c/bk/snapshot.kvsnap',
};

test('a location may name the backup directory, its manifest or its snapshot', () => {
  assert.equal(manifestKeyOf('p/ns/c/bk/'), 'p/ns/c/bk/manifest.json');
  assert.equal(manifestKeyOf('p/ns/c/bk'), 'p/ns/c/bk/manifest.json');
  assert.equal(manifestKeyOf('p/ns/c/bk/manifest.json'), 'p/ns/c/bk/manifest.json');
  assert.equal(manifestKeyOf('p/ns/c/bk/snapshot.kvsnap'), 'p/ns/c/bk/manifest.json');
});

const cluster = (fromBackup: object): KVCluster => ({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'r', namespace: 'ns', uid: 'u' }, spec: { replicas: 3, bootstrap: { fromBackup } } });

test('resolving a restore names the object and the cause when it cannot be read', async () => {
  const manifest: BackupManifest = { formatVersion: 1, cluster: { name: 'c', namespace: 'ns', id: '1' }, backup: 'bk', kvorumVersion: '3.5.0', member: { name: 'c-0', id: '2' }, revision: 500, compactRevision: 0, raftIndex: 9, raftTerm: 2, hashKv: 42, sha256: 'ab'.repeat(32), size: 10, snapshotKey: 'x/snapshot.kvsnap', startedAt: 't', completedAt: 't' };
  const store = (get: (key: string) => Promise<string>): ObjectStore => ({ getText: get } as unknown as ObjectStore);
  const deps = (s: ObjectStore) => ({ getBackup: () => undefined, credentials: async () => ({ accessKeyId: 'a', secretAccessKey: 'b' }), objectStore: () => s });
  const ok = await resolveRestoreSource(cluster({ location: { bucket: 'b', key: 'x/' } }), { location: { bucket: 'b', key: 'x/' } }, deps(store(async () => encodeManifest(manifest))));
  assert.equal(ok.snapshotKey, 'x/snapshot.kvsnap');
  assert.equal(ok.manifest.revision, 500);
  await assert.rejects(
    resolveRestoreSource(cluster({}), { location: { bucket: 'b', key: 'gone/' } }, deps(store(async () => { throw new ObjectStoreError('ObjectNotFound', 'x', false); }))),
    (e: unknown) => (e as { reason?: string }).reason === 'BackupNotFound' && /s3:\/\/b\/gone\/manifest\.json: no such object/.test((e as Error).message),
  );
  await assert.rejects(
    resolveRestoreSource(cluster({}), { location: { bucket: 'b', key: 'x/' } }, deps(store(async () => '{"formatVersion": 9}'))),
    (e: unknown) => (e as { reason?: string }).reason === 'BackupManifestInvalid',
  );
  await assert.rejects(resolveRestoreSource(cluster({}), { backupName: 'nope' }, deps(store(async () => ''))), (e: unknown) => (e as { reason?: string }).reason === 'BackupNotFound');
});

test('the StatefulSet of a restored cluster runs the restore init container with the backup\'s object, checksum and credentials', () => {
  const sts = buildStatefulSet(cluster({ backupName: 'bk' }), { tls: { scheme: 'http', args: [], env: [], volumes: [], volumeMounts: [] } as never, replicas: 3, restore }) as unknown as { spec: { template: { spec: { initContainers?: { name: string; args: string[]; env: { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[] }[]; volumes: { name: string }[] } } } };
  const init = sts.spec.template.spec.initContainers?.[0];
  assert.ok(init, 'an init container');
  assert.equal(init.name, 'restore');
  for (const flag of ['--bucket=b', '--key=p/ns/c/bk/snapshot.kvsnap', `--sha256=${'ab'.repeat(32)}`, '--restore-id=uid-1', '--endpoint=http://s3:9000', '--force-path-style']) assert.ok(init.args.includes(flag), flag);
  assert.equal(init.env.find((e) => e.name === 'AWS_SECRET_ACCESS_KEY')?.valueFrom?.secretKeyRef?.name, 's3');
  assert.ok(init.env.some((e) => e.name === 'ETCD_INITIAL_CLUSTER_STATE'), 'it acts only while the cluster is founded');
  assert.ok(sts.spec.template.spec.volumes.some((v) => v.name === 'restore-scratch'));
  const plain = buildStatefulSet(cluster({}), { tls: { scheme: 'http', args: [], env: [], volumes: [], volumeMounts: [] } as never, replicas: 3 }) as unknown as { spec: { template: { spec: { initContainers?: unknown[] } } } };
  assert.equal(plain.spec.template.spec.initContainers, undefined);
});

test('a failed restore init container is reported with its cause; HashKV is checked on every member', async () => {
  const pod = (code: number) => ({ metadata: { name: 'r-0' }, status: { initContainerStatuses: [{ name: 'restore', lastState: { terminated: { exitCode: code } } }] } });
  assert.deepEqual(restoreFailures([pod(RESTORE_EXIT_CODES.checksumMismatch)], restore), { reason: 'BackupCorrupt', message: 'member r-0 could not be restored from s3://b/p/ns/c/bk/snapshot.kvsnap: the object is corrupt (checksum mismatch); no member serves until the backup can be read' });
  assert.equal(restoreFailures([pod(RESTORE_EXIT_CODES.objectNotFound)], restore)?.reason, 'BackupNotFound');
  assert.equal(restoreFailures([{ metadata: { name: 'r-0' }, status: {} }], restore), undefined);
  const verified = await verifyRestore(restore, ['a', 'b', 'c'], async () => ({ hash: 42 }));
  assert.equal(verified?.status.phase, 'Verified');
  const mismatch = await verifyRestore(restore, ['a', 'b'], async (ep) => ({ hash: ep === 'a' ? 42 : 7 }));
  assert.equal(mismatch?.status.phase, 'HashMismatch');
  assert.equal(mismatch?.event?.type, 'Warning');
  assert.equal(await verifyRestore(restore, ['a', 'b'], async (ep) => { if (ep === 'b') throw new Error('down'); return { hash: 42 }; }), undefined, 'a member that does not answer: try again later');
  assert.equal(await verifyRestore({ ...restore, phase: 'Verified' }, ['a'], async () => ({ hash: 1 })), undefined, 'checked once');
});

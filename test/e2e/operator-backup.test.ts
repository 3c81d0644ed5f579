// Acceptance (issue 11) on the test control plane with its MinIO server:
// on-demand backups under writes land in the bucket with a manifest whose
// sha256 matches the object; the finalizer deletes the objects unless Retain;
// a new cluster restored from a backup holds every write acknowledged before
// it and its HashKV matches; a corrupt or missing object leaves the new
// cluster Degraded naming it; a schedule running every minute keeps exactly keepLast
// Completed backups (as KVBackups and as objects), a pinned one survives and
// suspend stops new ones; wrong credentials, a missing bucket and an
// unreachable endpoint each end Failed naming the cause, and the cluster's
// data is untouched.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeList, KubeObject } from './kube/client.js';
import { readS3 } from './env/cluster.js';
import { net } from './env/config.js';
import { findLostWrites } from './operator/checker.js';
import { MemberClients, memberEndpoints, readClientTLS, type ClientTLS } from './operator/etcd-client.js';
import { runEtcdctlPod } from './operator/etcdctl-pod.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { kvcPath, waitAvailable } from './operator/kvcluster.js';
import { createNamespace, deleteNamespace, eventually, kubeClient, kubectl, note } from './operator/util.js';
import { ContinuousWriter } from './operator/writer.js';
import { parseManifest } from '../../operator/backup/manifest.js';

const NAME = 'bk';
const BUCKET = `kvorum-e2e-${Date.now().toString(36)}`;
const backupsPath = (ns: string, name = ''): string => `/apis/kvorum.io/v1alpha1/namespaces/${ns}/kvbackups${name ? `/${name}` : ''}`;
const schedulePath = (ns: string, name = ''): string => `/apis/kvorum.io/v1alpha1/namespaces/${ns}/kvbackupschedules${name ? `/${name}` : ''}`;

describe('backups to S3: on demand, scheduled with retention, and failures named by cause', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let tls: ClientTLS;
  let s3: S3Client;
  let writer: ContinuousWriter;
  /** Writes acknowledged before the backup `for-restore` was asked for. */
  let beforeBackup = new Map<string, string>();
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));
  const apply = async (obj: unknown): Promise<void> => {
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(obj));
    assert.equal(r.code, 0, r.err);
  };
  const backup = (name: string): Promise<KubeObject | undefined> => kube.find(backupsPath(ns, name));
  const keysUnder = async (prefix: string): Promise<string[]> => ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key ?? '');
  const waitPhase = (name: string, phases: string[], timeoutMs: number): Promise<KubeObject> =>
    eventually(`KVBackup ${name} ${phases.join('/')}`, timeoutMs, async () => {
      const b = await backup(name);
      return b && phases.includes(b.status?.phase as string) ? b : undefined;
    }, async () => `${JSON.stringify((await backup(name))?.status)}\n${(await logs()).slice(-3000)}`);

  before(async () => {
    kube = kubeClient();
    const info = readS3();
    s3 = new S3Client({ endpoint: info.endpoint, region: info.region, forcePathStyle: true, credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    opNs = await createNamespace(kube, 'kvop-bk');
    ns = await createNamespace(kube, 'kvc-bk');
    op = await installOperator(kube, opNs, { sets: ['replicaCount=1'] });
    const secret = (name: string, id: string, key: string): unknown => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: key } });
    await apply(secret('s3', info.accessKeyId, info.secretAccessKey));
    await apply(secret('s3-wrong', info.accessKeyId, 'not-the-key'));
    await apply({
      apiVersion: 'kvorum.io/v1alpha1',
      kind: 'KVCluster',
      metadata: { name: NAME },
      spec: { replicas: 3, backup: { destination: { bucket: BUCKET, prefix: 'e2e', endpoint: info.endpoint, forcePathStyle: true }, credentialsSecret: { name: 's3' } } },
    });
    await waitAvailable(kube, ns, NAME, 3, 240_000, logs);
    tls = await readClientTLS(kube, ns, `${NAME}-client-tls`);
    writer = new ContinuousWriter({ kube, namespace: ns, cluster: NAME, tls, prefix: 'w/', maxWrites: 20_000, maxDurationMs: 15 * 60_000, concurrency: 2, pauseMs: 20 }).start();
  });

  after(async () => {
    await writer?.stop();
    for (const path of [schedulePath(ns), backupsPath(ns)]) await kube.delete(path).catch(() => false);
    for (const c of [NAME, 'restored', 'corrupt', 'missing']) await kube.delete(kvcPath(ns, c)).catch(() => false);
    await eventually('KVBackups gone', 60_000, async () => ((await kube.get<KubeList>(backupsPath(ns))).items.length === 0 ? true : undefined)).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
    s3?.destroy();
  });

  test('on demand under writes: Completed with a manifest whose sha256 matches the object; deleting it deletes the objects unless Retain', async () => {
    await eventually('the writer is writing', 60_000, async () => (writer.acknowledged.size >= 300 ? true : undefined));
    const started = Date.now();
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackup', metadata: { name: 'once' }, spec: { cluster: NAME } });
    const done = await waitPhase('once', ['Completed', 'Failed'], 120_000);
    const st = done.status as Record<string, unknown>;
    assert.equal(st.phase, 'Completed', JSON.stringify(st));
    note(`backup under writes: revision ${st.revision}, ${st.size} bytes from ${st.member} in ${Date.now() - started} ms`);
    assert.equal(st.location, `s3://${BUCKET}/e2e/${ns}/${NAME}/once/snapshot.kvsnap`);
    const keys = await keysUnder(`e2e/${ns}/${NAME}/once/`);
    assert.deepEqual(keys.sort(), [`e2e/${ns}/${NAME}/once/manifest.json`, `e2e/${ns}/${NAME}/once/snapshot.kvsnap`]);
    const manifest = parseManifest(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `e2e/${ns}/${NAME}/once/manifest.json` }))).Body!.transformToString());
    const object = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: manifest.snapshotKey }))).Body!.transformToByteArray());
    assert.equal(createHash('sha256').update(object).digest('hex'), manifest.sha256, 'the object is what the manifest says');
    assert.equal(object.length, manifest.size);
    assert.equal(manifest.revision, st.revision);
    assert.ok(manifest.revision > 300, `the backup holds the writes made before it (revision ${manifest.revision})`);
    assert.equal(manifest.sha256, st.sha256);
    assert.ok(typeof manifest.hashKv === 'number', 'the manifest records HashKV at the revision');
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads?.length ?? 0, 0, 'no unfinished uploads');

    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackup', metadata: { name: 'kept' }, spec: { cluster: NAME, deletionPolicy: 'Retain' } });
    const kept = await waitPhase('kept', ['Completed', 'Failed'], 120_000);
    assert.equal(kept.status?.phase, 'Completed', JSON.stringify(kept.status));
    await kube.delete(backupsPath(ns, 'once'));
    await kube.delete(backupsPath(ns, 'kept'));
    await eventually('both KVBackups gone', 60_000, async () => ((await backup('once')) === undefined && (await backup('kept')) === undefined ? true : undefined));
    assert.deepEqual(await keysUnder(`e2e/${ns}/${NAME}/once/`), [], 'Delete policy: the objects went with the KVBackup');
    assert.equal((await keysUnder(`e2e/${ns}/${NAME}/kept/`)).length, 2, 'Retain: the objects stay');
  });

  test('restore into a new cluster: every write acknowledged before the backup is there with its value, HashKV matches, etcdctl works', async () => {
    const before = new Map(writer.acknowledged);
    beforeBackup = before;
    assert.ok(before.size > 0);
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackup', metadata: { name: 'for-restore' }, spec: { cluster: NAME, deletionPolicy: 'Retain' } });
    const done = await waitPhase('for-restore', ['Completed', 'Failed'], 120_000);
    assert.equal(done.status?.phase, 'Completed', JSON.stringify(done.status));
    const started = Date.now();
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'restored' }, spec: { replicas: 3, bootstrap: { fromBackup: { backupName: 'for-restore' } } } });
    const restored = await eventually('the restored cluster Available and verified', 240_000, async () => {
      const c = await kube.find(kvcPath(ns, 'restored'));
      const restore = c?.status?.restore as { phase?: string } | undefined;
      return restore?.phase === 'Verified' || restore?.phase === 'HashMismatch' ? c : undefined;
    }, async () => `${JSON.stringify((await kube.find(kvcPath(ns, 'restored')))?.status)}\n${(await logs()).slice(-2000)}`, 2000);
    const restore = restored.status?.restore as Record<string, unknown>;
    assert.equal(restore.phase, 'Verified', String(restore.message));
    assert.equal(restore.revision, done.status?.revision);
    note(`restore of a new 3-member cluster from revision ${restore.revision}: verified in ${Date.now() - started} ms (${restore.message})`);
    await waitAvailable(kube, ns, 'restored', 3, 120_000, logs);
    assert.notEqual(restored.status?.clusterID, (await kube.get<KubeObject>(kvcPath(ns, NAME))).status?.clusterID, 'a new cluster ID');
    const rtls = await readClientTLS(kube, ns, 'restored-client-tls');
    const lost = await findLostWrites({ kube, namespace: ns, cluster: 'restored', tls: rtls }, 'w/', before);
    assert.equal(lost.missing.length + lost.wrongValue.length, 0, `writes acknowledged before the backup and missing after the restore: ${[...lost.missing, ...lost.wrongValue].slice(0, 5).join(', ')}`);
    note(`restored cluster holds all ${lost.checked} writes acknowledged before the backup`);
    const run = await runEtcdctlPod(kube, { namespace: ns, endpoint: `https://restored-client.${ns}.svc:2379`, tlsSecret: 'restored-client-tls', script: '$ETCDCTL put after-restore yes && $ETCDCTL get after-restore --print-value-only' });
    assert.equal(run.exitCode, 0, run.log);
    assert.match(run.log, /yes/);
    await kube.delete(kvcPath(ns, 'restored'));
  });

  test('a corrupted object (one byte flipped) or a missing one leaves the new cluster Degraded naming the cause; nothing serves', async () => {
    const b = await backup('for-restore');
    const dir = `e2e/${ns}/${NAME}/for-restore/`;
    const manifestText = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${dir}manifest.json` }))).Body!.transformToString();
    const object = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${dir}snapshot.kvsnap` }))).Body!.transformToByteArray());
    object[Math.floor(object.length / 2)] ^= 0xff;
    const badDir = `e2e/copies/corrupt/`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${badDir}snapshot.kvsnap`, Body: object }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${badDir}manifest.json`, Body: manifestText.replace(`${dir}snapshot.kvsnap`, `${badDir}snapshot.kvsnap`) }));
    const info = readS3();
    const location = (key: string): unknown => ({ bucket: BUCKET, key, endpoint: info.endpoint, forcePathStyle: true, credentialsSecret: { name: 's3' } });
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'corrupt' }, spec: { replicas: 1, bootstrap: { fromBackup: { location: location(badDir) } } } });
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: 'missing' }, spec: { replicas: 1, bootstrap: { fromBackup: { location: location('e2e/copies/nothing-here/') } } } });
    const degraded = (name: string, reason: string): Promise<KubeObject> =>
      eventually(`${name} Degraded ${reason}`, 180_000, async () => {
        const c = await kube.find(kvcPath(ns, name));
        const d = ((c?.status?.conditions ?? []) as { type: string; status: string; reason: string }[]).find((x) => x.type === 'Degraded');
        return d?.status === 'True' && d.reason === reason ? c : undefined;
      }, async () => JSON.stringify((await kube.find(kvcPath(ns, name)))?.status?.conditions), 2000);
    const corrupt = await degraded('corrupt', 'BackupCorrupt');
    const cmsg = ((corrupt.status?.conditions ?? []) as { type: string; message: string }[]).find((x) => x.type === 'Degraded')!.message;
    assert.match(cmsg, new RegExp(`s3://${BUCKET}/${badDir}snapshot.kvsnap.*corrupt`));
    note(`corrupt: ${cmsg}`);
    const missing = await degraded('missing', 'BackupNotFound');
    const mmsg = ((missing.status?.conditions ?? []) as { type: string; message: string }[]).find((x) => x.type === 'Degraded')!.message;
    assert.match(mmsg, /e2e\/copies\/nothing-here\/manifest\.json: no such object/);
    note(`missing: ${mmsg}`);
    assert.equal(await kube.find(`/apis/apps/v1/namespaces/${ns}/statefulsets/missing`), undefined, 'nothing is created for a backup that cannot be read');
    const pods = (await kube.get<KubeList>(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent('kvorum.io/cluster=corrupt')}`)).items;
    assert.ok(pods.every((p) => p.status?.phase !== 'Running' || !(p.status?.containerStatuses as { ready?: boolean }[] | undefined)?.some((cs) => cs.ready)), 'no member of the corrupt restore serves');
    assert.equal(b?.status?.phase, 'Completed', 'the source backup is untouched');
    for (const n of ['corrupt', 'missing']) await kube.delete(kvcPath(ns, n));
  });

  test('a schedule every minute keeps exactly keepLast Completed backups; a pinned one survives; suspend stops it', async () => {
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackupSchedule', metadata: { name: 'every-minute' }, spec: { cluster: NAME, schedule: '* * * * *', immediate: true, retention: { keepLast: 2 } } });
    const mine = async (): Promise<KubeObject[]> =>
      (await kube.get<KubeList>(`${backupsPath(ns)}?labelSelector=${encodeURIComponent('kvorum.io/backup-schedule=every-minute')}`)).items;
    // Pin the first one once it completes.
    const first = await eventually('the immediate backup completes', 120_000, async () => (await mine()).find((b) => b.status?.phase === 'Completed'));
    const pinned = first.metadata.name!;
    const r = await kubectl(['label', '-n', ns, 'kvbackup', pinned, 'kvorum.io/pinned=true']);
    assert.equal(r.code, 0, r.err);
    const seen = new Set<string>();
    const settled = await eventually('four runs and pruning to keepLast', 330_000, async () => {
      const list = await mine();
      for (const b of list) seen.add(b.metadata.name!);
      const completed = list.filter((b) => b.status?.phase === 'Completed' && b.metadata.name !== pinned);
      return seen.size >= 4 && completed.length === 2 && list.every((b) => b.status?.phase === 'Completed') ? list : undefined;
    }, async () => `seen ${[...seen].join(',')}; now ${(await mine()).map((b) => `${b.metadata.name}:${b.status?.phase}`).join(',')}`, 2000);
    const names = settled.map((b) => b.metadata.name!).sort();
    assert.ok(names.includes(pinned), 'the pinned backup was not pruned');
    note(`schedule: ${seen.size} backups taken, kept ${names.join(', ')} (keepLast 2 + pinned)`);
    const dirs = new Set((await keysUnder(`e2e/${ns}/${NAME}/every-minute-`)).map((k) => k.split('/')[3]!));
    assert.deepEqual([...dirs].sort(), names, 'the bucket holds exactly the kept backups');
    const schedule = await kube.get<KubeObject>(schedulePath(ns, 'every-minute'));
    assert.ok(schedule.status?.nextScheduleTime, 'status shows the next run');
    assert.ok(schedule.status?.lastSuccessfulTime, 'and the last success');

    const cluster = await kube.get<KubeObject>(kvcPath(ns, NAME));
    assert.ok(cluster.status?.lastSuccessfulBackup, 'the KVCluster shows its last successful backup');

    const s = await kubectl(['patch', '-n', ns, 'kvbackupschedule', 'every-minute', '--type=merge', '-p', '{"spec":{"suspend":true}}']);
    assert.equal(s.code, 0, s.err);
    await new Promise((res) => setTimeout(res, 5000));
    const before = new Set((await mine()).map((b) => b.metadata.name));
    await new Promise((res) => setTimeout(res, 75_000));
    const later = (await mine()).filter((b) => !before.has(b.metadata.name));
    assert.deepEqual(later.map((b) => b.metadata.name), [], 'no backup while suspended');
  });

  test('wrong credentials, a missing bucket and an unreachable endpoint each fail naming the cause; the data is untouched', async () => {
    const info = readS3();
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackup', metadata: { name: 'bad-creds' }, spec: { cluster: NAME, credentialsSecret: { name: 's3-wrong' } } });
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVBackup', metadata: { name: 'no-bucket' }, spec: { cluster: NAME, destination: { bucket: 'no-such-bucket-e2e', endpoint: info.endpoint, forcePathStyle: true } } });
    await apply({
      apiVersion: 'kvorum.io/v1alpha1',
      kind: 'KVBackup',
      metadata: { name: 'unreachable' },
      spec: { cluster: NAME, deadlineSeconds: 60, destination: { bucket: BUCKET, endpoint: `http://${net.hostIP}:9`, forcePathStyle: true } },
    });
    const expect = async (name: string, reason: string, message: RegExp): Promise<void> => {
      const b = await waitPhase(name, ['Completed', 'Failed'], 180_000);
      assert.equal(b.status?.phase, 'Failed', `${name}: ${JSON.stringify(b.status)}`);
      assert.equal(b.status?.reason, reason, `${name}: ${b.status?.error}`);
      assert.match(b.status?.error as string, message);
      note(`${name}: ${b.status?.reason}: ${b.status?.error}`);
    };
    await expect('bad-creds', 'InvalidCredentials', /refused the credentials/);
    await expect('no-bucket', 'BucketNotFound', /no-such-bucket-e2e.*bucket does not exist/);
    await expect('unreachable', 'Unreachable', /cannot reach the object store/);
    const unreachable = await backup('unreachable');
    assert.ok((unreachable?.status?.attempts as number) >= 3, `retried with back-off: ${unreachable?.status?.attempts} attempts`);
    const events = (await kube.get<KubeList>(`/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent('involvedObject.kind=KVBackup,involvedObject.name=bad-creds')}`)).items;
    assert.ok(events.some((e) => e.reason === 'InvalidCredentials'), 'a Warning Event names the cause');

    const report = await writer.stop();
    note(`writer: ${report.acknowledged} acknowledged, ${report.failed} failed, longest gap ${report.longestGapMs} ms`);
    const lost = await findLostWrites({ kube, namespace: ns, cluster: NAME, tls }, 'w/', writer.acknowledged);
    assert.equal(lost.missing.length, 0, `acknowledged writes lost: ${lost.missing.slice(0, 5).join(', ')}`);
    assert.ok(report.acknowledged > 0);
  });

  test('in-place restore rolls the cluster back to the backup (new cluster ID) and it is Available again', async () => {
    assert.ok(beforeBackup.size > 0, 'the restore test ran first');
    const oldID = (await kube.get<KubeObject>(kvcPath(ns, NAME))).status?.clusterID;
    const clients = new MemberClients(tls);
    try {
      const eps = await memberEndpoints(kube, ns, NAME);
      await clients.get(eps[0]!).put('after-backup', 'must-vanish', 10_000);
    } finally {
      clients.close();
    }
    const started = Date.now();
    await apply({ apiVersion: 'kvorum.io/v1alpha1', kind: 'KVRestore', metadata: { name: 'rollback' }, spec: { cluster: NAME, backupName: 'for-restore' } });
    const path = `/apis/kvorum.io/v1alpha1/namespaces/${ns}/kvrestores/rollback`;
    const done = await eventually('KVRestore rollback finished', 300_000, async () => {
      const r = await kube.find(path);
      return r?.status?.phase === 'Completed' || r?.status?.phase === 'Failed' ? r : undefined;
    }, async () => `${JSON.stringify((await kube.find(path))?.status)}\n${JSON.stringify((await kube.find(kvcPath(ns, NAME)))?.status?.conditions)}\n${(await logs()).slice(-3000)}`, 2000);
    assert.equal(done.status?.phase, 'Completed', JSON.stringify(done.status));
    note(`in-place restore: ${Date.now() - started} ms; ${done.status?.message}`);
    const kvc = await waitAvailable(kube, ns, NAME, 3, 120_000, logs);
    assert.notEqual(kvc.status?.clusterID, oldID, 'the cluster came back with a new cluster ID');
    const lost = await findLostWrites({ kube, namespace: ns, cluster: NAME, tls }, 'w/', beforeBackup);
    assert.equal(lost.missing.length + lost.wrongValue.length, 0, `writes from before the backup missing after the rollback: ${lost.missing.slice(0, 5).join(', ')}`);
    const after = await findLostWrites({ kube, namespace: ns, cluster: NAME, tls }, 'after-backup', new Map([['after-backup', 'must-vanish']]));
    assert.equal(after.missing.length, 1, 'a write made after the backup is gone: the cluster is back at the backup\'s state');
  });
});

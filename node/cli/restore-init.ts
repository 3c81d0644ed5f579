// `kvorum backup restore-init`: the init container of a member pod of a
// cluster restored from a backup. It fetches the snapshot object from S3,
// checks its SHA-256 against the manifest's, and builds the member's data
// dir from it (node/backup/restore.ts) before the member starts. It acts
// only while the cluster is being founded (ETCD_INITIAL_CLUSTER_STATE=new)
// and once per restore: a marker in the data dir holds the restore's ID, so a
// restarted pod keeps the data it has, and a new restore ID (an in-place
// restore) replaces it.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RESTORE_EXIT_CODES, RESTORE_MARKER_FILE } from '../../contract/index.js';
import { BackupFileError } from '../backup/backup-file.js';
import { parseInitialCluster, restoreSnapshot } from '../backup/restore.js';

class RestoreInitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

const USAGE = `usage: kvorum backup restore-init --bucket B --key K --sha256 HEX --restore-id ID
    --name NAME --data-dir DIR --initial-advertise-peer-urls URL --initial-cluster-token TOKEN
    [--initial-cluster NAME=URL,...] [--endpoint URL] [--region R] [--force-path-style] [--scratch-dir DIR]
  credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; --initial-cluster and the
  cluster state default to ETCD_INITIAL_CLUSTER and ETCD_INITIAL_CLUSTER_STATE`;

export async function runRestoreInit(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      bucket: { type: 'string' },
      key: { type: 'string' },
      sha256: { type: 'string' },
      'restore-id': { type: 'string' },
      endpoint: { type: 'string' },
      region: { type: 'string', default: 'us-east-1' },
      'force-path-style': { type: 'boolean', default: false },
      name: { type: 'string' },
      'data-dir': { type: 'string' },
      'scratch-dir': { type: 'string' },
      'initial-cluster': { type: 'string' },
      'initial-cluster-token': { type: 'string', default: 'etcd-cluster' },
      'initial-advertise-peer-urls': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const need = (v: string | undefined, flag: string): string => {
    if (!v) throw new Error(`--${flag} is required\n${USAGE}`);
    return v;
  };
  const bucket = need(values.bucket, 'bucket');
  const key = need(values.key, 'key');
  const expected = need(values.sha256, 'sha256').toLowerCase();
  const restoreId = need(values['restore-id'], 'restore-id');
  const name = need(values.name, 'name');
  const dataDir = need(values['data-dir'], 'data-dir');
  const advertise = need(values['initial-advertise-peer-urls'], 'initial-advertise-peer-urls').split(',');
  const initial = need(values['initial-cluster'] ?? process.env.ETCD_INITIAL_CLUSTER, 'initial-cluster');
  const where = `s3://${bucket}/${key}`;
  const say = (msg: string): void => void process.stdout.write(`restore-init: ${msg}\n`);

  if ((process.env.ETCD_INITIAL_CLUSTER_STATE ?? 'new') !== 'new') {
    say('the cluster is already founded; this member keeps (or joins with) its own data');
    return 0;
  }
  const marker = join(dataDir, RESTORE_MARKER_FILE);
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === restoreId) {
    say(`data dir already restored for ${restoreId}`);
    return 0;
  }
  try {
    const scratch = values['scratch-dir'] ?? join(dataDir, '..');
    await mkdir(scratch, { recursive: true });
    const file = join(scratch, `restore-${process.pid}.kvsnap`);
    const got = await download({ bucket, key, endpoint: values.endpoint, region: values.region, forcePathStyle: values['force-path-style'] }, file, where);
    if (got !== expected) throw new RestoreInitError(RESTORE_EXIT_CODES.checksumMismatch, `${where}: sha256 ${got} does not match the manifest's ${expected}: the object is corrupt`);
    // A different restore (or a half-done one) left data: this restore replaces it.
    await clearDataDir(dataDir);
    const result = await restoreSnapshot({
      snapshotPath: file,
      dataDir,
      name,
      initialCluster: parseInitialCluster(initial),
      initialClusterToken: values['initial-cluster-token'],
      initialAdvertisePeerUrls: advertise.map((u) => u.replace(/\/+$/, '')),
    }).catch((err: unknown) => {
      if (err instanceof BackupFileError) throw new RestoreInitError(RESTORE_EXIT_CODES.checksumMismatch, `${where}: ${err.reason}: the object is corrupt`);
      throw err;
    });
    await writeFile(marker, `${restoreId}\n`);
    await rm(file, { force: true });
    say(`restored ${where} at revision ${result.revision} into ${dataDir} (member ${result.memberId.toString(16)}, cluster ${result.clusterId.toString(16)})`);
    return 0;
  } catch (err) {
    const code = err instanceof RestoreInitError ? err.exitCode : 1;
    const message = (err as Error).message;
    process.stderr.write(`restore-init: ${message}\n`);
    // The kubelet puts this file's text in the container's terminated state.
    await writeFile('/dev/termination-log', message).catch(() => undefined);
    return code;
  }
}

interface Source {
  bucket: string;
  key: string;
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
}

/** Streams the object to `file` and returns its SHA-256. */
async function download(src: Source, file: string, where: string): Promise<string> {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new RestoreInitError(RESTORE_EXIT_CODES.credentials, `${where}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set`);
  const client = new S3Client({
    region: src.region,
    ...(src.endpoint && { endpoint: src.endpoint }),
    forcePathStyle: src.forcePathStyle || !!src.endpoint,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
  });
  let body: Readable;
  try {
    body = (await client.send(new GetObjectCommand({ Bucket: src.bucket, Key: src.key }))).Body as Readable;
  } catch (err) {
    throw classify(err, where);
  }
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, tap, createWriteStream(file));
  } catch (err) {
    throw classify(err, where);
  } finally {
    client.destroy();
  }
  return hash.digest('hex');
}

function classify(err: unknown, where: string): Error {
  const e = err as { name?: string; code?: string; message?: string };
  const name = e.name ?? '';
  if (name === 'NoSuchKey' || name === 'NoSuchBucket' || name === 'NotFound') return new RestoreInitError(RESTORE_EXIT_CODES.objectNotFound, `${where}: ${name === 'NoSuchBucket' ? 'the bucket does not exist' : 'no such object'}`);
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'AccessDenied') return new RestoreInitError(RESTORE_EXIT_CODES.credentials, `${where}: the object store refused the credentials (${name})`);
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET'].includes(e.code ?? '') || name === 'TimeoutError') {
    return new RestoreInitError(RESTORE_EXIT_CODES.unreachable, `${where}: cannot reach the object store (${e.code ?? name})`);
  }
  return new Error(`${where}: ${e.message ?? String(err)}`);
}

/** Empties the data dir (a volume's lost+found stays). */
async function clearDataDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const entry of await readdir(dir)) {
    if (entry === 'lost+found') continue;
    await rm(join(dir, entry), { recursive: true, force: true });
  }
}

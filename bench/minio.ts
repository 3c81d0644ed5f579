// A throwaway MinIO server on 127.0.0.1 for the backup row: the binary the
// e2e tools build (test/e2e/tools/build.sh, built when missing), a fresh data
// dir, one bucket. The e2e environment starts its MinIO inside its own
// control-plane bring-up, which is not reusable here, so this is the small
// bench-side equivalent.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { portFree, runCommand, sleep } from './proc.js';

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

const USER = 'kvorum-bench';
const SECRET = 'kvorum-bench-secret-key';
const BUCKET = 'kvorum-bench';

/** Where the e2e tools build put MinIO (builds it when missing). */
export async function minioBinary(repo: string): Promise<string> {
  const r = await runCommand('bash', [join(repo, 'test', 'e2e', 'tools', 'build.sh')], { timeoutMs: 30 * 60_000, env: { ...process.env, E2E_BUILD_ONLY: 'minio' } });
  const path = /^minio=(.+)$/m.exec(r.stdout)?.[1];
  if (r.code !== 0 || !path) throw new Error(`test/e2e/tools/build.sh did not provide minio: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
  return path;
}

async function freePort(from: number): Promise<number> {
  for (let p = from; p < from + 200; p += 2) if ((await portFree(p)) && (await portFree(p + 1))) return p;
  throw new Error(`no free port pair near ${from}`);
}

/** Starts MinIO with its data under `dir`, waits until it is ready and creates the bucket. */
export async function startMinio(binary: string, dir: string, preferredPort: number): Promise<LocalS3> {
  const port = await freePort(preferredPort);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const fd = openSync(join(dir, 'minio.log'), 'a');
  const proc: ChildProcess = spawn(binary, ['server', '--quiet', '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${port + 1}`, join(dir, 'data')], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, MINIO_ROOT_USER: USER, MINIO_ROOT_PASSWORD: SECRET, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off' },
  });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', () => resolve());
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    if (!(await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]))) {
      proc.kill('SIGKILL');
      await exited;
    }
  };
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    const deadline = performance.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`minio exited (${proc.exitCode ?? proc.signalCode}); see ${join(dir, 'minio.log')}`);
      const ready = await fetch(`${endpoint}/minio/health/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (performance.now() > deadline) throw new Error('minio not ready after 60 s');
      await sleep(200);
    }
    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: USER, secretAccessKey: SECRET } });
    try {
      await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    } finally {
      client.destroy();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, bucket: BUCKET, accessKeyId: USER, secretAccessKey: SECRET, stop };
}

// The backup-to-S3 row: one backup of a loaded member into a local MinIO.
// Kvorum goes through the operator's own code path (takeBackup: member
// choice, Maintenance.Snapshot streamed into a multipart upload, HashKV,
// manifest). etcd's snapshot stream is not a Kvorum backup (takeBackup reads
// the snapshot point from Kvorum's envelope), so for etcd the same steps run
// here with the same client, the same uploader and the same member choice:
// like for like, apart from that envelope.
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pino } from 'pino';
import { backupKeys } from '../operator/backup/layout.js';
import { s3ObjectStore, type ObjectStore } from '../operator/backup/object-store.js';
import { chooseMember, takeBackup, type SnapshotSource } from '../operator/backup/take-backup.js';
import { ClusterClient } from '../operator/membership/client.js';
import type { LocalS3 } from './minio.js';

export interface BackupTiming {
  bytes: number;
  /** The whole backup, from the first status call to the manifest written. */
  totalMs: number;
  /** Snapshot stream start to its last byte handed to the uploader. */
  streamMs: number;
  /** The HashKV call after the upload (Kvorum records it in the manifest). */
  hashMs: number;
  member: string;
  hashed: boolean;
}

/** The operator's call timeout for a cluster's API during backups (operator/manager.ts). */
const CALL_TIMEOUT_MS = 10_000;

function store(s3: LocalS3): ObjectStore {
  return s3ObjectStore({ bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: true }, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
}

/** Wraps a cluster client so the stream and HashKV phases can be timed without touching takeBackup. */
function timedSource(client: ClusterClient, t: { streamStart?: number; streamEnd?: number; hashMs: number }): SnapshotSource {
  return {
    memberList: () => client.memberList(),
    status: (ep) => client.status(ep),
    snapshot: (ep, signal) => {
      const s = client.snapshot(ep, signal);
      t.streamStart = performance.now();
      s.once('end', () => {
        t.streamEnd = performance.now();
      });
      return s;
    },
    hashKv: async (ep, rev) => {
      const t0 = performance.now();
      try {
        return await client.hashKv(ep, rev);
      } finally {
        t.hashMs = performance.now() - t0;
      }
    },
  };
}

/** One Kvorum backup through operator/backup/take-backup.ts. */
export async function kvorumBackup(endpoints: string[], s3: LocalS3, name: string): Promise<BackupTiming> {
  const client = new ClusterClient({ endpoints, callTimeoutMs: CALL_TIMEOUT_MS });
  const t: { streamStart?: number; streamEnd?: number; hashMs: number } = { hashMs: 0 };
  try {
    const t0 = performance.now();
    const manifest = await takeBackup({
      source: timedSource(client, t),
      endpoints,
      store: store(s3),
      keys: backupKeys('bench', 'default', 'kvorum', name),
      cluster: { name: 'kvorum', namespace: 'default' },
      backupName: name,
      startedAt: new Date(),
      log: pino({ level: 'warn' }, pino.destination(2)),
    });
    return {
      bytes: manifest.size,
      totalMs: performance.now() - t0,
      streamMs: (t.streamEnd ?? 0) - (t.streamStart ?? 0),
      hashMs: t.hashMs,
      member: manifest.member.name,
      hashed: manifest.hashKv !== undefined,
    };
  } finally {
    client.close();
  }
}

/** etcd's Maintenance.Snapshot through the same client, member choice and uploader, then HashKV and a manifest. */
export async function etcdBackup(endpoints: string[], s3: LocalS3, name: string): Promise<BackupTiming> {
  const client = new ClusterClient({ endpoints, callTimeoutMs: CALL_TIMEOUT_MS });
  const t: { streamStart?: number; streamEnd?: number; hashMs: number } = { hashMs: 0 };
  const source = timedSource(client, t);
  const objects = store(s3);
  const keys = backupKeys('bench', 'default', 'etcd', name);
  try {
    const t0 = performance.now();
    const statuses = (await Promise.allSettled(endpoints.map((ep) => source.status(ep)))).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const chosen = chooseMember(statuses);
    if (!chosen) throw new Error('no healthy etcd member to back up');
    const sha = createHash('sha256');
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        sha.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    const snapshot: Readable = source.snapshot(chosen.endpoint);
    await Promise.all([pipeline(snapshot, counter), objects.upload(keys.snapshot, counter)]);
    const hash = await source.hashKv(chosen.endpoint, 0).then(
      (h) => h.hash,
      () => undefined,
    );
    await objects.putText(keys.manifest, JSON.stringify({ sha256: sha.digest('hex'), size: bytes, hashKv: hash }));
    return {
      bytes,
      totalMs: performance.now() - t0,
      streamMs: (t.streamEnd ?? 0) - (t.streamStart ?? 0),
      hashMs: t.hashMs,
      member: chosen.endpoint,
      hashed: hash !== undefined,
    };
  } finally {
    client.close();
  }
}

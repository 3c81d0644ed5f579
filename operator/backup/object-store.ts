// S3-compatible object storage for backups: multipart uploads of a stream
// (memory bounded by the part size and queue, never the whole snapshot),
// small text objects, listing and deletion, and errors that say why in the
// words a user can act on.
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStoreDestination } from '../api/index.js';
import { s3Url } from './layout.js';

export type ObjectStoreFailure = 'InvalidCredentials' | 'AccessDenied' | 'BucketNotFound' | 'ObjectNotFound' | 'Unreachable' | 'DeadlineExceeded' | 'Unknown';

export class ObjectStoreError extends Error {
  constructor(
    readonly reason: ObjectStoreFailure,
    message: string,
    /** Worth retrying: the network or the server had a passing problem. */
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'ObjectStoreError';
  }
}

export interface ObjectStore {
  readonly bucket: string;
  /** Streams `body` into `key` with a multipart upload; a failed or aborted upload leaves no parts behind. */
  upload(key: string, body: Readable, signal?: AbortSignal): Promise<void>;
  putText(key: string, text: string): Promise<void>;
  getStream(key: string): Promise<Readable>;
  getText(key: string): Promise<string>;
  /** Keys under the prefix. */
  list(prefix: string): Promise<string[]>;
  deleteKeys(keys: string[]): Promise<void>;
  /**
   * Aborts unfinished multipart uploads under the prefix and of each of `keys`;
   * returns how many. Name the keys an upload may have used: some servers
   * (MinIO) list unfinished uploads only for an exact object name.
   */
  abortIncompleteUploads(prefix: string, keys?: string[]): Promise<number>;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Parts of 8 MiB, two in flight: about 16 MiB of a snapshot in memory at once. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

export function s3ObjectStore(dest: ObjectStoreDestination, creds: S3Credentials, opts: { timeoutMs?: number } = {}): ObjectStore {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const client = new S3Client({
    region: dest.region || 'us-east-1',
    ...(dest.endpoint && { endpoint: dest.endpoint }),
    forcePathStyle: dest.forcePathStyle ?? !!dest.endpoint,
    credentials: creds,
    // The controller retries whole backups with its own back-off.
    maxAttempts: 2,
    requestHandler: { connectionTimeout: Math.min(timeoutMs, 10_000), requestTimeout: timeoutMs },
  });
  const bucket = dest.bucket;
  const where = (key: string): string => s3Url(bucket, key);
  return {
    bucket,
    async upload(key, body, signal) {
      const upload = new Upload({ client, params: { Bucket: bucket, Key: key, Body: body }, partSize: PART_BYTES, queueSize: PARTS_IN_FLIGHT, leavePartsOnError: false });
      const abort = (): void => void upload.abort().catch(() => undefined);
      signal?.addEventListener('abort', abort, { once: true });
      try {
        if (signal?.aborted) throw new ObjectStoreError('DeadlineExceeded', `upload of ${where(key)} aborted`, true);
        await upload.done();
      } catch (err) {
        throw describe(err, `upload ${where(key)}`);
      } finally {
        signal?.removeEventListener('abort', abort);
      }
    },
    async putText(key, text) {
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: 'application/json' }));
      } catch (err) {
        throw describe(err, `write ${where(key)}`);
      }
    },
    async getStream(key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!(res.Body instanceof Readable)) throw new ObjectStoreError('Unknown', `read ${where(key)}: no body`, false);
        return res.Body;
      } catch (err) {
        throw describe(err, `read ${where(key)}`);
      }
    },
    async getText(key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await res.Body?.transformToString('utf8')) ?? '';
      } catch (err) {
        throw describe(err, `read ${where(key)}`);
      }
    },
    async list(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      try {
        do {
          const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token && { ContinuationToken: token }) }));
          for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
          token = res.IsTruncated ? res.NextContinuationToken : undefined;
        } while (token);
      } catch (err) {
        throw describe(err, `list ${where(prefix)}`);
      }
      return keys;
    },
    async deleteKeys(keys) {
      for (const key of keys) {
        try {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        } catch (err) {
          throw describe(err, `delete ${where(key)}`);
        }
      }
    },
    async abortIncompleteUploads(prefix, keys = []) {
      // Found by prefix and by exact name (MinIO answers only the latter), aborted once each.
      const found = new Map<string, string>();
      try {
        for (const p of new Set([prefix, ...keys])) {
          let keyMarker: string | undefined;
          let uploadIdMarker: string | undefined;
          do {
            const res = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: p, ...(keyMarker && { KeyMarker: keyMarker }), ...(uploadIdMarker && { UploadIdMarker: uploadIdMarker }) }));
            for (const u of res.Uploads ?? []) if (u.Key && u.UploadId && u.Key.startsWith(prefix)) found.set(u.UploadId, u.Key);
            const more = res.IsTruncated === true && (res.NextKeyMarker !== keyMarker || res.NextUploadIdMarker !== uploadIdMarker);
            keyMarker = more ? res.NextKeyMarker : undefined;
            uploadIdMarker = more ? res.NextUploadIdMarker : undefined;
          } while (keyMarker || uploadIdMarker);
        }
        for (const [uploadId, key] of found) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      } catch (err) {
        throw describe(err, `abort unfinished uploads under ${where(prefix)}`);
      }
      return found.size;
    },
  };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE']);

/** Maps an S3 SDK or network error to a reason a user can act on. */
export function describe(err: unknown, what: string): ObjectStoreError {
  if (err instanceof ObjectStoreError) return err;
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
  const name = e.name ?? '';
  const code = e.code ?? e.cause?.code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const detail = e.message || name || code || 'unknown error';
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'InvalidToken' || name === 'ExpiredToken') {
    return new ObjectStoreError('InvalidCredentials', `${what}: the object store refused the credentials (${name})`, false);
  }
  if (name === 'AccessDenied' || status === 403) return new ObjectStoreError('AccessDenied', `${what}: access denied (${detail})`, false);
  if (name === 'NoSuchBucket') return new ObjectStoreError('BucketNotFound', `${what}: the bucket does not exist`, false);
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new ObjectStoreError('ObjectNotFound', `${what}: no such object`, false);
  if (name === 'TimeoutError' || name === 'RequestTimeout' || code === 'ETIMEDOUT' || name === 'AbortError') {
    return new ObjectStoreError('DeadlineExceeded', `${what}: no answer in time (${detail})`, true);
  }
  if (NETWORK_CODES.has(code) || NETWORK_CODES.has(name)) return new ObjectStoreError('Unreachable', `${what}: cannot reach the object store (${code || name})`, true);
  // No HTTP status: the request never got an answer (a client-side or network failure), worth another try.
  const transient = status !== undefined ? status >= 500 || status === 429 : true;
  return new ObjectStoreError('Unknown', `${what}: ${detail}`, transient);
}

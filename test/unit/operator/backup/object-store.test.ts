// The object store's clean-up of unfinished multipart uploads, against a small
// local HTTP server that answers ListMultipartUploads and
// AbortMultipartUpload the way two kinds of server do: AWS S3 lists by key
// prefix; MinIO lists only the uploads of one exact object name (a prefix
// that is a "directory" finds nothing). An operator that died mid-upload
// leaves such an upload behind; the next attempt must find and abort it on both.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { s3ObjectStore } from '../../../../operator/backup/object-store.js';

interface Upload {
  key: string;
  uploadId: string;
}

let server: Server;
let endpoint: string;
let mode: 'aws' | 'minio' = 'aws';
let uploads: Upload[] = [];
const aborted: string[] = [];

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    if (req.method === 'GET' && url.searchParams.has('uploads')) {
      const prefix = url.searchParams.get('prefix') ?? '';
      const found = uploads.filter((u) => (mode === 'minio' && prefix !== '' ? u.key === prefix : u.key.startsWith(prefix)));
      const body =
        `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
        `<Bucket>${bucket}</Bucket><Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>` +
        found.map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.uploadId}</UploadId></Upload>`).join('') +
        `</ListMultipartUploadsResult>`;
      res.writeHead(200, { 'content-type': 'application/xml' }).end(body);
      return;
    }
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) {
      const id = url.searchParams.get('uploadId')!;
      aborted.push(`${key}#${id}`);
      uploads = uploads.filter((u) => u.uploadId !== id);
      res.writeHead(204).end();
      return;
    }
    res.writeHead(400, { 'content-type': 'application/xml' }).end('<Error><Code>InvalidRequest</Code><Message>unexpected request</Message></Error>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

const store = () => s3ObjectStore({ bucket: 'b', endpoint, forcePathStyle: true }, { accessKeyId: 'id', secretAccessKey: 'secret' });

test('MinIO lists unfinished uploads only by exact name: the backup directory alone finds none, naming the snapshot finds and aborts it', async () => {
  mode = 'minio';
  aborted.length = 0;
  uploads = [
    { key: 'e2e/ns/c/b1/snapshot.kvsnap', uploadId: 'left-by-a-dead-operator' },
    { key: 'e2e/ns/c/other/snapshot.kvsnap', uploadId: 'someone-elses' },
  ];
  const s = store();
  assert.equal(await s.abortIncompleteUploads('e2e/ns/c/b1/'), 0, 'the server answers nothing for a directory prefix');
  assert.equal(await s.abortIncompleteUploads('e2e/ns/c/b1/', ['e2e/ns/c/b1/snapshot.kvsnap']), 1);
  assert.deepEqual(aborted, ['e2e/ns/c/b1/snapshot.kvsnap#left-by-a-dead-operator']);
  assert.deepEqual(uploads.map((u) => u.uploadId), ['someone-elses'], 'another backup\'s upload is left alone');
});

test('AWS S3 lists by prefix: an upload found both by prefix and by name is aborted once; keys outside the prefix are never touched', async () => {
  mode = 'aws';
  aborted.length = 0;
  uploads = [
    { key: 'p/b1/snapshot.kvsnap', uploadId: 'u1' },
    { key: 'p/b1/snapshot.kvsnap', uploadId: 'u2' },
    { key: 'p/b10/snapshot.kvsnap', uploadId: 'not-mine' },
  ];
  const n = await store().abortIncompleteUploads('p/b1/', ['p/b1/snapshot.kvsnap', 'p/b10/snapshot.kvsnap']);
  assert.equal(n, 2);
  assert.deepEqual(aborted.sort(), ['p/b1/snapshot.kvsnap#u1', 'p/b1/snapshot.kvsnap#u2']);
  assert.deepEqual(uploads.map((u) => u.uploadId), ['not-mine']);
});

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MvccStore } from '../../../node/mvcc/store.js';
import { Membership } from '../../../node/server/membership.js';
import { encodeStateSnapshot } from '../../../node/server/state-snapshot.js';
import {
  BackupFileError,
  backupLength,
  backupStatus,
  decodeBackup,
  encodeBackup,
  encodeBackupStream,
  readBackupFile,
  writeBackupFile,
} from '../../../node/backup/backup-file.js';

const root = mkdtempSync(join(tmpdir(), 'kvorum-backup-file-'));
after(() => rmSync(root, { recursive: true, force: true }));

const enc = new TextEncoder();

function samplePayload(): Uint8Array {
  const store = new MvccStore();
  store.apply(1, { put: { key: enc.encode('a'), value: enc.encode('1') } });
  store.apply(2, { put: { key: enc.encode('b'), value: enc.encode('2') } });
  store.apply(3, { put: { key: enc.encode('a'), value: enc.encode('3') } });
  store.apply(4, { deleteRange: { key: enc.encode('b') } });
  store.apply(5, { put: { key: enc.encode('c'), value: enc.encode('4') } });
  return encodeStateSnapshot(store, { membership: new Membership().toJSON(), alarms: [] });
}

async function rejects(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readBackupFile(path), (err: unknown) => {
    assert.ok(err instanceof BackupFileError, `expected a BackupFileError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('backup envelope in memory', () => {
  it('round-trips a payload', () => {
    const payload = samplePayload();
    const wrapped = encodeBackup(payload);
    // etcd's framing: a body padded to 512 bytes, then its SHA-256.
    assert.equal(wrapped.length, Math.ceil((payload.length + 20) / 512) * 512 + 32);
    assert.equal(wrapped.length % 512, 32);
    const body = wrapped.subarray(0, wrapped.length - 32);
    assert.ok(createHash('sha256').update(body).digest().equals(Buffer.from(wrapped.subarray(wrapped.length - 32))), 'the trailer is the SHA-256 of the body');
    assert.equal(Buffer.from(wrapped.subarray(0, 10)).toString('ascii'), 'KVORUMSNAP');
    assert.ok(Buffer.from(decodeBackup(wrapped)).equals(payload));
  });

  it('round-trips an empty payload', () => {
    assert.equal(decodeBackup(encodeBackup(new Uint8Array())).length, 0);
  });

  it('refuses a flipped payload byte unless the hash check is skipped', () => {
    const payload = samplePayload();
    const wrapped = encodeBackup(payload);
    wrapped[25] ^= 0x01;
    assert.throws(() => decodeBackup(wrapped), /snapshot is corrupt: checksum mismatch/);
    assert.equal(decodeBackup(wrapped, { skipHashCheck: true }).length, payload.length);
  });

  it('refuses trailing garbage', () => {
    const wrapped = encodeBackup(samplePayload());
    const longer = new Uint8Array(wrapped.length + 3);
    longer.set(wrapped);
    assert.throws(() => decodeBackup(longer), /is corrupt: .* more than the/);
  });
});

describe('backup files', () => {
  it('writes atomically and reads back the same payload and checksum', async () => {
    const payload = samplePayload();
    const path = join(root, 'ok.snap');
    const written = await writeBackupFile(path, payload);
    const onDisk = readFileSync(path);
    assert.equal(written.size, onDisk.length);
    assert.equal(written.sha256, createHash('sha256').update(onDisk).digest('hex'));
    const read = await readBackupFile(path);
    assert.ok(Buffer.from(read.payload).equals(payload));
    assert.equal(read.sha256, written.sha256);
    // No temporary files are left behind.
    assert.deepEqual(
      readdirSync(root).filter((f) => f.includes('ok.snap')),
      ['ok.snap'],
    );
  });

  it('replaces an existing file', async () => {
    const path = join(root, 'replace.snap');
    await writeBackupFile(path, new Uint8Array([1, 2, 3]));
    await writeBackupFile(path, new Uint8Array([4, 5]));
    assert.deepEqual([...(await readBackupFile(path)).payload], [4, 5]);
  });

  it('refuses a file with a flipped byte, naming the file', async () => {
    const path = join(root, 'flipped.snap');
    await writeBackupFile(path, samplePayload());
    const bytes = readFileSync(path);
    bytes[bytes.length - 40] ^= 0x80;
    writeFileSync(path, bytes);
    await rejects(path, new RegExp(`^snapshot file ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is corrupt: checksum mismatch$`));
  });

  it('refuses a corrupted trailing checksum', async () => {
    const path = join(root, 'badsum.snap');
    await writeBackupFile(path, samplePayload());
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0x01;
    writeFileSync(path, bytes);
    await rejects(path, /is corrupt: checksum mismatch/);
  });

  it('refuses a truncated file', async () => {
    const path = join(root, 'short.snap');
    await writeBackupFile(path, samplePayload());
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    await rejects(path, /is truncated: \d+ bytes, but its header promises \d+/);
    writeFileSync(path, bytes.subarray(0, 14));
    await rejects(path, /is truncated: only 14 bytes/);
  });

  it('refuses wrong magic bytes', async () => {
    const path = join(root, 'magic.snap');
    await writeBackupFile(path, samplePayload());
    const bytes = readFileSync(path);
    bytes[0] = 'X'.charCodeAt(0);
    writeFileSync(path, bytes);
    await rejects(path, /is not a Kvorum snapshot/);
    writeFileSync(path, 'hello');
    await rejects(path, /is not a Kvorum snapshot/);
  });

  it('refuses an unknown format version', async () => {
    const path = join(root, 'version.snap');
    const bytes = Buffer.from(encodeBackup(samplePayload()));
    bytes.writeUInt16BE(99, 10);
    writeFileSync(path, bytes);
    await rejects(path, /has snapshot format version 99; this release reads version 1/);
  });

  it('reports a missing file with the file system error', async () => {
    await assert.rejects(readBackupFile(join(root, 'missing.snap')), /ENOENT/);
  });
});

describe('backupStatus', () => {
  it('reports the revision, live keys, size and a KV hash', async () => {
    const path = join(root, 'status.snap');
    const payload = samplePayload();
    await writeBackupFile(path, payload);
    const status = await backupStatus(path);
    // Five writes on top of the empty store's revision 1.
    assert.equal(status.revision, 6);
    assert.equal(status.totalKeys, 2);
    assert.ok(status.totalSize > 0);
    assert.match(status.hash, /^[0-9a-f]{8}$/);

    const store = new MvccStore();
    store.apply(1, { put: { key: enc.encode('a'), value: enc.encode('1') } });
    store.apply(2, { put: { key: enc.encode('b'), value: enc.encode('2') } });
    store.apply(3, { put: { key: enc.encode('a'), value: enc.encode('3') } });
    store.apply(4, { deleteRange: { key: enc.encode('b') } });
    store.apply(5, { put: { key: enc.encode('c'), value: enc.encode('4') } });
    assert.equal(status.hash, store.hash().hash.toString(16).padStart(8, '0'));

    const other = join(root, 'status2.snap');
    store.apply(6, { put: { key: enc.encode('d'), value: enc.encode('5') } });
    await writeBackupFile(other, encodeStateSnapshot(store, { membership: new Membership().toJSON(), alarms: [] }));
    const status2 = await backupStatus(other);
    assert.equal(status2.revision, 7);
    assert.equal(status2.totalKeys, 3);
    assert.notEqual(status2.hash, status.hash);
  });

  it('refuses a payload that is not a server snapshot', async () => {
    const path = join(root, 'garbage-payload.snap');
    await writeBackupFile(path, new Uint8Array([1, 2, 3, 4]));
    await assert.rejects(backupStatus(path), /snapshot file .* holds/);
  });
});

describe('backup stream', () => {
  async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    return Buffer.concat(parts);
  }

  async function* pieces(payload: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < payload.length; at += size) yield payload.subarray(at, at + size);
  }

  it('produces the same bytes as the envelope in one buffer, from a payload in chunks', async () => {
    const payload = samplePayload();
    const streamed = await collect(encodeBackupStream(payload.length, pieces(payload, 7)));
    assert.ok(streamed.equals(encodeBackup(payload)));
    assert.equal(streamed.length, backupLength(payload.length));
    assert.ok(Buffer.from(decodeBackup(streamed)).equals(payload));
  });

  it('fails rather than end with a file that contradicts its header', async () => {
    const payload = samplePayload();
    await assert.rejects(collect(encodeBackupStream(payload.length + 1, pieces(payload, 64))), /ended after \d+ of the \d+ payload bytes/);
    await assert.rejects(collect(encodeBackupStream(payload.length - 1, pieces(payload, 64))), /more than the \d+ payload bytes/);
  });
});

import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SnapshotStore, snapshotFileName } from '../../../node/storage/snapshot-file.js';
import { FLUSH_EVERY_BYTES } from '../../../node/storage/durable-fs.js';
import { SnapshotCorruptionError } from '../../../node/storage/errors.js';
import type { Snapshot } from '../../../node/raft/types.js';
import { capturingLogger, PINO_WARN, silentLogger, withTempDir } from './helpers.js';

function snapshotAt(index: number, term = 2, bytes = 1000): Snapshot {
  const data = new Uint8Array(bytes);
  for (let k = 0; k < bytes; k++) data[k] = (index * 31 + k) % 251;
  return { meta: { index, term, conf: { voters: [1, 2, 3], learners: [4] } }, data };
}

test('a saved snapshot loads back byte for byte', async () => {
  await withTempDir(async (dir) => {
    const store = await SnapshotStore.open(dir, { logger: silentLogger });
    const snap = snapshotAt(42, 3, 70_000);
    const info = await store.save(snap);
    assert.equal(info.file, snapshotFileName(42, 3));
    assert.deepEqual(await store.load(42, 3), snap);
    assert.deepEqual((await store.loadNewest()).snapshot, snap);
  });
});

test('loadNewest picks the highest index', async () => {
  await withTempDir(async (dir) => {
    const store = await SnapshotStore.open(dir, { logger: silentLogger });
    for (const index of [5, 300, 40]) await store.save(snapshotAt(index));
    const { snapshot, skipped } = await store.loadNewest();
    assert.equal(snapshot?.meta.index, 300);
    assert.deepEqual(skipped, []);
  });
});

test('a checksum mismatch is detected and the corrupt file is skipped and reported', async () => {
  await withTempDir(async (dir) => {
    const { logger, lines } = capturingLogger();
    const store = await SnapshotStore.open(dir, { logger });
    await store.save(snapshotAt(10));
    await store.save(snapshotAt(20));
    const newest = join(dir, snapshotFileName(20, 2));
    const bytes = await readFile(newest);
    bytes[bytes.length - 10]! ^= 0x01;
    await writeFile(newest, bytes);

    await assert.rejects(store.load(20, 2), (err: unknown) => err instanceof SnapshotCorruptionError && /SHA-256 checksum mismatch/.test(err.message));
    const { snapshot, skipped } = await store.loadNewest();
    assert.equal(snapshot?.meta.index, 10);
    assert.deepEqual(skipped, [{ file: snapshotFileName(20, 2), reason: 'SHA-256 checksum mismatch' }]);
    assert.ok(lines.some((l) => l.level === PINO_WARN && /corrupt snapshot/.test(l.msg)));
    assert.deepEqual((await readdir(dir)).sort(), [snapshotFileName(10, 2), snapshotFileName(20, 2) + '.broken']);
  });
});

test('truncated files and files under the wrong name are refused', async () => {
  await withTempDir(async (dir) => {
    const store = await SnapshotStore.open(dir, { logger: silentLogger });
    await store.save(snapshotAt(10));
    await copyFile(join(dir, snapshotFileName(10, 2)), join(dir, snapshotFileName(11, 2)));
    await assert.rejects(store.load(11, 2), /not what its name says/);
    await truncate(join(dir, snapshotFileName(10, 2)), 500);
    await assert.rejects(store.load(10, 2), /header says/);
    const { snapshot, skipped } = await store.loadNewest();
    assert.equal(snapshot, undefined);
    assert.equal(skipped.length, 2);
  });
});

test('a write that fails before its fsync completes leaves no snapshot behind', async () => {
  await withTempDir(async (dir) => {
    const store = await SnapshotStore.open(dir, {
      logger: silentLogger,
      syncFile: async () => {
        throw new Error('EIO: simulated');
      },
    });
    await assert.rejects(store.save(snapshotAt(7)), /EIO/);
    assert.deepEqual(await readdir(dir), []);
  });
});

test('a half-written temporary file from a crash is ignored and removed', async () => {
  await withTempDir(async (dir) => {
    const first = await SnapshotStore.open(dir, { logger: silentLogger });
    await first.save(snapshotAt(10));
    const full = await readFile(join(dir, snapshotFileName(10, 2)));
    await writeFile(join(dir, snapshotFileName(20, 2) + '.tmp'), full.subarray(0, 100));

    const reopened = await SnapshotStore.open(dir, { logger: silentLogger });
    assert.deepEqual(await readdir(dir), [snapshotFileName(10, 2)]);
    assert.equal((await reopened.loadNewest()).snapshot?.meta.index, 10);
  });
});

test('purge keeps the newest N snapshot files', async () => {
  await withTempDir(async (dir) => {
    const store = await SnapshotStore.open(dir, { keep: 3, logger: silentLogger });
    for (let index = 1; index <= 7; index++) await store.save(snapshotAt(index * 10, 2, 10));
    const removed = await store.purge();
    assert.equal(removed.length, 4);
    assert.deepEqual(
      (await store.list()).map((s) => s.index),
      [70, 60, 50],
    );
  });
});

test('a large snapshot is flushed as it is written, not only at the end, and loads back whole', async () => {
  await withTempDir(async (dir) => {
    const sizes: number[] = [];
    const store = await SnapshotStore.open(dir, {
      logger: silentLogger,
      syncFile: async (file) => {
        sizes.push((await file.stat()).size);
        await file.datasync();
      },
    });
    const big = snapshotAt(50, 3, Math.round(FLUSH_EVERY_BYTES * 2.5));
    await store.save(big);
    assert.equal(sizes.length, 3, 'two flushes on the way and one at the end');
    assert.ok(sizes[0]! >= FLUSH_EVERY_BYTES && sizes[0]! < sizes[1]!, `flushed at ${sizes.join(', ')}`);
    const loaded = await store.load(50, 3);
    assert.deepEqual(Buffer.from(loaded.data), Buffer.from(big.data));
  });
});

test('a snapshot streamed in chunks is written whole and loads back; format 1 files from older releases still load', async () => {
  await withTempDir(async (dir) => {
    const store = await SnapshotStore.open(dir, { logger: silentLogger });
    const parts = [Buffer.from('first chunk, '), Buffer.alloc(0), Buffer.from('second chunk')];
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (const p of parts) yield p;
    }
    const meta = { index: 30, term: 4, conf: { voters: [1, 2, 3], learners: [] } };
    const info = await store.saveStream(meta, chunks());
    assert.equal(info.dataBytes, Buffer.concat(parts).length);
    const loaded = await store.load(30, 4);
    assert.equal(Buffer.from(loaded.data).toString(), 'first chunk, second chunk');
    assert.deepEqual(loaded.meta, meta);
    const file = await readFile(join(dir, snapshotFileName(30, 4)));
    assert.equal(file.readUInt32LE(8), 2, 'written as format 2');

    // A format 1 file: the digest covers the data itself.
    const legacyFile = (index: number, version: number): Buffer => {
      const legacyMeta = Buffer.from(JSON.stringify({ index, term: 4, conf: { voters: [1], learners: [] } }));
      const data = Buffer.from('state from an older release');
      const header = Buffer.alloc(56);
      header.write('KVORSNAP', 0, 'ascii');
      header.writeUInt32LE(version, 8);
      header.writeUInt32LE(legacyMeta.length, 12);
      header.writeBigUInt64LE(BigInt(data.length), 16);
      createHash('sha256').update(header.subarray(8, 24)).update(legacyMeta).update(data).digest().copy(header, 24);
      return Buffer.concat([header, legacyMeta, data]);
    };
    await writeFile(join(dir, snapshotFileName(40, 4)), legacyFile(40, 1));
    assert.equal(Buffer.from((await store.load(40, 4)).data).toString(), 'state from an older release');
    // The same digest under format 2's rule does not verify.
    await writeFile(join(dir, snapshotFileName(41, 4)), legacyFile(41, 2));
    await assert.rejects(store.load(41, 4), /checksum mismatch/);
  });
});

test('a stream that fails midway leaves no snapshot behind', async () => {
  await withTempDir(async (dir) => {
    const store = await SnapshotStore.open(dir, { logger: silentLogger });
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('partial');
      throw new Error('the store compacted while its snapshot was being encoded');
    }
    await assert.rejects(store.saveStream({ index: 9, term: 1, conf: { voters: [1], learners: [] } }, broken()), /compacted/);
    assert.deepEqual(await readdir(dir), []);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, truncate, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Wal, type WalOptions } from '../../../node/storage/wal.js';
import { DataFormatError, WalCorruptionError, WalUnavailableError } from '../../../node/storage/errors.js';
import { scanRecords, RecordType } from '../../../node/storage/record.js';
import { decodeMetadata, entryRecord, hardStateRecord, metadataRecord, snapshotMarkerRecord } from '../../../node/storage/wal-codec.js';
import { WAL_FSYNC_METRIC } from '../../../node/storage/metrics.js';
import type { SyncFile } from '../../../node/storage/durable-fs.js';
import type { Entry } from '../../../node/raft/types.js';
import { capturingLogger, entries, entry, PINO_WARN, silentLogger, withTempDir } from './helpers.js';

const base: WalOptions = { memberId: 7, clusterId: 99, logger: silentLogger };

async function reopen(dir: string, options: Partial<WalOptions> = {}) {
  const opened = await Wal.open(dir, { ...base, ...options });
  await opened.wal.close();
  return opened.state;
}

function indices(list: Entry[]): number[] {
  return list.map((e) => e.index);
}

test('a fresh directory gets one segment that starts with the metadata record', async () => {
  await withTempDir(async (dir) => {
    const { wal, state } = await Wal.open(dir, base);
    await wal.close();
    assert.deepEqual(state.entries, []);
    assert.deepEqual(state.snapshot, { index: 0, term: 0 });
    const files = await readdir(dir);
    assert.deepEqual(files, ['0000000000000001-0000000000000001.wal']);
    const scan = scanRecords(await readFile(join(dir, files[0]!)));
    assert.equal(scan.records[0]!.type, RecordType.Metadata);
    assert.deepEqual(decodeMetadata(scan.records[0]!.payload), { formatVersion: 1, memberId: 7, clusterId: 99 });
    assert.deepEqual(wal.metadata, { formatVersion: 1, memberId: 7, clusterId: 99 });
  });
});

test('entries and hard state survive a reopen', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, base);
    await wal.append(entries(1, 5, 1), { term: 1, vote: 3, commit: 2 });
    await wal.append(entries(6, 8, 2), { term: 2, vote: 0, commit: 6 });
    await wal.close();

    const state = await reopen(dir);
    assert.deepEqual(state.entries, [...entries(1, 5, 1), ...entries(6, 8, 2)]);
    assert.deepEqual(state.hardState, { term: 2, vote: 0, commit: 6 });
  });
});

test('a rewritten index drops the old suffix, also across segments and reopen', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 200 });
    for (let i = 1; i <= 12; i++) await wal.append([entry(i, 1)]);
    assert.ok(wal.stats().segments > 2, 'the test needs several segments');
    await wal.append([entry(4, 2), entry(5, 2)]);
    await wal.append([entry(6, 3)]);
    await wal.close();

    const state = await reopen(dir);
    assert.deepEqual(indices(state.entries), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(state.entries.slice(3), [entry(4, 2), entry(5, 2), entry(6, 3)]);
  });
});

test('100 concurrent appends share far fewer fsyncs', async () => {
  await withTempDir(async (dir) => {
    let syncs = 0;
    const countingSync: SyncFile = async (file) => {
      syncs += 1;
      await file.datasync();
    };
    const { wal } = await Wal.open(dir, { ...base, syncFile: countingSync });
    const syncsAtOpen = syncs;
    await Promise.all(Array.from({ length: 100 }, (_, k) => wal.append([entry(k + 1, 1)])));
    const commitSyncs = syncs - syncsAtOpen;
    assert.ok(commitSyncs < 100, `expected batching, got ${commitSyncs} fsyncs for 100 appends`);
    assert.ok(commitSyncs <= 2, `same-tick appends should share one commit, got ${commitSyncs}`);
    assert.equal(wal.stats().fsyncs, commitSyncs);
    assert.equal(wal.stats().submissions, 100);
    await wal.close();
    assert.equal((await reopen(dir)).entries.length, 100);
  });
});

test('appends arriving while an fsync is in flight wait for one shared fsync', async () => {
  await withTempDir(async (dir) => {
    const slowSync: SyncFile = async (file) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await file.datasync();
    };
    const { wal } = await Wal.open(dir, { ...base, syncFile: slowSync });
    const acks: Promise<void>[] = [];
    for (let k = 1; k <= 50; k++) {
      acks.push(wal.append([entry(k, 1)]));
      // Spread the arrivals over several event-loop turns.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(acks);
    const { fsyncs, batches } = wal.stats();
    assert.equal(fsyncs, batches);
    assert.ok(fsyncs <= 5, `expected a handful of group commits, got ${fsyncs}`);
    await wal.close();
  });
});

test('fsync durations reach the histogram and the callback', async () => {
  await withTempDir(async (dir) => {
    const registry = new Registry();
    const seen: number[] = [];
    const { wal } = await Wal.open(dir, { ...base, registry, onFsync: (s) => seen.push(s) });
    await wal.append([entry(1, 1)]);
    await wal.append([entry(2, 1)]);
    await wal.close();
    assert.equal(seen.length, 2);
    assert.ok(seen.every((s) => s >= 0 && s < 60));
    assert.match(await registry.metrics(), new RegExp(`^${WAL_FSYNC_METRIC}_count 2$`, 'm'));
    // A second WAL on the same registry reuses the histogram instead of failing.
    const again = await Wal.open(dir, { ...base, registry });
    await again.wal.close();
  });
});

test('after a failed fsync the WAL refuses every further write', async () => {
  await withTempDir(async (dir) => {
    let fail = false;
    const flakySync: SyncFile = async (file) => {
      if (fail) throw new Error('EIO: simulated');
      await file.datasync();
    };
    const { wal } = await Wal.open(dir, { ...base, syncFile: flakySync });
    await wal.append([entry(1, 1)]);
    fail = true;
    await assert.rejects(wal.append([entry(2, 1)]), WalUnavailableError);
    fail = false;
    await assert.rejects(wal.append([entry(2, 1)]), /refusing further writes/);
    await wal.close();
  });
});

test('an append that would leave a gap is rejected before it is written', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, base);
    await wal.append(entries(1, 3, 1));
    await assert.rejects(wal.append([entry(5, 1)]), /gap/);
    await assert.rejects(wal.append([entry(4, 1), entry(6, 1)]), /not contiguous/);
    await wal.append([entry(4, 1)]);
    await wal.close();
    assert.deepEqual(indices((await reopen(dir)).entries), [1, 2, 3, 4]);
  });
});

/** Writes a WAL of one segment holding entries 1..20 and returns its layout. */
async function writeSampleWal(dir: string): Promise<{ file: string; size: number; recordEnds: number[] }> {
  const { wal } = await Wal.open(dir, base);
  const written = entries(1, 20, 1);
  await wal.append(written);
  await wal.close();
  const file = join(dir, (await readdir(dir))[0]!);
  const head = metadataRecord({ formatVersion: 1, memberId: 7, clusterId: 99 }).length + snapshotMarkerRecord({ index: 0, term: 0 }).length + hardStateRecord({ term: 0, vote: 0, commit: 0 }).length;
  const recordEnds: number[] = [];
  let end = head;
  for (const e of written) recordEnds.push((end += entryRecord(e).length));
  const size = (await stat(file)).size;
  assert.equal(size, end);
  return { file, size, recordEnds };
}

test('a torn tail of the last segment is cut back to the last whole record', async () => {
  await withTempDir(async (root) => {
    const pristine = join(root, 'pristine');
    await mkdir(pristine);
    const { file, size, recordEnds } = await writeSampleWal(pristine);
    const lastRecord = size - recordEnds[18]!;
    for (const dropped of [1, 5, lastRecord - 1, lastRecord + 3, lastRecord + 20]) {
      const dir = join(root, `cut-${dropped}`);
      await mkdir(dir);
      const copy = join(dir, (await readdir(pristine))[0]!);
      await copyFile(file, copy);
      await truncate(copy, size - dropped);
      const whole = recordEnds.filter((end) => end <= size - dropped).length;

      const { logger, lines } = capturingLogger();
      const { wal, state } = await Wal.open(dir, { ...base, logger });
      assert.deepEqual(state.entries, entries(1, whole, 1), `after dropping ${dropped} bytes`);
      assert.ok(lines.some((l) => l.level === PINO_WARN && /torn tail/.test(l.msg)), 'recovery warns');
      assert.equal((await stat(copy)).size, recordEnds[whole - 1], 'the file is truncated at the last good record');

      await wal.append([entry(whole + 1, 2)]);
      await wal.close();
      const after = await reopen(dir);
      assert.deepEqual(after.entries, [...entries(1, whole, 1), entry(whole + 1, 2)]);
    }
  });
});

test('a flipped byte in the last record drops just that record', async () => {
  await withTempDir(async (dir) => {
    const { file, size, recordEnds } = await writeSampleWal(dir);
    const bytes = await readFile(file);
    bytes[size - 3]! ^= 0xff;
    await writeFile(file, bytes);
    const { wal, state } = await Wal.open(dir, base);
    assert.deepEqual(state.entries, entries(1, 19, 1));
    assert.equal((await stat(file)).size, recordEnds[18]);
    await wal.append([entry(20, 3)]);
    await wal.close();
    assert.deepEqual((await reopen(dir)).entries.at(-1), entry(20, 3));
  });
});

test('a flipped byte in the middle of the last segment is corruption, not a torn tail: nothing is truncated', async () => {
  await withTempDir(async (dir) => {
    const { file, size, recordEnds } = await writeSampleWal(dir);
    const bytes = await readFile(file);
    const damaged = recordEnds[8]!;
    bytes[damaged + 12]! ^= 0x5a;
    await writeFile(file, bytes);
    await assert.rejects(Wal.open(dir, base), (err: unknown) => {
      assert.ok(err instanceof WalCorruptionError);
      assert.equal(err.file, file);
      assert.equal(err.offset, damaged);
      assert.match(err.message, new RegExp(`offset ${damaged}: checksum mismatch.*valid record follows at offset ${recordEnds[9]}`));
      return true;
    });
    assert.equal((await stat(file)).size, size, 'the segment keeps every byte');
  });
});

test('a partial last record followed only by zeroed space is still a torn tail', async () => {
  await withTempDir(async (dir) => {
    const { file, size, recordEnds } = await writeSampleWal(dir);
    // The last record half written, then a run of zeros (space the file
    // system allocated but the write never reached): nothing valid follows.
    const bytes = await readFile(file);
    const torn = Buffer.concat([bytes.subarray(0, size - 4), Buffer.alloc(4096)]);
    await writeFile(file, torn);
    const { wal, state } = await Wal.open(dir, base);
    assert.deepEqual(state.entries, entries(1, 19, 1));
    assert.equal((await stat(file)).size, recordEnds[18]);
    await wal.close();
  });
});

test('a bad record far from the end with whole records after it is refused wherever the damage is', async () => {
  await withTempDir(async (root) => {
    const pristine = join(root, 'pristine');
    await mkdir(pristine);
    const { file, size, recordEnds } = await writeSampleWal(pristine);
    const original = await readFile(file);
    // Damage to the CRC field, the length field, the type byte and the payload of record 5.
    for (const at of [0, 1, 4, 6, 8, 12]) {
      const dir = join(root, `flip-${at}`);
      await mkdir(dir);
      const copy = join(dir, (await readdir(pristine))[0]!);
      const bytes = Buffer.from(original);
      bytes[recordEnds[4]! + at]! ^= 0x40;
      await writeFile(copy, bytes);
      await assert.rejects(Wal.open(dir, base), (err: unknown) => {
        assert.ok(err instanceof WalCorruptionError, `flip at +${at}: ${String(err)}`);
        assert.equal(err.offset, recordEnds[4], `flip at +${at}`);
        assert.ok(err.message.includes(`${copy} at offset ${recordEnds[4]}`), err.message);
        return true;
      });
      assert.equal((await stat(copy)).size, size, 'nothing is truncated');
    }
  });
});

test('corruption inside an earlier segment is a hard error naming file and offset', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 300 });
    for (let i = 1; i <= 30; i++) await wal.append([entry(i, 1)]);
    const segments = wal.segmentFiles();
    await wal.close();
    assert.ok(segments.length >= 3);

    const victim = join(dir, segments[1]!);
    const bytes = await readFile(victim);
    const records = scanRecords(bytes).records;
    const target = records[4]!;
    bytes[target.offset + 12]! ^= 0x01;
    await writeFile(victim, bytes);

    await assert.rejects(Wal.open(dir, base), (err: unknown) => {
      assert.ok(err instanceof WalCorruptionError);
      assert.equal(err.file, victim);
      assert.equal(err.offset, target.offset);
      assert.match(err.message, new RegExp(`${segments[1]!}.*offset ${target.offset}.*checksum mismatch`));
      return true;
    });
  });
});

test('a missing segment in the middle is reported', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 200 });
    for (let i = 1; i <= 20; i++) await wal.append([entry(i, 1)]);
    const segments = wal.segmentFiles();
    await wal.close();
    const { unlink } = await import('node:fs/promises');
    await unlink(join(dir, segments[1]!));
    await assert.rejects(Wal.open(dir, base), /segment sequence jumps from 1 to 3/);
  });
});

test('segments roll over at the size limit and releaseTo deletes only covered ones', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 400 });
    for (let i = 1; i <= 60; i++) await wal.append([entry(i, 1)], { term: 1, vote: 7, commit: i });
    const before = wal.segmentFiles();
    assert.ok(before.length >= 5, `expected several segments, got ${before.length}`);
    assert.deepEqual(
      before.map((f) => Number.parseInt(f.slice(0, 16), 16)),
      before.map((_, k) => k + 1),
    );
    // Segment names carry the first index they were cut at.
    const firstIndexes = before.map((f) => Number.parseInt(f.slice(17, 33), 16));
    assert.equal(firstIndexes[0], 1);
    assert.ok(firstIndexes.every((v, k) => k === 0 || v > firstIndexes[k - 1]!));

    await assert.rejects(wal.releaseTo(30), /newest durable snapshot is at 0/);
    await wal.markSnapshot({ index: 30, term: 1 });
    const current = wal.segmentFiles().at(-1);
    await wal.releaseTo(30);
    const after = wal.segmentFiles();
    assert.ok(after.length < before.length, 'some segments were deleted');
    assert.equal(after.at(-1), current, 'the current segment stays');
    assert.deepEqual(await readdir(dir).then((f) => f.sort()), [...after].sort());
    const firstKept = before.indexOf(after[0]!);
    assert.ok(firstIndexes[firstKept]! <= 31, 'no segment holding entries above the snapshot was deleted');

    await wal.append([entry(61, 2)]);
    await wal.close();
    const state = await reopen(dir);
    assert.deepEqual(state.snapshot, { index: 30, term: 1 });
    assert.deepEqual(indices(state.entries), Array.from({ length: 31 }, (_, k) => k + 31));
    assert.deepEqual(state.hardState, { term: 1, vote: 7, commit: 60 });
  });
});

test('everything can be released down to the current segment and replay still works', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 200 });
    for (let i = 1; i <= 40; i++) await wal.append([entry(i, 1)]);
    await wal.markSnapshot({ index: 40, term: 1 });
    await wal.releaseTo(40);
    assert.equal(wal.segmentFiles().length, 1);
    await wal.close();
    const state = await reopen(dir);
    assert.deepEqual(state.snapshot, { index: 40, term: 1 });
    assert.deepEqual(state.entries, []);

    const { wal: again } = await Wal.open(dir, base);
    await again.append([entry(41, 2)]);
    await again.close();
    assert.deepEqual((await reopen(dir)).entries, [entry(41, 2)]);
  });
});

test('a WAL written by a newer format is refused', async () => {
  await withTempDir(async (dir) => {
    const head = Buffer.concat([
      metadataRecord({ formatVersion: 2, memberId: 7, clusterId: 99 }),
      snapshotMarkerRecord({ index: 0, term: 0 }),
      hardStateRecord({ term: 0, vote: 0, commit: 0 }),
    ]);
    await writeFile(join(dir, '0000000000000001-0000000000000001.wal'), head);
    await assert.rejects(Wal.open(dir, base), (err: unknown) => err instanceof DataFormatError && /WAL format 2/.test(err.message));
  });
});

test('leftover temporary segment files are removed on open', async () => {
  await withTempDir(async (dir) => {
    await reopen(dir);
    await writeFile(join(dir, '0000000000000002-0000000000000001.wal.tmp'), 'half written');
    await reopen(dir);
    assert.deepEqual(await readdir(dir), ['0000000000000001-0000000000000001.wal']);
  });
});

test('replay bridges deleted segments when the snapshot marker sits right before the oldest entry', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 100 });
    await wal.append(entries(1, 10, 1)); // segment 1
    await wal.append(entries(11, 20, 1)); // segment 2 (its head repeats marker 0)
    await wal.markSnapshot({ index: 10, term: 1 }); // segment 3
    assert.equal(wal.segmentFiles().length, 3);
    await wal.releaseTo(10);
    assert.equal(wal.segmentFiles().length, 2);
    await wal.close();

    const state = await reopen(dir);
    assert.deepEqual(state.snapshot, { index: 10, term: 1 });
    assert.deepEqual(state.entries, entries(11, 20, 1));
  });
});

test('a WAL whose oldest segment starts after a gap no marker covers is refused', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 100 });
    await wal.append(entries(1, 10, 1));
    await wal.append(entries(11, 20, 1));
    const [first] = wal.segmentFiles();
    await wal.close();
    const { unlink } = await import('node:fs/promises');
    // Lose the oldest segment without a snapshot covering it.
    await unlink(join(dir, first!));
    await assert.rejects(Wal.open(dir, base), /no snapshot marker covers index 10/);
  });
});

test('damage that reaches the head of the last segment leaves a usable segment', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 100 });
    await wal.append(entries(1, 5, 1), { term: 1, vote: 7, commit: 5 });
    await wal.append(entries(6, 10, 1));
    const [, last] = wal.segmentFiles();
    await wal.close();
    await truncate(join(dir, last!), 10);

    const { logger, lines } = capturingLogger();
    const { wal: again, state } = await Wal.open(dir, { ...base, logger });
    assert.deepEqual(state.entries, entries(1, 5, 1));
    assert.deepEqual(state.hardState, { term: 1, vote: 7, commit: 5 });
    assert.ok(lines.some((l) => /rewrote the head/.test(l.msg)));
    await again.append([entry(6, 2)]);
    await again.close();
    const after = await reopen(dir);
    assert.deepEqual(after.entries, [...entries(1, 5, 1), entry(6, 2)]);
    assert.deepEqual(after.hardState, { term: 1, vote: 7, commit: 5 });
  });
});

test('a hard state saved without entries survives a reopen', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, base);
    await wal.append([], { term: 4, vote: 2, commit: 0 });
    await wal.close();
    assert.deepEqual((await reopen(dir)).hardState, { term: 4, vote: 2, commit: 0 });
  });
});

test('a hard state alone with sync false is held back until the next write, which carries it', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, base);
    await wal.append(entries(1, 3, 1), { term: 1, vote: 1, commit: 0 });
    const before = wal.stats();
    await wal.append([], { term: 1, vote: 1, commit: 2 }, false);
    await wal.append([], { term: 1, vote: 1, commit: 3 }, false);
    assert.equal(wal.stats().submissions, before.submissions, 'nothing was written yet');
    await wal.append([entry(4, 1)]);
    assert.equal(wal.stats().fsyncs, before.fsyncs + 1, 'one write, one fsync, for the entry and the held hard state');
    await wal.close();
    const state = await reopen(dir);
    assert.equal(state.entries.length, 4);
    assert.deepEqual(state.hardState, { term: 1, vote: 1, commit: 3 }, 'the newest held hard state went out with the entry');
  });
});

test('close writes a hard state still held back', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, base);
    await wal.append(entries(1, 3, 1), { term: 1, vote: 1, commit: 0 });
    await wal.append([], { term: 1, vote: 1, commit: 3 }, false);
    await wal.close();
    assert.deepEqual((await reopen(dir)).hardState, { term: 1, vote: 1, commit: 3 });
  });
});

test('a segment whose last commit skipped its fsync is fsynced before the next segment is cut', async () => {
  await withTempDir(async (dir) => {
    const { wal } = await Wal.open(dir, { ...base, segmentBytes: 600 });
    // Unsynced appends (records written, fsync left for later) until one finds the segment full.
    let i = 0;
    while (wal.stats().segments === 1 && i < 1000) {
      i++;
      await wal.append([entry(i, 1)], undefined, false);
    }
    const stats = wal.stats();
    assert.equal(stats.segments, 2, 'a segment was cut');
    assert.equal(stats.fsyncs, 1, 'the full segment was fsynced before the cut, and nothing else');
    await wal.close();
    assert.equal((await reopen(dir)).entries.length, i);
  });
});

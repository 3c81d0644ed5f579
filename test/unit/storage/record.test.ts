import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameRecord, RecordType, RECORD_HEADER_BYTES, scanRecords } from '../../../node/storage/record.js';
import {
  decodeEntry,
  decodeHardState,
  decodeMetadata,
  decodeSnapshotMarker,
  entryRecord,
  hardStateRecord,
  metadataRecord,
  snapshotMarkerRecord,
} from '../../../node/storage/wal-codec.js';
import { readU64, writeU64 } from '../../../node/storage/binary.js';
import { EntryType } from '../../../node/raft/types.js';

test('records of every type decode to what was encoded', () => {
  const big = 2 ** 53 - 1;
  const data = Buffer.concat([
    metadataRecord({ formatVersion: 1, memberId: big, clusterId: 42 }),
    entryRecord({ index: 7, term: 3, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) }),
    hardStateRecord({ term: 3, vote: 2, commit: 6 }),
    snapshotMarkerRecord({ index: 5, term: 2 }),
  ]);
  const scan = scanRecords(data);
  assert.equal(scan.damage, undefined);
  assert.equal(scan.validBytes, data.length);
  assert.deepEqual(
    scan.records.map((r) => r.type),
    [RecordType.Metadata, RecordType.Entry, RecordType.HardState, RecordType.SnapshotMarker],
  );
  assert.deepEqual(decodeMetadata(scan.records[0]!.payload), { formatVersion: 1, memberId: big, clusterId: 42 });
  assert.deepEqual(decodeEntry(scan.records[1]!.payload), { index: 7, term: 3, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(decodeHardState(scan.records[2]!.payload), { term: 3, vote: 2, commit: 6 });
  assert.deepEqual(decodeSnapshotMarker(scan.records[3]!.payload), { index: 5, term: 2 });
});

test('a flipped bit anywhere in a record is caught by its checksum', () => {
  const good = frameRecord(RecordType.Entry, Buffer.from('payload bytes'));
  for (let offset = 0; offset < good.length; offset++) {
    const bad = Buffer.from(good);
    bad[offset]! ^= 0x10;
    const scan = scanRecords(bad);
    assert.equal(scan.records.length, 0, `flip at ${offset} went unnoticed`);
    assert.equal(scan.validBytes, 0);
    assert.ok(scan.damage !== undefined);
  }
});

test('scanning stops at a partial record and reports the good prefix', () => {
  const first = frameRecord(RecordType.HardState, Buffer.alloc(24, 1));
  const second = frameRecord(RecordType.Entry, Buffer.alloc(100, 2));
  const whole = Buffer.concat([first, second]);
  for (const cut of [first.length + 3, first.length + RECORD_HEADER_BYTES, whole.length - 1]) {
    const scan = scanRecords(whole.subarray(0, cut));
    assert.equal(scan.records.length, 1);
    assert.equal(scan.validBytes, first.length);
    assert.match(scan.damage!.reason, /partial/);
    assert.equal(scan.damage!.offset, first.length);
  }
});

test('64-bit fields hold every safe integer and refuse the rest', () => {
  const buf = Buffer.alloc(8);
  for (const n of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
    writeU64(buf, n, 0);
    assert.equal(readU64(buf, 0), n);
  }
  assert.throws(() => writeU64(buf, -1, 0), RangeError);
  assert.throws(() => writeU64(buf, 1.5, 0), RangeError);
  buf.fill(0xff);
  assert.throws(() => readU64(buf, 0), RangeError);
});

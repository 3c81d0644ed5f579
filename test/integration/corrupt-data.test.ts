// A member whose WAL or snapshot was damaged in place refuses to start: it
// exits with CORRUPT_DATA_EXIT_CODE and says which file and where, instead of
// truncating acknowledged records as if the damage were a torn write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { CORRUPT_DATA_EXIT_CODE, CORRUPT_DATA_TEXT } from '../../contract/index.js';
import { scanRecords } from '../../node/storage/record.js';
import { ProcessCluster, type ProcessMember } from './process-cluster.js';

function flip(file: string, offset: number, count = 4): void {
  const bytes = readFileSync(file);
  for (let i = 0; i < count; i++) bytes[offset + i]! ^= 0xa5;
  writeFileSync(file, bytes);
}

async function exitOf(m: ProcessMember, timeoutMs = 15000): Promise<number | null> {
  const child = m.process!;
  if (child.exitCode !== null) return child.exitCode;
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${m.name} still running after ${timeoutMs} ms; log:\n${m.log.join('').slice(-2000)}`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('a member refuses data damaged in place', () => {
  let c: ProcessCluster;
  let pristine: string;
  before(async () => {
    c = await ProcessCluster.create('kvorum', 1, { extraArgs: ['--snapshot-count=40'] });
    await c.startAll();
    const client = new Etcd3({ hosts: c.members[0]!.clientUrl });
    try {
      for (let i = 0; i < 150; i++) await client.put(`k/${i}`).value(`value-${i}`.repeat(4));
    } finally {
      client.close();
    }
    await c.kill(c.members[0]!, 'SIGTERM');
    pristine = join(c.root, 'pristine');
    cpSync(c.members[0]!.dataDir, pristine, { recursive: true });
  });
  after(async () => {
    await c?.destroy();
  });

  function restorePristine(): void {
    rmSync(c.members[0]!.dataDir, { recursive: true, force: true });
    cpSync(pristine, c.members[0]!.dataDir, { recursive: true });
  }

  test('four bytes flipped in the middle of the last WAL segment: exit 65 naming the segment and offset, nothing truncated', async () => {
    restorePristine();
    const m = c.members[0]!;
    const walDir = join(m.dataDir, 'wal');
    const last = join(walDir, readdirSync(walDir).filter((f) => f.endsWith('.wal')).sort().at(-1)!);
    const records = scanRecords(readFileSync(last)).records;
    assert.ok(records.length > 10, `the last segment holds ${records.length} records`);
    const victim = records[Math.floor(records.length / 2)]!;
    flip(last, victim.offset + 12);
    const size = statSync(last).size;

    c.start(m);
    assert.equal(await exitOf(m), CORRUPT_DATA_EXIT_CODE);
    const log = m.log.join('');
    assert.ok(log.includes(CORRUPT_DATA_TEXT), log.slice(-2000));
    assert.ok(log.includes(`${last} at offset ${victim.offset}`), `names the file and offset; log:\n${log.slice(-2000)}`);
    assert.match(log, /valid record follows/);
    assert.doesNotMatch(log, /truncating/);
    assert.equal(statSync(last).size, size, 'the segment keeps every byte');
  });

  test('bytes flipped in the middle of the snapshot the WAL starts after: exit 65 naming the snapshot file', async () => {
    restorePristine();
    const m = c.members[0]!;
    const snapDir = join(m.dataDir, 'snap');
    const snaps = readdirSync(snapDir).filter((f) => f.endsWith('.snap')).sort();
    assert.ok(snaps.length > 0, 'the member took a snapshot');
    const newest = join(snapDir, snaps.at(-1)!);
    flip(newest, Math.floor(statSync(newest).size / 2));

    c.start(m);
    assert.equal(await exitOf(m), CORRUPT_DATA_EXIT_CODE);
    const log = m.log.join('');
    assert.ok(log.includes(CORRUPT_DATA_TEXT), log.slice(-2000));
    assert.ok(log.includes(newest), `names the snapshot file; log:\n${log.slice(-2000)}`);
    assert.match(log, /checksum mismatch/);
  });

  test('the undamaged copy still starts and serves every write', async () => {
    restorePristine();
    const m = c.members[0]!;
    c.start(m);
    await c.waitHealthy(20000, [m]);
    const client = new Etcd3({ hosts: m.clientUrl });
    try {
      assert.equal(await client.getAll().prefix('k/').count(), 150);
    } finally {
      client.close();
    }
  });
});

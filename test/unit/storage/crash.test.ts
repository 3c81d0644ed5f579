// Kills a writer process with SIGKILL mid-stream, several times over the same
// data dir, and checks that every entry it acknowledged survived. (SIGKILL
// keeps the page cache, so this tests process crashes, not power loss.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DiskStorage } from '../../../node/storage/raft-storage.js';
import { silentLogger, withTempDir } from './helpers.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.js', import.meta.url));

function payloadFor(index: number): string {
  return `entry-${index}-`.padEnd(120, 'x');
}

/** Runs the writer until it has acknowledged `acksBeforeKill` entries, then SIGKILLs it. */
async function runAndKill(dir: string, acksBeforeKill: number): Promise<{ acked: number[]; startedAt: number }> {
  const child = spawn(process.execPath, [WRITER, dir, '16384'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const acked: number[] = [];
  let startedAt = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    const [word, value] = line.split(' ');
    if (word === 'ready') startedAt = Number(value);
    if (word === 'ack') acked.push(Number(value));
    if (acked.length === acksBeforeKill) child.kill('SIGKILL');
  }
  const signal = await exited;
  assert.equal(signal, 'SIGKILL', `writer died on its own: ${stderr}`);
  return { acked, startedAt };
}

test('every entry acknowledged before a SIGKILL is there after reopen', { timeout: 120_000 }, async () => {
  await withTempDir(async (dir) => {
    const acked = new Set<number>();
    let expectedStart = 1;
    for (const acksBeforeKill of [350, 1234, 777]) {
      const round = await runAndKill(dir, acksBeforeKill);
      assert.equal(round.startedAt, expectedStart, 'the writer resumed right after the recovered log');
      assert.ok(round.acked.length >= acksBeforeKill);
      for (const index of round.acked) acked.add(index);

      const storage = await DiskStorage.open(dir, { memberId: 1, clusterId: 1, logger: silentLogger });
      const snapshotIndex = storage.snapshot().meta.index;
      if (snapshotIndex > 0) assert.equal(Buffer.from(storage.snapshot().data).toString(), `upto ${snapshotIndex}`);
      assert.equal(storage.firstIndex(), snapshotIndex + 1);
      const retained = storage.entries(storage.firstIndex(), storage.lastIndex() + 1);
      retained.forEach((e, k) => {
        assert.equal(e.index, snapshotIndex + 1 + k);
        assert.equal(Buffer.from(e.data).toString(), payloadFor(e.index));
      });
      const missing = [...acked].filter((index) => index > storage.lastIndex());
      assert.deepEqual(missing, [], 'acknowledged entries were lost');
      assert.ok(storage.initialState().hardState.commit >= Math.max(...acked), 'the hard state of acknowledged saves survived');
      expectedStart = storage.lastIndex() + 1;
      await storage.close();
    }
    assert.ok(acked.size >= 350 + 1234 + 777);
  });
});

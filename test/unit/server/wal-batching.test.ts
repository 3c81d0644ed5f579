// Writes that arrive in one turn of the event loop share one WAL commit,
// also when the WAL's fsync blocks the event loop (storage/adaptive-sync.ts):
// the Raft loop starts after the poll phase, not on a microtask after the
// first request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bytes, InProcessCluster } from './in-process-cluster.js';

const WRITES = 60;

for (const walSync of ['adaptive', 'pool'] as const) {
  describe(`WAL commits per turn (single member, walSync ${walSync})`, () => {
    let c: InProcessCluster;
    before(async () => {
      c = new InProcessCluster(1, { walSync });
      await c.startAll();
      await c.waitForLeader();
    });
    after(async () => {
      await c?.close();
    });

    it(`${WRITES} puts made by separate callbacks of one turn take at most two WAL commits`, async () => {
      const m = [...c.members.values()][0]!;
      await m.server.put({ key: bytes('warm'), value: bytes('up') });
      const before = m.storage.walStats().batches;
      // Each put starts in its own callback of one check phase, as requests
      // read from separate sockets in one poll phase would.
      const puts = await new Promise<Promise<unknown>[]>((resolve) => {
        const started: Promise<unknown>[] = [];
        for (let i = 0; i < WRITES; i++) {
          setImmediate(() => {
            started.push(m.server.put({ key: bytes(`k${i}`), value: bytes(`v${i}`) }));
            if (started.length === WRITES) resolve(started);
          });
        }
      });
      await Promise.all(puts);
      const commits = m.storage.walStats().batches - before;
      assert.ok(commits >= 1 && commits <= 2, `${WRITES} puts took ${commits} WAL commits`);
      const read = await m.server.range({ key: bytes('k'), rangeEnd: bytes('l') });
      assert.equal(read.kvs.length, WRITES);
    });
  });
}

// Writes through every member while leadership moves (MoveLeader) several
// times: none fails. A member that had been a candidate, then led, then
// handed leadership over, used to drop the proposals followers forwarded to
// it between stepping down and hearing from the new leader (its leaderless
// wait still counted from its own election), and their clients got
// "leader changed" a grace later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessCluster, bytes } from './in-process-cluster.js';
import type { RunningMember } from '../../../node/server/member.js';

test('MoveLeader under writes through every member, four times: no write fails', async () => {
  const cluster = new InProcessCluster(3);
  await cluster.startAll();
  try {
    await cluster.waitForLeader();
    const members = [...cluster.members.entries()].map(([name, member]) => ({ name, member }));
    const errors: string[] = [];
    let acked = 0;
    let stop = false;
    let seq = 0;
    const writer = async (m: { name: string; member: RunningMember }): Promise<void> => {
      while (!stop) {
        const key = `transfer/${seq++}`;
        try {
          await m.member.server.put({ key: bytes(key), value: bytes(key) });
          acked++;
        } catch (err) {
          errors.push(`${m.name}: ${(err as Error).message}`);
        }
      }
    };
    const writers = members.flatMap((m) => [writer(m), writer(m), writer(m)]);
    const waitAcks = async (n: number): Promise<void> => {
      const target = acked + n;
      const deadline = Date.now() + 10_000;
      while (acked < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };
    try {
      for (let i = 0; i < 4; i++) {
        await waitAcks(50);
        const from = await cluster.waitForLeader();
        const to = members.map((m) => m.member).filter((m) => m !== from)[i % 2]!;
        await from.server.moveLeader(to.memberId);
        // Past an election timeout (100 ms here) as leader before the next move:
        // the case where the old wait start was stale.
        await new Promise((r) => setTimeout(r, 250));
      }
      await waitAcks(50);
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    assert.equal(errors.length, 0, `${errors.length} of ${acked + errors.length} writes failed: ${[...new Set(errors)].join('; ')}`);
  } finally {
    await cluster.close();
  }
});

// Durability under kill -9: writes keep flowing while the leader and then a
// follower are killed and restarted; afterwards every acknowledged write is
// on every member and revisions never went backwards. A member whose WAL
// lost its last bytes (a torn write) recovers on restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { ProcessCluster, type ProcessMember } from './process-cluster.js';

describe('crash safety with real processes', () => {
  let c: ProcessCluster;
  let client: Etcd3;
  before(async () => {
    c = await ProcessCluster.create('kvorum', 3);
    await c.startAll();
    client = new Etcd3({ hosts: c.members.map((m) => m.clientUrl), dialTimeout: 2000 });
  });
  after(async () => {
    client?.close();
    await c?.destroy();
  });

  test('kill -9 of the leader and of a follower under load loses no acknowledged write', async () => {
    const acked = new Map<string, string>();
    let lastRevision = 0;
    let backwards = 0;
    let stop = false;
    let seq = 0;
    // Four writers, each sequential, bounded in count and time. A failed put
    // waits a little: while a new leader is elected the client fails fast
    // (its circuit breakers open), and unpaced retries would spend the
    // whole budget in that window.
    const deadline = Date.now() + 60_000;
    const writer = async (w: number): Promise<void> => {
      while (!stop && Date.now() < deadline && seq < 6000) {
        const key = `crash/${w}/${seq++}`;
        try {
          const res = await client.put(key).value(key);
          acked.set(key, key);
          const rev = Number(res.header.revision);
          if (rev < lastRevision - 1000) backwards++;
          lastRevision = Math.max(lastRevision, rev);
        } catch {
          // Not acknowledged: it may or may not have been applied.
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    const waitAcks = async (n: number): Promise<void> => {
      const target = acked.size + n;
      while (acked.size < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    await waitAcks(200);
    const leader = await c.leader();
    await c.kill(leader, 'SIGKILL');
    await waitAcks(200);
    c.start(leader);
    await c.waitHealthy(20000, [leader]);
    const follower = c.members.find((m) => m !== leader) as ProcessMember;
    const current = await c.leader();
    const victim = follower === current ? c.members.find((m) => m !== leader && m !== current)! : follower;
    await c.kill(victim, 'SIGKILL');
    await waitAcks(200);
    c.start(victim);
    await c.waitHealthy(20000, [victim]);
    await waitAcks(100);
    stop = true;
    await Promise.all(writers);
    assert.ok(acked.size >= 700, `only ${acked.size} writes were acknowledged; member logs:\n${c.members.map((m) => `--- ${m.name}\n${m.log.join('').slice(-4000)}`).join('\n')}`);
    assert.equal(backwards, 0, 'revisions went backwards');

    // Every member, read locally (serializable), holds every acknowledged key.
    await new Promise((r) => setTimeout(r, 1000));
    for (const m of c.members) {
      const local = new Etcd3({ hosts: m.clientUrl });
      try {
        const keys = await local.getAll().prefix('crash/').serializable(true).keys();
        const present = new Set(keys);
        const missing = [...acked.keys()].filter((k) => !present.has(k));
        assert.deepEqual(missing.slice(0, 10), [], `${m.name} lost ${missing.length} acknowledged writes`);
      } finally {
        local.close();
      }
    }
  });

  test('a torn last WAL record is truncated on restart and the member rejoins', async () => {
    const victim = c.members[2]!;
    await client.put('before-tear').value('kept');
    await c.kill(victim, 'SIGKILL');
    const walDir = join(victim.dataDir, 'wal');
    const segments = readdirSync(walDir).filter((f) => f.endsWith('.wal')).sort();
    const last = join(walDir, segments[segments.length - 1]!);
    const size = statSync(last).size;
    truncateSync(last, size - 3);
    c.start(victim);
    await c.waitHealthy(20000, [victim]);
    const local = new Etcd3({ hosts: victim.clientUrl });
    try {
      assert.equal(await local.get('before-tear').string(), 'kept');
    } finally {
      local.close();
    }
    assert.match(victim.log.join(''), /torn|truncat/i, 'the member reported the repaired tail');
  });
});

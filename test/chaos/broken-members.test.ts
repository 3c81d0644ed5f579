// Deliberately broken members (node/failpoints.ts) must be caught by the
// chaos checks: one that serves linearizable reads locally (the history is
// not linearizable), one that drops a watch event (the watch checker reports
// it), and one that acknowledges before its write is durable (an
// acknowledged write is gone after kill -9 of every member). Each runs real
// member processes with the failpoint in their environment.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { ProcessCluster } from '../integration/process-cluster.js';
import { checkLinearizable } from '../sim/linearizability.js';
import { kvModel, type KvOperation } from '../sim/models.js';
import { checkWatches, type WatchSessionRecord } from './watch-checker.js';

async function brokenCluster(failpoints: string, size = 3): Promise<ProcessCluster> {
  // The children inherit these; this file runs in its own process.
  process.env.KVORUM_TEST_FAILPOINTS = '1';
  process.env.KVORUM_FAILPOINTS = failpoints;
  const c = await ProcessCluster.create('kvorum', size);
  await c.startAll();
  return c;
}

describe('deliberately broken members are caught', { concurrency: false }, () => {
  const clusters: ProcessCluster[] = [];
  after(async () => {
    for (const c of clusters) await c.destroy();
    delete process.env.KVORUM_FAILPOINTS;
    delete process.env.KVORUM_TEST_FAILPOINTS;
  });

  test('local-read: a member that skips ReadIndex gives a history the linearizability checker rejects', async () => {
    const c = await brokenCluster('local-read=on');
    clusters.push(c);
    const leader = await c.leader();
    const follower = c.members.find((m) => m !== leader)!;
    const writer = new Etcd3({ hosts: leader.clientUrl });
    const reader = new Etcd3({ hosts: follower.clientUrl });
    const history: KvOperation[] = [];
    const t0 = performance.now();
    const now = (): number => performance.now() - t0;
    let result = checkLinearizable(kvModel, history, { maxSteps: 1_000_000 });
    try {
      // Rounds of 40 write-then-read pairs until the history shows the stale read
      // (on a loaded machine the follower sometimes keeps up for a whole round).
      for (let i = 1; i <= 200 && result.result !== 'illegal'; i++) {
        let call = now();
        await writer.put('k').value(`v${i}`);
        history.push({ clientId: 0, input: { op: 'put', key: 'k', value: `v${i}` }, output: {}, call, ret: now() });
        call = now();
        const value = (await reader.get('k').string()) ?? '';
        history.push({ clientId: 1, input: { op: 'get', key: 'k' }, output: { value }, call, ret: now() });
        if (i % 40 === 0) result = checkLinearizable(kvModel, history, { maxSteps: 1_000_000 });
      }
    } finally {
      writer.close();
      reader.close();
    }
    assert.equal(result.result, 'illegal', 'a read right after an acknowledged write, served by a lagging follower, is stale');
  });

  test('drop-watch-event: the watch checker reports the event one watch missed', async () => {
    const c = await brokenCluster('drop-watch-event=15', 1);
    clusters.push(c);
    const client = new Etcd3({ hosts: c.members[0]!.clientUrl });
    const sessions: WatchSessionRecord[] = [];
    try {
      const watchers = [];
      for (const id of ['a', 'b']) {
        const s: WatchSessionRecord = { id, key: 'w/', rangeEnd: 'w0', startRevision: 0, createdRevision: 0, prevKv: true, responses: [] };
        sessions.push(s);
        const w = await client.watch().prefix('w/').withPreviousKV().create();
        w.on('connected', (res) => (s.createdRevision = Number(res.header.revision)));
        w.on('data', (res) =>
          s.responses.push({
            headerRevision: Number(res.header.revision),
            events: res.events.map((e) => ({
              type: e.type === 'Delete' ? 'DELETE' : 'PUT',
              key: e.kv.key.toString(),
              value: e.type === 'Delete' ? '' : e.kv.value.toString(),
              modRevision: Number(e.kv.mod_revision),
              ...(e.prev_kv && { prevKv: { value: e.prev_kv.value.toString(), modRevision: Number(e.prev_kv.mod_revision) } }),
            })),
          }),
        );
        watchers.push(w);
      }
      const startRevision = Number((await client.get('w/none').exec()).header.revision);
      for (const s of sessions) s.startRevision = startRevision + 1;
      let last = 0;
      for (let i = 0; i < 30; i++) last = Number((await client.put(`w/${i % 5}`).value(`v${i}`)).header.revision);
      await new Promise((r) => setTimeout(r, 500));
      for (const w of watchers) await w.cancel();
      const result = checkWatches(sessions, { lastRevision: last });
      assert.ok(result.violations.some((v) => v.startsWith('reliable:')), `expected a reliable violation, got ${JSON.stringify(result.violations)}`);
    } finally {
      client.close();
    }
  });

  // Each member's WAL writes reach the file 3 s late and nothing waits for
  // them, so a write acknowledged and followed at once by kill -9 of every
  // member is on no disk. The outcome is checked as the harness checks a
  // history: an acknowledged put, then a read that does not see it.
  test('ack-before-fsync: an acknowledged write is gone after kill -9 of every member, and the history checker rejects it', async () => {
    const c = await brokenCluster('ack-before-fsync=delay:3000');
    clusters.push(c);
    // Let the bootstrap's own held writes land before the trials.
    await new Promise((r) => setTimeout(r, 3500));
    const history: KvOperation[] = [];
    const t0 = performance.now();
    const now = (): number => performance.now() - t0;
    let lost: string | undefined;
    for (let trial = 0; trial < 3 && lost === undefined; trial++) {
      const client = new Etcd3({ hosts: c.members.map((m) => m.clientUrl), dialTimeout: 2000 });
      const key = `acked/${trial}`;
      try {
        const call = now();
        await client.put(key).value('durable?');
        history.push({ clientId: 0, input: { op: 'put', key, value: 'durable?' }, output: {}, call, ret: now() });
      } finally {
        client.close();
      }
      // At once, with no quiet spell: the acknowledged write is still held back on every member.
      await Promise.all(c.members.map((m) => c.kill(m, 'SIGKILL')));
      for (const m of c.members) c.start(m);
      await c.waitHealthy(30_000);
      const check = new Etcd3({ hosts: c.members.map((m) => m.clientUrl), dialTimeout: 2000 });
      try {
        const call = now();
        const value = (await check.get(key).string()) ?? '';
        history.push({ clientId: 1, input: { op: 'get', key }, output: { value }, call, ret: now() });
        if (value === '') lost = key;
      } finally {
        check.close();
      }
      // Before the next trial, this restart's held writes land.
      if (lost === undefined) await new Promise((r) => setTimeout(r, 3500));
    }
    assert.ok(lost !== undefined, 'no acknowledged write was lost in 3 trials');
    const result = checkLinearizable(kvModel, history, { maxSteps: 1_000_000 });
    assert.equal(result.result, 'illegal', `an acknowledged put followed by a read that misses it must not be linearizable: ${JSON.stringify(history)}`);
  });
});

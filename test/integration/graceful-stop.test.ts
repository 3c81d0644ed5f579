// SIGTERM of the leader under a steady write load: it hands leadership to a
// caught-up follower before it exits, so clients of the other members see no
// "leader changed" (nor any other) error, the old leader exits 0, and no
// acknowledged write is lost. Clients here retry nothing: each is pinned to
// one member and counts every error it gets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { etcdServices } from '../../node/api/proto/load.js';
import { hostPort, ProcessCluster, type ProcessMember } from './process-cluster.js';

const KV = makeGenericClientConstructor(etcdServices.KV, 'KV');
type Unary = (req: unknown, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => void;

function call(client: Client, method: 'Put' | 'Range', req: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, Unary>)[method]!.call(client, req, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

describe('graceful stop with real processes', () => {
  let c: ProcessCluster;
  before(async () => {
    c = await ProcessCluster.create('kvorum', 3, { extraArgs: ['--log-level=info'] });
    await c.startAll();
  });
  after(async () => {
    await c?.destroy();
  });

  test('SIGTERM of the leader under writes: leadership handed over first, no error on the other members, nothing acknowledged lost', async () => {
    const leader = await c.leader();
    const survivors = c.members.filter((m) => m !== leader);
    const clients = new Map<ProcessMember, Client>(c.members.map((m) => [m, new KV(hostPort(m.clientUrl), credentials.createInsecure())]));
    const acked: string[] = [];
    const errors = new Map<ProcessMember, string[]>(c.members.map((m) => [m, []]));
    let stop = false;
    let seq = 0;
    const writer = async (m: ProcessMember, w: number): Promise<void> => {
      while (!stop) {
        const key = `graceful/${m.name}/${w}/${seq++}`;
        try {
          await call(clients.get(m)!, 'Put', { key: Buffer.from(key), value: Buffer.from(key) });
          acked.push(key);
        } catch (err) {
          errors.get(m)!.push((err as ServiceError).details ?? String(err));
          // The stopped member refuses (or is gone): its writers pause rather than spin.
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const writers = c.members.flatMap((m) => [0, 1, 2].map((w) => writer(m, w)));
    const waitAcks = async (n: number): Promise<void> => {
      const target = acked.length + n;
      const deadline = Date.now() + 20_000;
      while (acked.length < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    await waitAcks(300);
    const exited = new Promise<number | null>((r) => leader.process!.once('exit', (code) => r(code)));
    const sentAt = Date.now();
    leader.process!.kill('SIGTERM');
    const code = await exited;
    const stopMs = Date.now() - sentAt;
    leader.process = undefined;
    await waitAcks(300);
    stop = true;
    await Promise.all(writers);

    const leaderLog = leader.log.join('');
    const survivorErrors = survivors.flatMap((m) => errors.get(m)!);
    const report = `stop took ${stopMs} ms; ${acked.length} writes acknowledged; errors on the stopped member: ${errors.get(leader)!.length} (${[...new Set(errors.get(leader))].join('; ')}); on the others: ${survivorErrors.length} (${[...new Set(survivorErrors)].join('; ')})`;
    process.stdout.write(`# ${report}\n`);
    if (process.env.KVORUM_DEBUG_LOGS) {
      const { writeFileSync } = await import('node:fs');
      for (const m of c.members) writeFileSync(`${process.env.KVORUM_DEBUG_LOGS}/${m.name}${m === leader ? '-old-leader' : ''}.log`, `errors: ${errors.get(m)!.length}\n` + m.log.join(''));
    }
    assert.equal(code, 0, `the old leader exits 0; its log:\n${leaderLog.slice(-3000)}`);
    assert.match(leaderLog, /"handedTo":"[0-9a-f]+"/, `the old leader handed leadership over before it stopped serving; its log:\n${leaderLog.slice(-3000)}`);
    assert.equal(survivorErrors.filter((e) => e.includes('leader changed')).length, 0, report);
    assert.equal(survivorErrors.length, 0, report);
    assert.ok(stopMs < 10_000, report);

    // Every acknowledged write is on both remaining members (read locally).
    for (const m of survivors) {
      const res = (await call(clients.get(m)!, 'Range', { key: Buffer.from('graceful/'), range_end: Buffer.from('graceful0'), keys_only: true, serializable: true })) as { kvs: { key: Buffer }[] };
      const have = new Set(res.kvs.map((kv) => kv.key.toString()));
      const missing = acked.filter((k) => !have.has(k));
      assert.equal(missing.length, 0, `${m.name} lacks ${missing.length} acknowledged writes, e.g. ${missing.slice(0, 3).join(', ')}`);
    }
    for (const client of clients.values()) client.close();
    // The stopped member comes back and rejoins.
    c.start(leader);
    await c.waitHealthy(20_000, [leader]);
  });
});

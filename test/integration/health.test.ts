// etcd 3.5's health semantics on real member processes: a learner is live
// but not ready; a full quota (NOSPACE) fails /health but leaves the member
// ready and live; a lost quorum fails /health and /readyz's linearizable
// read while the serializable forms (kubeadm's probe) and /livez still pass.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ProcessCluster, type ProcessMember } from './process-cluster.js';

/** Small enough that a few hundred KiB of values raise NOSPACE. */
const QUOTA_BYTES = 256 * 1024;

interface Answer {
  status: number;
  body: string;
}

async function get(url: string, timeoutMs = 15_000): Promise<Answer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Polls until the answer satisfies `ok`; fails with the last answer. */
async function until(what: string, probe: () => Promise<Answer>, ok: (a: Answer) => boolean, timeoutMs = 20_000): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  let last: Answer | string = 'no answer';
  while (Date.now() < deadline) {
    try {
      const a = await probe();
      if (ok(a)) return a;
      last = a;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; last answer: ${JSON.stringify(last)}`);
}

describe('health, readiness and liveness of real members', () => {
  let c: ProcessCluster;
  before(async () => {
    c = await ProcessCluster.create('kvorum', 3, { extraArgs: [`--quota-backend-bytes=${QUOTA_BYTES}`] });
    await c.startAll();
  });
  after(() => c?.destroy());

  test('a healthy member passes every check, listed with ?verbose', async () => {
    const url = c.members[0]!.clientUrl;
    assert.deepEqual(await get(`${url}/health`), { status: 200, body: '{"health":"true","reason":""}' });
    assert.deepEqual(await get(`${url}/readyz?verbose`), {
      status: 200,
      body: '[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\nok\n',
    });
    assert.deepEqual(await get(`${url}/livez`), { status: 200, body: 'ok\n' });
  });

  test('a learner is live but not ready', async () => {
    const learner: ProcessMember = { name: 'm4', clientUrl: await c.newUrl(), peerUrl: await c.newUrl(), dataDir: join(c.root, 'm4'), log: [] };
    const added = await post(`${c.members[0]!.clientUrl}/v3/cluster/member/add`, { peerURLs: [learner.peerUrl], isLearner: true });
    assert.equal(added.status, 200, JSON.stringify(added.json));
    const id = (added.json.member as { ID: string }).ID;
    c.start(learner, 'existing', [...c.members, learner]);
    try {
      await until('the learner is live', () => get(`${learner.clientUrl}/livez`), (a) => a.status === 200);
      const ready = await get(`${learner.clientUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.match(ready.body, /^\[-\]non_learner failed: not supported for learner$/m);
      assert.match(ready.body, /^\[\+\]serializable_read ok$/m);
      assert.equal((await get(`${learner.clientUrl}/readyz/non_learner`)).status, 503);
      assert.equal((await get(`${learner.clientUrl}/readyz?exclude=non_learner`)).status, 200);
    } finally {
      await c.kill(learner);
      const removed = await post(`${c.members[0]!.clientUrl}/v3/cluster/member/remove`, { ID: id });
      assert.equal(removed.status, 200, JSON.stringify(removed.json));
    }
  });

  test('a full quota (NOSPACE) fails /health, not /readyz or /livez; exclude=NOSPACE passes /health', async () => {
    const url = c.members[0]!.clientUrl;
    const value = Buffer.alloc(16 * 1024, 7).toString('base64');
    let refused = '';
    // Bounded: the quota is 256 KiB, so 64 puts of 16 KiB are more than enough.
    for (let i = 0; i < 64 && !refused; i++) {
      const put = await post(`${url}/v3/kv/put`, { key: Buffer.from(`fill/${i}`).toString('base64'), value });
      if (put.status !== 200) refused = JSON.stringify(put.json);
    }
    assert.match(refused, /database space exceeded/);
    for (const m of c.members) {
      const health = await until(`${m.name} reports NOSPACE`, () => get(`${m.clientUrl}/health`), (a) => a.status === 503);
      assert.equal(health.body, '{"health":"false","reason":"ALARM NOSPACE"}\n');
      assert.deepEqual(await get(`${m.clientUrl}/health?exclude=NOSPACE`), { status: 200, body: '{"health":"true","reason":""}' });
      assert.deepEqual(await get(`${m.clientUrl}/readyz`), { status: 200, body: 'ok\n' });
      assert.deepEqual(await get(`${m.clientUrl}/livez`), { status: 200, body: 'ok\n' });
    }
  });

  test('finding 8: etcdctl alarm disarm lists the alarm it cleared, as etcd\'s does', () => {
    assert.match(c.ctl(['alarm', 'list']), /alarm:NOSPACE/);
    assert.match(c.ctl(['alarm', 'disarm']), /^memberID:\d+ alarm:NOSPACE *$/m);
  });

  test('a lost quorum: no leader for /health and /readyz, while kubeadm’s serializable probe and /livez pass', async () => {
    const [survivor, ...others] = c.members as [ProcessMember, ...ProcessMember[]];
    for (const m of others) await c.kill(m);
    const url = survivor.clientUrl;
    // CheckQuorum (on a leader) or an election timeout (on a follower) forgets the leader.
    const health = await until('the survivor reports no leader', () => get(`${url}/health?exclude=NOSPACE`), (a) => a.body.includes('RAFT NO LEADER'));
    assert.equal(health.status, 503);
    assert.deepEqual(await get(`${url}/health?exclude=NOSPACE&serializable=true`), { status: 200, body: '{"health":"true","reason":""}' });
    assert.deepEqual(await get(`${url}/livez`), { status: 200, body: 'ok\n' });
    const ready = await get(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(ready.body, /^\[-\]linearizable_read failed: etcdserver: /m);
    assert.match(ready.body, /^\[\+\]serializable_read ok$/m);
    assert.equal((await get(`${url}/readyz?exclude=linearizable_read`)).status, 200);
  });
});

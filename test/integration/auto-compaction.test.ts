// etcd's --auto-compaction-retention on real members: the leader compacts
// on its own, keeping one window of history.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster } from './process-cluster.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function call(url: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

let c: ProcessCluster;
before(async () => {
  c = await ProcessCluster.create('kvorum', 3, { extraArgs: ['--auto-compaction-mode=periodic', '--auto-compaction-retention=2s'] });
  await c.startAll();
});
after(() => c?.destroy());

test('periodic retention 2s: old revisions are compacted away by the cluster itself, the last window stays readable', { timeout: 60_000 }, async () => {
  const url = c.members[0]!.clientUrl;
  let head = 0;
  const started = Date.now();
  // Writes for 5 s: more than two windows, so at least one compaction is due.
  while (Date.now() - started < 5_000) {
    const put = await call(url, '/v3/kv/put', { key: b64('ac/key'), value: b64(String(Date.now())) });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    head = Number((put.json.header as { revision: string }).revision);
    await new Promise((r) => setTimeout(r, 50));
  }
  const old = await call(url, '/v3/kv/range', { key: b64('ac/key'), revision: 2 });
  assert.notEqual(old.status, 200, 'revision 2 is more than a window old');
  assert.match(JSON.stringify(old.json), /required revision has been compacted/);
  // A revision written within the last second is still there.
  const recent = await call(url, '/v3/kv/range', { key: b64('ac/key'), revision: head - 3 });
  assert.equal(recent.status, 200, JSON.stringify(recent.json));
  assert.equal((recent.json.kvs as unknown[]).length, 1);
});

// A member's clients are matched to log entries by (member, request ID). After
// a restart, entries the member proposed in its previous run may still be
// applied; they must not answer the new run's clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InProcessCluster, bytes, text } from './in-process-cluster.js';
import type { PutResponse } from '../../../node/mvcc/types.js';

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('after a restart, every client gets the answer to its own request, while entries proposed before the restart are applied', async (t) => {
  const cluster = new InProcessCluster(3);
  t.after(() => cluster.close());
  await cluster.startAll();
  const first = await cluster.waitForLeader();
  const name = [...cluster.members.entries()].find(([, m]) => m === first)![0];
  const followers = [...cluster.members.values()].filter((m) => m !== first);

  // The leader's appends reach the followers but their acknowledgements are
  // lost: its proposals sit in every log, uncommitted.
  const base = first.storage.lastIndex();
  const N = 40;
  cluster.dropIf = (m) => m.to === first.memberId;
  const before = Promise.allSettled(Array.from({ length: N }, (_, i) => first.server.put({ key: bytes(`old/${i}`), value: bytes(`old-${i}`) })));
  await until('the followers hold the proposals', () => followers.every((f) => f.storage.lastIndex() >= base + N));
  await cluster.stop(name);
  cluster.dropIf = undefined;
  const outcomes = await before;
  assert.ok(
    outcomes.every((o) => o.status === 'rejected'),
    'no client of the first run was answered (their entries were not committed before the stop)',
  );

  // The others elect a leader, which commits those entries; the restarted
  // member learns so only after its new clients are already waiting.
  await cluster.waitForLeader();
  const again = await cluster.start(name);
  const M = 40;
  const keys = Array.from({ length: M }, (_, i) => `new/${i}`);
  const answers = await Promise.allSettled(keys.map((k) => again.server.put({ key: bytes(k), value: bytes(k) })));

  const failures = answers.filter((a) => a.status === 'rejected').map((a) => String((a as PromiseRejectedResult).reason));
  assert.deepEqual(failures, [], 'every new request was answered');
  const old = await again.server.range({ key: bytes('old/'), rangeEnd: bytes('old0') });
  assert.equal(old.count, N, 'the entries proposed before the restart were applied on the restarted member');
  for (let i = 0; i < M; i++) {
    // Another entry's answer may be anything, even undefined (a member attribute update's).
    const answer = (answers[i] as PromiseFulfilledResult<PutResponse | undefined>).value;
    const mine = (await again.server.range({ key: bytes(keys[i]!) })).kvs[0]!;
    assert.equal(text(mine.key), keys[i]);
    assert.equal(answer?.header?.revision, mine.modRevision, `the client of ${keys[i]} got the answer to its own put, not another's`);
  }
});

// A progress notification at revision R says every event up to R was sent
// on the stream. Answering a progress_request while a watcher on the stream
// is still replaying history (or paused by a slow reader) broke that: the
// chaos harness saw "bookmarkable" violated. Over real gRPC here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TxnRequest } from '../../../node/mvcc/types.js';
import { InProcessCluster } from '../server/in-process-cluster.js';
import { watchClient } from './watch-fixture.js';

// One catch-up message per revision; more than the 16 a gRPC stream buffers
// before write() says wait, so a reader that does not read pauses the watch.
const REVISIONS = 24;
const KEYS_PER_REVISION = 1000;

test('a progress_request sent while a watch catches up is answered only after every event up to its revision', async (t) => {
  const cluster = new InProcessCluster(1, { limits: { quotaBytes: 2 ** 31, requestTimeoutMs: 60_000, maxTxnOps: KEYS_PER_REVISION } });
  t.after(() => cluster.close());
  await cluster.startAll();
  const server = (await cluster.waitForLeader()).server;
  const value = new Uint8Array(16).fill(0x62);
  const keysUpTo = new Map<number, number>();
  let total = 0;
  for (let r = 0; r < REVISIONS; r++) {
    const success: TxnRequest['success'] = [];
    for (let i = 0; i < KEYS_PER_REVISION; i++) success.push({ requestPut: { key: new TextEncoder().encode(`w/${r}/${i}`), value } });
    const res = await server.txn({ success });
    total += KEYS_PER_REVISION;
    keysUpTo.set(res.header.revision, total);
  }

  const openWatch = await watchClient(t, server, { 'grpc.max_receive_message_length': -1 });

  const stream = openWatch();
  type Msg = { watch_id: string; created: boolean; header: { revision: string }; events: { kv: { mod_revision: string } }[] };
  let delivered = 0;
  const progress = new Promise<{ revision: number; deliveredBefore: number }>((resolve, reject) => {
    stream.on('data', (msg: Msg) => {
      delivered += msg.events.length;
      if (!msg.created && msg.events.length === 0 && msg.watch_id === '-1') resolve({ revision: Number(msg.header.revision), deliveredBefore: delivered });
    });
    stream.on('error', reject);
  });
  // The watch starts in the past (it must replay every revision); the
  // progress request comes while the replay waits for the reader.
  // The client reads nothing for a while, as a slow reader would.
  stream.pause();
  stream.write({ create_request: { key: Buffer.from('w/'), range_end: Buffer.from('w0'), start_revision: '1' } });
  await new Promise((r) => setTimeout(r, 200));
  stream.write({ progress_request: {} });
  await new Promise((r) => setTimeout(r, 200));
  stream.resume();
  const { revision, deliveredBefore } = await progress;
  stream.end();
  const expected = [...keysUpTo].filter(([rev]) => rev <= revision).reduce((_, [, n]) => n, 0);
  assert.ok(revision >= Math.max(...keysUpTo.keys()), `progress at ${revision}`);
  assert.equal(deliveredBefore, expected, `events delivered before the progress notification at revision ${revision}`);
});

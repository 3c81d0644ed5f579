// A progress request on a Watch stream while a watcher replays history is
// answered only once every watcher on the stream has caught up, so that no
// event at or below the response's revision follows it: kube-apiserver
// relies on this for consistent reads from its watch cache (etcd 3.5.13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { InProcessCluster } from '../server/in-process-cluster.js';
import { watchClient } from './watch-fixture.js';

/** More history than one catch-up task replays, so the watcher is behind for several event-loop turns. */
const REVISIONS = 25_000;

interface WatchMsg {
  header: { revision: string };
  watch_id: string;
  created?: boolean;
  events?: { kv: { mod_revision: string } }[];
}

test('a progress request waits until every watcher on the stream has caught up; a caught-up stream is answered at once', async (t) => {
  const cluster = new InProcessCluster(1, { limits: { quotaBytes: 2 ** 31, requestTimeoutMs: 60_000, maxTxnOps: 128 } });
  t.after(() => cluster.close());
  await cluster.startAll();
  const server = (await cluster.waitForLeader()).server;
  const value = new TextEncoder().encode('v');
  for (let at = 0; at < REVISIONS; at += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, i) => server.put({ key: new TextEncoder().encode(`k/${at + i}`), value })));
  }
  const current = server.store.revision;

  const openWatch = await watchClient(t, server, { 'grpc.max_receive_message_length': -1 });

  const stream = openWatch() as ClientDuplexStream<unknown, WatchMsg>;
  stream.on('error', () => {}); // the cancel at the end
  t.after(() => stream.cancel());
  const received: WatchMsg[] = [];
  const progress = (): Promise<WatchMsg> =>
    new Promise((resolve) => {
      const onData = (m: WatchMsg): void => {
        if (m.watch_id === '-1' && !m.created && (m.events ?? []).length === 0) {
          stream.off('data', onData);
          resolve(m);
        }
      };
      stream.on('data', onData);
    });
  stream.on('data', (m: WatchMsg) => received.push(m));

  // A watcher replaying all history and one on new keys only, then at once a progress request.
  const answered = progress();
  stream.write({ create_request: { key: Buffer.from('k/'), range_end: Buffer.from('k0'), start_revision: '1' } });
  stream.write({ create_request: { key: Buffer.from('new/'), range_end: Buffer.from('new0') } });
  stream.write({ progress_request: {} });
  const first = await answered;
  const at = received.indexOf(first);
  const eventsBefore = received.slice(0, at).flatMap((m) => m.events ?? []);
  assert.equal(eventsBefore.length, REVISIONS, 'every replayed event came before the progress response');
  assert.equal(Number(first.header.revision), current);
  for (const m of received.slice(at + 1)) for (const e of m.events ?? []) assert.ok(Number(e.kv.mod_revision) > current, 'no event at or below the progress revision follows it');

  // Now caught up: a new event, then a progress request answered with its revision.
  const put = await server.put({ key: new TextEncoder().encode('new/1'), value });
  const second = progress();
  stream.write({ progress_request: {} });
  assert.equal(Number((await second).header.revision), put.header.revision);
});

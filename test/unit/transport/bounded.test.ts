import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MessageType } from '../../../node/raft/types.js';
import { entry, metricValue, msg, sleep, startMember, waitFor } from './helpers.js';

// Memory is compared after full collections; the flag can be turned on at
// run time, and a fresh context then exposes gc().
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function memory(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const MESSAGES = 100_000;
const ENTRY_BYTES = 1024;
const MiB = 1024 * 1024;

function sendMany(send: (i: number) => void): void {
  for (let i = 0; i < MESSAGES; i++) send(i);
}

test('a hanging peer: 100k messages of 1 KiB stay within the queue bounds and are reported unreachable', async (t) => {
  // Accepts the TCP connection, never answers the upgrade: the dial hangs.
  const sockets: Socket[] = [];
  const hole = createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
  const address = hole.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const a = await startMember(1, { tuning: { dialTimeoutMs: 60_000, maxQueueMessages: 4096, maxQueueBytes: 8 * MiB } });
  try {
    a.transport.addPeer(2, [url]);
    await waitFor(() => sockets.length === 1, 'the hanging connection');
    const before = memory();
    sendMany((i) => a.transport.send([msg({ type: MessageType.App, from: 1, to: 2, index: i, entries: [entry(i + 1, new Uint8Array(ENTRY_BYTES))] })]));
    const grown = memory() - before;
    t.diagnostic(`queued ${a.transport.queued(2)} messages, ${(a.transport.queuedBytes(2) / MiB).toFixed(1)} MiB; memory grew ${(grown / MiB).toFixed(1)} MiB for ${((MESSAGES * ENTRY_BYTES) / MiB).toFixed(0)} MiB sent`);
    assert.ok(a.transport.queued(2) <= 4096);
    assert.ok(a.transport.queuedBytes(2) <= 8 * MiB);
    assert.ok(a.transport.queued(2) > 1000, 'the queue did fill');
    // Everything held is bounded by the queue, far below the ~100 MiB sent.
    assert.ok(grown < 32 * MiB, `memory grew ${grown} bytes`);
    assert.equal(await metricValue(a.registry, 'etcd_network_peer_sent_failures_total{To="2"}'), MESSAGES - a.transport.queued(2));
    // Reported after send() returned, and throttled rather than once per drop.
    assert.equal(a.unreachable.length, 0);
    await sleep(20);
    assert.ok(a.unreachable.length >= 1 && a.unreachable.length < 100, `onUnreachable fired ${a.unreachable.length} times`);
  } finally {
    await a.transport.stop();
    for (const s of sockets) s.destroy();
    hole.close();
  }
});

test('a peer that is down: messages are dropped at once, nothing accumulates', async () => {
  const gone = await startMember(2);
  const url = gone.transport.url;
  await gone.transport.stop();
  const a = await startMember(1);
  try {
    a.transport.addPeer(2, [url]);
    await waitFor(() => a.unreachable.length >= 1, 'the failed dial to be reported');
    const before = memory();
    sendMany((i) => a.transport.send([msg({ type: MessageType.Heartbeat, from: 1, to: 2, commit: i, context: new Uint8Array(ENTRY_BYTES) })]));
    assert.ok(memory() - before < 16 * MiB);
    assert.equal(a.transport.queued(2), 0);
    assert.ok((await metricValue(a.registry, 'etcd_network_peer_sent_failures_total{To="2"}')) >= MESSAGES);
  } finally {
    await a.transport.stop();
  }
});

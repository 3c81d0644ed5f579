import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { dialHeaders } from '../../../node/transport/protocol.js';
import { performance } from 'node:perf_hooks';
import { MessageType, type Message } from '../../../node/raft/types.js';
import { CLUSTER, metricValue, msg, sleep, startMember, waitFor } from './helpers.js';

const SNAPSHOT_BYTES = 20 * 1024 * 1024;

function stamp(): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, performance.now());
  return out;
}

function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

test('a 20 MB snapshot travels on its own connection while heartbeats keep flowing', async (t) => {
  let snapshotAt = 0;
  const heartbeats: { latencyMs: number; beforeSnapshot: boolean }[] = [];
  const snapshots: Message[] = [];
  const b = await startMember(2, {
    onReceive: (m) => {
      if (m.type === MessageType.Snap) {
        snapshotAt = performance.now();
        snapshots.push(m);
      } else if (m.type === MessageType.Heartbeat) {
        const sent = new DataView(m.context.buffer, m.context.byteOffset, 8).getFloat64(0);
        heartbeats.push({ latencyMs: performance.now() - sent, beforeSnapshot: snapshots.length === 0 });
      }
    },
  });
  const a = await startMember(1);
  try {
    a.transport.addPeer(2, [b.transport.url]);
    a.transport.send([msg({ type: MessageType.Heartbeat, from: 1, to: 2, context: stamp() })]);
    await waitFor(() => heartbeats.length === 1, 'the stream to be up');

    const data = new Uint8Array(SNAPSHOT_BYTES);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    const snap = msg({ type: MessageType.Snap, from: 1, to: 2, term: 3, snapshot: { meta: { index: 5000, term: 3, conf: { voters: [1, 2], learners: [] } }, data } });
    const sentAt = performance.now();
    a.transport.send([snap, msg({ type: MessageType.Heartbeat, from: 1, to: 2, context: stamp() })]);
    // Keep heartbeating, as a leader would, until the snapshot is confirmed.
    for (let i = 0; i < 2000 && a.snapshotStatus.length === 0; i++) {
      a.transport.send([msg({ type: MessageType.Heartbeat, from: 1, to: 2, context: stamp() })]);
      await sleep(2);
    }
    assert.deepEqual(a.snapshotStatus, [{ id: 2, ok: true }]);
    assert.equal(snapshots.length, 1);
    assert.equal(snapshots[0]!.snapshot!.meta.index, 5000);
    assert.deepEqual(snapshots[0]!.snapshot!.meta.conf, { voters: [1, 2], learners: [] });
    assert.equal(sha(snapshots[0]!.snapshot!.data), sha(data));

    const during = heartbeats.slice(1).filter((h) => h.beforeSnapshot);
    assert.ok(during.length >= 1, 'heartbeats sent after the snapshot arrived before it: they did not queue behind it');
    const maxMs = Math.max(...heartbeats.slice(1).map((h) => h.latencyMs));
    t.diagnostic(
      `snapshot ${SNAPSHOT_BYTES / 2 ** 20} MiB delivered in ${(snapshotAt - sentAt).toFixed(1)} ms; ` +
        `${during.length} heartbeats overtook it; max heartbeat latency ${maxMs.toFixed(1)} ms over ${heartbeats.length - 1} heartbeats`,
    );
    assert.equal(await metricValue(a.registry, 'etcd_network_snapshot_send_success{To="2"}'), 1);
    assert.ok((await metricValue(a.registry, 'etcd_network_peer_sent_bytes_total{To="2"}')) > SNAPSHOT_BYTES);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
});

test('a snapshot to an unreachable peer reports failure', async () => {
  const b = await startMember(2);
  const url = b.transport.url;
  await b.transport.stop();
  const a = await startMember(1);
  try {
    a.transport.addPeer(2, [url]);
    const snap = msg({ type: MessageType.Snap, from: 1, to: 2, snapshot: { meta: { index: 1, term: 1, conf: { voters: [1], learners: [] } }, data: new Uint8Array(1024) } });
    a.transport.send([snap]);
    // The status is never reported from inside send(): Raft may be between ready() and advance().
    assert.equal(a.snapshotStatus.length, 0);
    await waitFor(() => a.snapshotStatus.length === 1, 'the snapshot status');
    assert.deepEqual(a.snapshotStatus, [{ id: 2, ok: false }]);
    assert.equal(await metricValue(a.registry, 'etcd_network_snapshot_send_failures{To="2"}'), 1);
  } finally {
    await a.transport.stop();
  }
});

test('a snapshot refused by the receiving application reports failure', async () => {
  const b = await startMember(2, {
    onReceive: () => {
      throw new Error('disk full');
    },
  });
  const a = await startMember(1);
  try {
    a.transport.addPeer(2, [b.transport.url]);
    a.transport.send([msg({ type: MessageType.Snap, from: 1, to: 2, snapshot: { meta: { index: 1, term: 1, conf: { voters: [1], learners: [] } }, data: new Uint8Array(10) } })]);
    await waitFor(() => a.snapshotStatus.length === 1, 'the snapshot status');
    assert.deepEqual(a.snapshotStatus, [{ id: 2, ok: false }]);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
});

test('a snapshot upload that claims gigabytes and then stops costs neither memory nor the listener', async () => {
  const b = await startMember(2);
  try {
    const before = process.memoryUsage().arrayBuffers;
    const req = request(`${b.transport.url}/raft/snapshot`, {
      method: 'POST',
      headers: { ...dialHeaders({ memberId: 1, clusterId: CLUSTER }, 2), 'content-length': String(3 * 2 ** 30) },
    });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(1000));
    await sleep(50);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'no 3 GiB reservation');
    req.destroy();
    await sleep(20);
    const res = await fetch(`${b.transport.url}/members`);
    assert.equal(res.status, 200);
    assert.equal(b.received.length, 0);
  } finally {
    await b.transport.stop();
  }
});

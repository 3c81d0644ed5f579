import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { MessageType, type Message } from '../../../node/raft/types.js';
import { dialStream, fetchIdentity } from '../../../node/transport/client.js';
import { dialHeaders } from '../../../node/transport/protocol.js';
import { CLUSTER, entry, mesh, metricValue, msg, sleep, startMember, waitFor, type Member } from './helpers.js';

function app(from: number, to: number, seq: number): Message {
  return msg({ type: MessageType.App, from, to, term: 1, index: seq, entries: [entry(seq + 1, new Uint8Array([seq & 0xff, from]))] });
}

/** Sends count numbered messages from a to b in rounds, waiting for each round to land. */
async function stream(a: Member, b: Member, count: number, round = 500): Promise<void> {
  for (let start = 0; start < count; start += round) {
    const batch: Message[] = [];
    for (let seq = start; seq < Math.min(count, start + round); seq++) batch.push(app(a.id, b.id, seq));
    a.transport.send(batch);
    const target = Math.min(count, start + round);
    await waitFor(() => b.received.filter((m) => m.from === a.id).length >= target, `${target} messages from ${a.id} at ${b.id}`);
  }
}

function sequenceFrom(m: Member, from: number): number[] {
  return m.received.filter((x) => x.from === from).map((x) => x.index);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test('two transports exchange thousands of messages in order, both ways, and count bytes and RTT', async () => {
  const [a, b] = [await startMember(1), await startMember(2)];
  try {
    mesh([a, b]);
    await Promise.all([stream(a, b, 5000), stream(b, a, 5000)]);
    assert.deepEqual(sequenceFrom(b, 1), range(5000));
    assert.deepEqual(sequenceFrom(a, 2), range(5000));
    assert.deepEqual(b.received[7]!.entries[0]!.data, new Uint8Array([7, 1]));
    assert.ok((await metricValue(a.registry, 'etcd_network_peer_sent_bytes_total{To="2"}')) > 5000 * 10);
    assert.ok((await metricValue(b.registry, 'etcd_network_peer_received_bytes_total{From="1"}')) > 5000 * 10);
    await waitFor(() => a.transport.isConnected(2), 'a connected to b');
    assert.equal(await metricValue(a.registry, 'etcd_network_active_peers{Local="1",Remote="2"}'), 1);
    // A ping goes out as soon as the stream opens.
    let rttCount = 0;
    await waitFor(() => {
      void metricValue(a.registry, 'etcd_network_peer_round_trip_time_seconds_count{To="2"}').then((v) => (rttCount = v));
      return rttCount >= 1;
    }, 'an RTT sample');
    assert.equal(a.unreachable.length, 0);
    assert.equal(await metricValue(a.registry, 'etcd_network_peer_sent_failures_total{To="2"}'), 0);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
});

test('three transports: every member streams to both others, order kept per sender', async () => {
  const members = [await startMember(11), await startMember(12), await startMember(13)];
  try {
    mesh(members);
    const flows: Promise<void>[] = [];
    for (const a of members) for (const b of members) if (a !== b) flows.push(stream(a, b, 3000, 1000));
    await Promise.all(flows);
    for (const b of members) {
      for (const a of members) if (a !== b) assert.deepEqual(sequenceFrom(b, a.id), range(3000), `${a.id} -> ${b.id}`);
      assert.equal(b.received.length, 6000);
    }
  } finally {
    for (const m of members) await m.transport.stop();
  }
});

test('a peer restarted on the same port is reconnected to, and order holds afterwards', async () => {
  const a = await startMember(1);
  let b = await startMember(2);
  const port = Number(new URL(b.transport.url).port);
  try {
    mesh([a, b]);
    await stream(a, b, 200);
    await b.transport.stop();
    await waitFor(() => !a.transport.isConnected(2), 'a to notice');
    assert.equal(await metricValue(a.registry, 'etcd_network_disconnected_peers_total{Local="1",Remote="2"}'), 1);
    // While b is gone, sends are dropped and reported, not buffered without bound.
    for (let i = 0; i < 100 && (a.unreachable.length === 0 || i < 10); i++) {
      a.transport.send([app(1, 2, 10_000 + i)]);
      await sleep(10);
    }
    assert.ok(a.unreachable.includes(2), 'b reported unreachable');
    assert.ok((await metricValue(a.registry, 'etcd_network_peer_sent_failures_total{To="2"}')) > 0);

    b = await startMember(2, { port });
    let seq = 20_000;
    for (let i = 0; i < 500 && b.received.length === 0; i++) {
      a.transport.send([app(1, 2, seq++)]);
      await sleep(10);
    }
    assert.ok(b.received.length > 0, 'a reconnected to the restarted b');
    const before = seq;
    await stream2(a, b, before, 1000);
    const got = b.received.map((m) => m.index);
    const tail = got.slice(got.indexOf(before));
    assert.deepEqual(tail, range(1000).map((i) => before + i));
    for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!, 'never reordered');
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
});

async function stream2(a: Member, b: Member, first: number, count: number): Promise<void> {
  a.transport.send(range(count).map((i) => app(a.id, b.id, first + i)));
  await waitFor(() => b.received.some((m) => m.index === first + count - 1), 'the last message after the restart');
}

test('a member of another cluster is refused on both sides with a clear log line', async () => {
  const a = await startMember(1);
  const stranger = await startMember(2, { clusterId: CLUSTER + 1 });
  try {
    a.transport.addPeer(2, [stranger.transport.url]);
    stranger.transport.addPeer(1, [a.transport.url]);
    a.transport.send([app(1, 2, 0)]);
    stranger.transport.send([app(2, 1, 0)]);
    await waitFor(() => a.log.has(/another cluster/) && stranger.log.has(/another cluster/), 'both refusals logged');
    await waitFor(() => a.unreachable.includes(2), 'the stranger reported unreachable');
    const refusal = stranger.log.lines.find((l) => l.msg === 'refused a connection from a member of another cluster');
    assert.ok(refusal, 'the listener names the refusal');
    assert.match(String(refusal['reason']), /cluster ID mismatch: member 1 is in cluster c1a57e5, this member is in cluster c1a57e6/);
    const dialer = a.log.lines.find((l) => l.msg === 'the peer belongs to another cluster; it refused the connection');
    assert.equal(dialer?.['peerCluster'], 'c1a57e6');
    await sleep(100);
    assert.equal(a.received.length + stranger.received.length, 0, 'no message crossed clusters');
  } finally {
    await a.transport.stop();
    await stranger.transport.stop();
  }
});

test('GET /members answers with the member and cluster IDs, and the member list when given one', async () => {
  const a = await startMember(0x1f2e3d);
  try {
    assert.deepEqual(await fetchIdentity(a.transport.url, { timeoutMs: 2000 }), { memberId: 0x1f2e3d, clusterId: CLUSTER });
    const res = await fetch(`${a.transport.url}/members`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { memberId: '1f2e3d', clusterId: 'c1a57e5' });
    assert.equal((await fetch(`${a.transport.url}/nope`)).status, 404);
  } finally {
    await a.transport.stop();
  }
  const members = [
    { id: 0x1f2e3d, name: 'one', peerUrls: ['http://10.0.0.1:2380'], isLearner: false },
    { id: 2 ** 52 + 1, name: 'two', peerUrls: ['http://10.0.0.2:2380'], isLearner: true },
  ];
  const b = await startMember(0x1f2e3d, { members: () => members });
  try {
    assert.deepEqual(await fetchIdentity(b.transport.url, { timeoutMs: 2000 }), { memberId: 0x1f2e3d, clusterId: CLUSTER, members });
    const doc = (await (await fetch(`${b.transport.url}/members`)).json()) as { members: { id: string }[] };
    assert.deepEqual(
      doc.members.map((m) => m.id),
      ['1f2e3d', '10000000000001'],
    );
  } finally {
    await b.transport.stop();
  }
});

test('misrouted, local-only and corrupt input is dropped without harming the listener', async () => {
  const [a, b] = [await startMember(1), await startMember(2)];
  try {
    mesh([a, b]);
    a.transport.send([
      msg({ type: MessageType.Heartbeat, from: 99, to: 2 }),
      msg({ type: MessageType.Hup, from: 1, to: 2 }),
      msg({ type: MessageType.Heartbeat, from: 1, to: 2, commit: 5 }),
    ]);
    await waitFor(() => b.received.length === 1, 'the one good message');
    assert.equal(b.received[0]!.commit, 5);
    assert.ok(b.log.has(/claims to be from 63/) && b.log.has(/local-only message type Hup/));

    // A raw stream that passes the handshake and then sends garbage.
    const { socket } = await dialStream(b.transport.url, dialHeaders({ memberId: 7, clusterId: CLUSTER }, 2), { timeoutMs: 2000 });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(Buffer.from([0, 0, 0, 9, 1, 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]));
    await closed;
    assert.ok(b.log.has(/closing a corrupt message stream/));

    a.transport.send([msg({ type: MessageType.Heartbeat, from: 1, to: 2, commit: 6 })]);
    await waitFor(() => b.received.length === 2, 'b still serving a');
    assert.equal(b.received[1]!.commit, 6);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
});

/** A TCP server that accepts connections and never answers: a peer that hangs. */
async function blackHole(): Promise<{ server: Server; url: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}`, sockets };
}

test('updatePeer moves the stream to the new URL', async () => {
  const hole = await blackHole();
  const [a, b] = [await startMember(1), await startMember(2)];
  try {
    a.transport.addPeer(2, [hole.url]);
    await sleep(50);
    assert.equal(a.transport.isConnected(2), false);
    a.transport.updatePeer(2, [b.transport.url]);
    // The hanging dial must not pin the peer to the old URL.
    for (let i = 0; i < 300 && b.received.length === 0; i++) {
      a.transport.send([app(1, 2, i)]);
      await sleep(10);
    }
    assert.ok(b.received.length > 0);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
    for (const s of hole.sockets) s.destroy();
    hole.server.close();
  }
});

test('removePeer stops the stream; later messages to it are dropped and counted', async () => {
  const [a, b] = [await startMember(1), await startMember(2)];
  try {
    mesh([a, b]);
    await stream(a, b, 10);
    a.transport.removePeer(2);
    assert.equal(a.transport.isConnected(2), false);
    a.transport.send([app(1, 2, 10)]);
    await sleep(50);
    assert.equal(b.received.length, 10);
    assert.equal(await metricValue(a.registry, 'etcd_network_peer_sent_failures_total{To="2"}'), 1);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
});

test('a peer that accepts the stream but never answers pings is redialed', async () => {
  // Completes the upgrade, then stays silent: a hung process or a half-open connection.
  const sockets: Socket[] = [];
  const mute = createServer((s) => {
    sockets.push(s);
    s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: kvorum-raft\r\n\r\n'));
  });
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
  const address = mute.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const a = await startMember(1, { tuning: { pingIntervalMs: 20, deadAfterMs: 100 } });
  try {
    a.transport.addPeer(2, [url]);
    await waitFor(() => sockets.length >= 3, 'repeated dials after silent streams', 5000);
    assert.ok(a.log.has(/stopped answering pings/));
  } finally {
    await a.transport.stop();
    for (const s of sockets) s.destroy();
    mute.close();
  }
});

test('finding 1: the peer port takes streams only from current members, and a forged stream never displaces a live one', async () => {
  const members = [1, 2].map((id) => ({ id, name: `m${id}`, peerUrls: [], isLearner: false }));
  const [a, b] = [await startMember(1), await startMember(2, { members: () => members })];
  try {
    mesh([a, b]);
    a.transport.send([msg({ type: MessageType.Heartbeat, from: 1, to: 2, commit: 1 })]);
    await waitFor(() => b.received.length === 1, 'a reaches b');

    // A stranger with the right cluster ID (GET /members gives it away, as etcd's does) is refused as etcd refuses it.
    const stranger = await dialStream(b.transport.url, dialHeaders({ memberId: 123, clusterId: CLUSTER }, 2), { timeoutMs: 2000 }).then(
      () => undefined,
      (err: Error & { status?: number }) => err,
    );
    assert.equal(stranger?.status, 404);
    assert.match(stranger.message, /error sender not found/);
    const snap = await fetch(`${b.transport.url}/raft/snapshot`, {
      method: 'POST',
      headers: { ...dialHeaders({ memberId: 123, clusterId: CLUSTER }, 2), 'content-length': '1' },
      body: Buffer.from([0]),
    });
    assert.equal(snap.status, 404);

    // A stream forged in the name of member 1, whose own stream is live, is refused and does not cut it.
    const forged = await dialStream(b.transport.url, dialHeaders({ memberId: 1, clusterId: CLUSTER }, 2), { timeoutMs: 2000 }).then(
      () => undefined,
      (err: Error & { status?: number }) => err,
    );
    assert.equal(forged?.status, 409);
    for (let i = 2; i <= 20; i++) a.transport.send([msg({ type: MessageType.Heartbeat, from: 1, to: 2, commit: i })]);
    await waitFor(() => b.received.length === 20, 'a still reaches b');
    assert.equal(await metricValue(a.registry, 'etcd_network_disconnected_peers_total{Local="1",Remote="2"}'), 0);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
});

test('sendNow() hands messages to the socket before it returns (the Raft loop sends before a blocking WAL fsync)', async () => {
  const [a, b] = [await startMember(1), await startMember(2)];
  try {
    mesh([a, b]);
    await waitFor(() => a.transport.isConnected(2), 'a connected to b');
    const sent = (): Promise<number> => metricValue(a.registry, 'etcd_network_peer_sent_bytes_total{To="2"}');
    const before = await sent();
    // With send(), the bytes go out on a later turn.
    a.transport.send([app(1, 2, 0)]);
    assert.equal(await sent(), before, 'send() alone only queues');
    await waitFor(() => b.received.length >= 1, 'the first message at b');
    const queued = await sent();
    assert.ok(queued > before);
    a.transport.sendNow([app(1, 2, 1), app(1, 2, 2)]);
    // Read before any turn of the event loop could have written them.
    const afterSend = await sent();
    assert.ok(afterSend > queued, `sendNow() wrote nothing: ${afterSend} bytes sent, ${queued} before`);
    await waitFor(() => b.received.length >= 3, 'all three messages at b');
    assert.deepEqual(sequenceFrom(b, 1), [0, 1, 2]);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
});

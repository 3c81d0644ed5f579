// Ports bound before their servers exist: a taken port is a ListenError
// naming its URL, connections that arrive before serve() wait and are then
// handed over in order, and bindMemberPorts binds all of a member's ports or
// leaves none open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { BoundPort, ListenError } from '../../node/bound-port.js';
import { bindMemberPorts } from '../../node/cli/member-ports.js';

async function occupy(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function canBind(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

test('a taken port is a ListenError that names the URL and the reason', async () => {
  const taken = await occupy();
  try {
    const url = new URL(`http://127.0.0.1:${taken.port}`);
    await assert.rejects(BoundPort.bind(url, 'client requests', 2379), (err: unknown) => {
      assert.ok(err instanceof ListenError);
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.url, url.href);
      assert.equal(err.message, `cannot listen for client requests on ${url.href}: address already in use (EADDRINUSE)`);
      return true;
    });
  } finally {
    await close(taken.server);
  }
});

test('connections made before serve() wait, unread, and are handed over in the order they came', async () => {
  const port = await BoundPort.bind(new URL('http://127.0.0.1:0'), 'test', 0);
  const clients: Socket[] = [];
  try {
    assert.ok(port.port > 0, 'port 0 picks a port');
    for (const word of ['first', 'second', 'third']) {
      const c = connect(port.port, '127.0.0.1');
      await new Promise<void>((resolve) => c.once('connect', () => resolve()));
      c.write(word);
      clients.push(c);
    }
    // Give the listener time to accept all three while nobody serves them.
    await new Promise((r) => setTimeout(r, 100));
    const heard: string[] = [];
    const served = new Promise<void>((resolve) => {
      port.serve((socket) => {
        socket.once('data', (d: Buffer) => {
          heard.push(d.toString());
          socket.end();
          if (heard.length === 3) resolve();
        });
      });
    });
    await served;
    assert.deepEqual(heard, ['first', 'second', 'third']);
    assert.throws(() => port.serve(() => {}), /already being served/);
  } finally {
    for (const c of clients) c.destroy();
    await port.close();
  }
});

test('bindMemberPorts binds client, peer and metrics ports, or none when one is taken', async () => {
  const taken = await occupy();
  const free = await occupy();
  const freePort = free.port;
  await close(free.server);
  try {
    await assert.rejects(
      bindMemberPorts({
        client: [new URL(`http://127.0.0.1:${freePort}`)],
        peer: new URL('http://127.0.0.1:0'),
        metrics: [new URL(`http://127.0.0.1:${taken.port}`)],
      }),
      (err: unknown) => err instanceof ListenError && err.message.includes(`metrics on http://127.0.0.1:${taken.port}/`),
    );
    assert.ok(await canBind(freePort), 'the client port bound before the failure was released');
  } finally {
    await close(taken.server);
  }
  const ports = await bindMemberPorts({ client: [new URL('http://127.0.0.1:0')], peer: new URL('http://localhost:0'), metrics: [] });
  try {
    assert.equal(ports.client.length, 1);
    assert.equal(ports.peer.port.host, '127.0.0.1', 'localhost listens on 127.0.0.1');
    assert.ok(!(await canBind(ports.peer.port.port)), 'the peer port is held');
  } finally {
    await ports.close();
  }
});

// A dial to an address whose TCP handshake never completes fails within the
// dial timeout. (A peer whose pod went away with its IP: without a bound on
// the connect itself the dialer waited for the kernel's SYN retries, about two
// minutes, before it tried the peer's new address.) The unanswered handshake
// is a listener in another process whose event loop is blocked: once its
// accept queue is full, Linux drops further SYNs instead of answering them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { dialStream, fetchIdentity } from '../../../node/transport/client.js';
import { dialHeaders } from '../../../node/transport/protocol.js';

const LISTENER = `
const net = require('node:net');
const { execFileSync } = require('node:child_process');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  // Never accept: the loop is blocked until the parent kills this process.
  execFileSync('sleep', ['60']);
});
`;

/** A port on 127.0.0.1 whose accept queue is full, so new connects hang. */
async function unansweredPort(): Promise<{ port: number; close(): void }> {
  const child = spawn(process.execPath, ['-e', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
  });
  // Fill the accept queue (backlog + 1 on Linux) with handshakes nobody accepts.
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  return {
    port,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

test('a stream dial and an identity request to a peer that never completes the handshake fail within their timeout', { skip: process.platform !== 'linux' ? 'relies on Linux dropping SYNs when the accept queue is full' : false }, async () => {
  const target = await unansweredPort();
  try {
    const base = `http://127.0.0.1:${target.port}`;
    for (const attempt of [
      () => dialStream(base, dialHeaders({ memberId: 1, clusterId: 7 }, 2), { timeoutMs: 300 }),
      () => fetchIdentity(base, { timeoutMs: 300 }),
    ]) {
      const started = Date.now();
      const err = await attempt().then(
        () => undefined,
        (e: Error) => e,
      );
      const took = Date.now() - started;
      assert.ok(err, 'the request failed');
      assert.match(err.message, /no answer from .* within 300 ms/);
      assert.ok(took < 3000, `failed after ${took} ms, not after the kernel's connect retries`);
    }
  } finally {
    target.close();
  }
});

// The peer-link fault proxy: passes a link through, delays one direction,
// refuses a partitioned sender, and tells senders apart by x-kvorum-from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { ANY_SENDER, PeerProxy, senderOf } from './proxy.js';

const head = (from: string): string => `GET /raft HTTP/1.1\r\nhost: x\r\nx-kvorum-from: ${from}\r\nupgrade: kvorum\r\n\r\n`;

/** Sends `head` + `payload` through the proxy; resolves with what the echo server sent back and how long it took, or 'closed'. */
function roundTrip(port: number, text: string): Promise<{ echoed: string; ms: number } | 'closed'> {
  return new Promise((resolve) => {
    const started = performance.now();
    const s: Socket = connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= text.length) {
        resolve({ echoed: got, ms: performance.now() - started });
        s.destroy();
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve('closed'));
  });
}

test('the proxy passes links through, delays one sender, and partitions another', async (t) => {
  const echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  t.after(() => echo.close());
  const proxy = new PeerProxy({ host: '127.0.0.1', port: (echo.address() as { port: number }).port }, 1);
  const port = await proxy.listen();
  t.after(() => proxy.close());

  const plain = await roundTrip(port, head('1a') + 'hello');
  assert.notEqual(plain, 'closed');
  assert.equal(plain !== 'closed' && plain.echoed, head('1a') + 'hello');

  proxy.setFault('1a', { delayMs: 150 });
  const slow = await roundTrip(port, head('1a') + 'slow');
  assert.ok(slow !== 'closed' && slow.ms >= 140, `delayed: ${JSON.stringify(slow)}`);
  const other = await roundTrip(port, head('2b') + 'fast');
  assert.ok(other !== 'closed' && other.ms < 140, 'another sender is not delayed');

  proxy.setFault('2b', { drop: true });
  assert.equal(await roundTrip(port, head('2b') + 'x'), 'closed');
  assert.ok(proxy.interrupted >= 1);

  proxy.clearFaults();
  proxy.setFault(ANY_SENDER, { drop: true });
  assert.equal(await roundTrip(port, head('1a') + 'x'), 'closed', 'ANY_SENDER covers every link');
});

test('senderOf reads the x-kvorum-from header case-insensitively', () => {
  assert.equal(senderOf('GET / HTTP/1.1\r\nX-Kvorum-From: 4A03\r\n'), '4a03');
  assert.equal(senderOf('GET /members HTTP/1.1\r\nhost: h\r\n'), ANY_SENDER);
});

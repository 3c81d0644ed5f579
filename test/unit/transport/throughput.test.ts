// Measures, does not judge: the figures are printed as test diagnostics and
// only delivery and order are asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { MessageType, type Message } from '../../../node/raft/types.js';
import { entry, msg, startMember, waitFor } from './helpers.js';

const ENTRY_BYTES = 64;
const MAX_MESSAGES = 1_000_000;
const MAX_SECONDS = 5;
/** Messages in flight at most, below the 4096-message queue bound, so nothing is dropped. */
const WINDOW = 3000;
const BURST = 250;

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function measure(entriesPerMessage: number): Promise<{ messages: number; seconds: number; inOrder: boolean }> {
  let received = 0;
  let inOrder = true;
  const b = await startMember(2, {
    onReceive: (m) => {
      if (m.index !== received) inOrder = false;
      received++;
    },
  });
  const a = await startMember(1);
  try {
    a.transport.addPeer(2, [b.transport.url]);
    await waitFor(() => a.transport.isConnected(2), 'the stream');
    const data = new Uint8Array(ENTRY_BYTES).fill(0x5a);
    let sent = 0;
    const started = performance.now();
    const deadline = started + MAX_SECONDS * 1000;
    while (sent < MAX_MESSAGES && performance.now() < deadline) {
      if (sent - received + BURST > WINDOW) {
        await yieldTurn();
        continue;
      }
      const burst: Message[] = [];
      for (let i = 0; i < BURST; i++, sent++) {
        const entries = [];
        for (let e = 0; e < entriesPerMessage; e++) entries.push(entry(sent * entriesPerMessage + e + 1, data));
        burst.push(msg({ type: MessageType.App, from: 1, to: 2, term: 1, index: sent, logTerm: 1, commit: sent, entries }));
      }
      a.transport.send(burst);
    }
    await waitFor(() => received === sent, 'every message', 10_000);
    return { messages: sent, seconds: (performance.now() - started) / 1000, inOrder };
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
}

test('throughput between two local transports, 64-byte entries', async (t) => {
  for (const perMessage of [1, 16]) {
    const { messages, seconds, inOrder } = await measure(perMessage);
    assert.ok(inOrder, 'delivered in order');
    assert.ok(messages > 0);
    const rate = messages / seconds;
    t.diagnostic(
      `${perMessage} x ${ENTRY_BYTES} B entr${perMessage === 1 ? 'y' : 'ies'} per message: ${messages} messages in ${seconds.toFixed(2)} s = ` +
        `${Math.round(rate).toLocaleString('en-US')} messages/s, ${Math.round(rate * perMessage).toLocaleString('en-US')} entries/s`,
    );
  }
});

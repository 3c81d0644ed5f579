// A sustained stream in bursts, kept just under the queue's message bound:
// every message arrives, once and in order. (How fast is measured by
// `npm run bench:transport`, not here.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, type Message } from '../../../node/raft/types.js';
import { entry, msg, startMember, waitFor } from './helpers.js';

const MESSAGES = 20_000;
/** Messages in flight at most, below the 4096-message queue bound, so nothing may be dropped. */
const WINDOW = 3000;
const BURST = 250;

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test('20k messages sent in bursts under the queue bound arrive complete and in order, with 1 and 16 entries each', async () => {
  for (const perMessage of [1, 16]) {
    const indexes: number[] = [];
    const b = await startMember(2, { onReceive: (m) => void indexes.push(m.index) });
    const a = await startMember(1);
    try {
      a.transport.addPeer(2, [b.transport.url]);
      await waitFor(() => a.transport.isConnected(2), 'the stream');
      const data = new Uint8Array(64).fill(0x5a);
      let sent = 0;
      while (sent < MESSAGES) {
        if (sent - indexes.length + BURST > WINDOW) {
          await yieldTurn();
          continue;
        }
        const burst: Message[] = [];
        for (let i = 0; i < BURST; i++, sent++) {
          const entries = Array.from({ length: perMessage }, (_, e) => entry(sent * perMessage + e + 1, data));
          burst.push(msg({ type: MessageType.App, from: 1, to: 2, term: 1, index: sent, logTerm: 1, commit: sent, entries }));
        }
        a.transport.send(burst);
      }
      await waitFor(() => indexes.length >= MESSAGES, `all ${MESSAGES} messages`, 30_000);
      assert.equal(indexes.length, MESSAGES, `${perMessage} per message: nothing duplicated`);
      assert.ok(
        indexes.every((index, i) => index === i),
        `${perMessage} per message: in order`,
      );
      assert.deepEqual(a.unreachable, [], 'nothing was dropped for a full queue');
    } finally {
      await a.transport.stop();
      await b.transport.stop();
    }
  }
});

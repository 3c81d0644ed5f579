// `npm run bench:transport`: messages per second between two peer transports
// in this process, over loopback, with 64-byte entries (1 and 16 per
// message). It measures the transport alone (no Raft, no disk), so it says
// whether the transport could be a member's bottleneck. It prints figures and
// asserts none; that messages arrive complete and in order is a unit test
// (test/unit/transport/sustained.test.ts).
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { EntryType, MessageType, type Entry, type Message } from '../node/raft/types.js';
import { PeerTransport } from '../node/transport/transport.js';

const ENTRY_BYTES = 64;
/** Bounds of one run, whichever comes first. */
const MAX_MESSAGES = 1_000_000;
const MAX_SECONDS = Number(process.env.KVORUM_BENCH_SECONDS ?? 5);
/** Messages in flight at most, below the 4096-message queue bound, so nothing is dropped. */
const WINDOW = 3000;
const BURST = 250;
const CLUSTER = 0xbe4c;

function message(index: number, entriesPerMessage: number, data: Uint8Array): Message {
  const entries: Entry[] = [];
  for (let e = 0; e < entriesPerMessage; e++) entries.push({ term: 1, index: index * entriesPerMessage + e + 1, type: EntryType.Normal, data });
  return { type: MessageType.App, from: 1, to: 2, term: 1, index, logTerm: 1, commit: index, entries, reject: false, rejectHint: 0, hintTerm: 0, context: new Uint8Array(0) };
}

async function until(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function measure(entriesPerMessage: number): Promise<{ messages: number; seconds: number }> {
  const logger = pino({ level: 'warn' });
  let received = 0;
  const receiver = new PeerTransport({ selfId: 2, clusterId: CLUSTER, listenUrl: 'http://127.0.0.1:0', logger, onMessage: () => void received++ });
  const sender = new PeerTransport({ selfId: 1, clusterId: CLUSTER, listenUrl: 'http://127.0.0.1:0', logger, onMessage: () => {} });
  await receiver.start();
  await sender.start();
  try {
    sender.addPeer(2, [receiver.url]);
    await until(() => sender.isConnected(2), 'the stream', 5000);
    const data = new Uint8Array(ENTRY_BYTES).fill(0x5a);
    let sent = 0;
    const started = performance.now();
    const deadline = started + MAX_SECONDS * 1000;
    while (sent < MAX_MESSAGES && performance.now() < deadline) {
      if (sent - received + BURST > WINDOW) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const burst: Message[] = [];
      for (let i = 0; i < BURST; i++, sent++) burst.push(message(sent, entriesPerMessage, data));
      sender.send(burst);
    }
    await until(() => received === sent, 'every message', 10_000);
    return { messages: sent, seconds: (performance.now() - started) / 1000 };
  } finally {
    await sender.stop();
    await receiver.stop();
  }
}

for (const perMessage of [1, 16]) {
  const { messages, seconds } = await measure(perMessage);
  const rate = messages / seconds;
  process.stdout.write(
    `${perMessage} x ${ENTRY_BYTES} B entr${perMessage === 1 ? 'y' : 'ies'} per message: ${messages} messages in ${seconds.toFixed(2)} s = ` +
      `${Math.round(rate).toLocaleString('en-US')} messages/s, ${Math.round(rate * perMessage).toLocaleString('en-US')} entries/s\n`,
  );
}

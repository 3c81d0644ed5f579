// The watch-scale rows: many watchers created at once against one member,
// on one gRPC stream or spread over many, while the member's /health is
// polled every 50 ms from a worker thread. Its slowest answer stands for the
// worst event-loop stall the creations caused (issue 13: 40k watchers on one stream once
// stalled a leader for seconds). Requests are encoded before the clock
// starts and answers are only scanned, so this process stays light and the
// figures are the member's.
import { connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { Worker } from 'node:worker_threads';

export interface WatchScaleResult {
  created: number;
  canceled: number;
  /** From the first request written to the last creation seen. */
  elapsedMs: number;
  /** Whether every watcher was created before the time bound. */
  complete: boolean;
  worstHealthMs: number;
  /** Health polls answered with anything but 200 (or not at all). */
  healthFailures: number;
  polls: number;
}

/** Streams one HTTP/2 connection carries here (Node's and grpc-go's default limits allow more; 100 keeps every client alike). */
const STREAMS_PER_CONNECTION = 100;
const POLL_EVERY_MS = 50;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A gRPC frame holding WatchRequest{create_request{key}}. */
function createFrame(key: Buffer): Buffer {
  const inner = [0x0a, ...varint(key.length), ...key];
  const msg = [0x0a, ...varint(inner.length), ...inner];
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, Buffer.from(msg)]);
}

/** Whether a WatchResponse says created (field 3) or canceled (field 4): its top-level fields only. */
function scan(msg: Buffer): { created: boolean; canceled: boolean } {
  let created = false;
  let canceled = false;
  let pos = 0;
  while (pos < msg.length) {
    let tag = 0;
    let shift = 0;
    for (;;) {
      const b = msg[pos++]!;
      tag |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0 || pos >= msg.length) break;
    }
    const wire = tag & 7;
    const field = tag >>> 3;
    if (wire === 0) {
      const first = msg[pos]!;
      if (field === 3 && first === 1) created = true;
      if (field === 4 && first === 1) canceled = true;
      while (pos < msg.length && msg[pos]! & 0x80) pos++;
      pos++;
    } else if (wire === 2) {
      let len = 0;
      shift = 0;
      for (;;) {
        const b = msg[pos++]!;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0 || pos >= msg.length) break;
      }
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else break;
  }
  return { created, canceled };
}

/**
 * The poller's code. It runs in a worker thread, so its timings are the
 * member's and not this thread's, which is busy writing requests and
 * reading answers. One request at a time; a request still out at the end
 * counts with its age.
 */
const POLLER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, get } = require('node:http');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let running = true, worst = 0, failures = 0, polls = 0, since;
const once = () => new Promise((resolve) => {
  const req = get(workerData.url, { agent, timeout: 60000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode === 200)); });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => resolve(false));
});
parentPort.on('message', (m) => {
  if (m === 'reset') { worst = 0; return; }
  if (since !== undefined) worst = Math.max(worst, performance.now() - since);
  running = false;
  parentPort.postMessage({ worst, failures, polls });
  agent.destroy();
  parentPort.close();
});
(async () => {
  while (running) {
    since = performance.now();
    const ok = await once();
    const ms = performance.now() - since;
    since = undefined;
    if (!running) break;
    polls++;
    if (!ok) failures++;
    worst = Math.max(worst, ms);
    await new Promise((r) => setTimeout(r, workerData.every));
  }
})();
`;

class HealthPoller {
  private readonly worker: Worker;

  constructor(url: string) {
    this.worker = new Worker(POLLER, { eval: true, workerData: { url, every: POLL_EVERY_MS } });
  }

  /** Forgets what was measured so far (the idle polls before the load). */
  reset(): void {
    this.worker.postMessage('reset');
  }

  async stop(): Promise<{ worst: number; failures: number; polls: number }> {
    const result = new Promise<{ worst: number; failures: number; polls: number }>((resolve) => this.worker.once('message', resolve));
    this.worker.postMessage('stop');
    const r = await result;
    await this.worker.terminate();
    return r;
  }
}

/**
 * Creates `watchers` watchers (keys ws/0, ws/1, ...) on `streams` Watch
 * streams to the member at `endpoint` (host:port), all at once, and waits
 * until each is reported created or `timeoutMs` passes. The streams are
 * closed before it returns.
 */
export async function createWatchers(endpoint: string, watchers: number, streams: number, timeoutMs: number): Promise<WatchScaleResult> {
  const perStream = Array.from({ length: streams }, (_, s) => {
    const frames: Buffer[] = [];
    for (let i = s; i < watchers; i += streams) frames.push(createFrame(Buffer.from(`ws/${i}`)));
    return Buffer.concat(frames);
  });
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < Math.ceil(streams / STREAMS_PER_CONNECTION); i++) {
    const s = connect(`http://${endpoint}`);
    s.on('error', () => undefined);
    sessions.push(s);
  }
  await Promise.all(sessions.map((s) => new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  })));
  let created = 0;
  let canceled = 0;
  let lastCreatedAt = 0;
  const poller = new HealthPoller(`http://${endpoint}/health`);
  // A moment of polling an idle member first, so a slow first answer is not blamed on the load.
  await new Promise((r) => setTimeout(r, 300));
  poller.reset();
  const started = performance.now();
  const opened: ClientHttp2Stream[] = [];
  const writes = perStream.map(async (body, s) => {
    const stream = sessions[Math.floor(s / STREAMS_PER_CONNECTION)]!.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: '/etcdserverpb.Watch/Watch',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    opened.push(stream);
    let inbox: Buffer = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      inbox = inbox.length > 0 ? Buffer.concat([inbox, chunk]) : chunk;
      let pos = 0;
      while (inbox.length - pos >= 5) {
        const length = inbox.readUInt32BE(pos + 1);
        if (inbox.length - pos - 5 < length) break;
        const r = scan(inbox.subarray(pos + 5, pos + 5 + length));
        pos += 5 + length;
        if (r.created) {
          created++;
          lastCreatedAt = performance.now();
        }
        if (r.canceled) canceled++;
      }
      inbox = inbox.subarray(pos);
    });
    stream.on('error', () => undefined);
    for (let pos = 0; pos < body.length; pos += 64 * 1024) {
      if (!stream.write(body.subarray(pos, pos + 64 * 1024))) await new Promise((r) => stream.once('drain', r));
    }
  });
  const deadline = started + timeoutMs;
  while (created < watchers && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const health = await poller.stop();
  const complete = created >= watchers;
  const elapsedMs = (complete ? lastCreatedAt : performance.now()) - started;
  for (const s of opened) s.close(h2.NGHTTP2_CANCEL);
  for (const s of sessions) s.destroy();
  await Promise.allSettled(writes);
  return { created, canceled, elapsedMs, complete, worstHealthMs: health.worst, healthFailures: health.failures, polls: health.polls };
}

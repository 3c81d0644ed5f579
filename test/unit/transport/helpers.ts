// Shared fixtures for the transport tests: full messages from a few fields,
// loggers that keep their lines for assertions, bounded waiting, and
// transports on 127.0.0.1 with ephemeral ports and fast retry settings.
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { EntryType, MessageType, type Entry, type Message, type NodeId } from '../../../node/raft/types.js';
import { PeerTransport, type PeerTransportOptions } from '../../../node/transport/transport.js';

export const CLUSTER = 0xc1a57e5;

export function msg(fields: Partial<Message> & { type: MessageType; from: NodeId; to: NodeId }): Message {
  return {
    term: 0,
    index: 0,
    logTerm: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
    context: new Uint8Array(0),
    ...fields,
  };
}

export function entry(index: number, data: Uint8Array, term = 1, type = EntryType.Normal): Entry {
  return { term, index, type, data };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface CapturedLogger {
  logger: Logger;
  lines: LogLine[];
  has(pattern: RegExp): boolean;
}

/** A logger whose lines (warn and above by default) are kept for assertions. */
export function captureLogger(level: string = 'warn'): CapturedLogger {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines, has: (pattern) => lines.some((l) => pattern.test(l.msg) || pattern.test(String(l['reason'] ?? ''))) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until cond() holds; fails after timeoutMs. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** Test-speed retry and liveness settings. */
export const FAST = { backoffInitialMs: 10, backoffMaxMs: 100, pingIntervalMs: 100, dialTimeoutMs: 2000 };

export interface Member {
  id: NodeId;
  transport: PeerTransport;
  received: Message[];
  unreachable: NodeId[];
  snapshotStatus: { id: NodeId; ok: boolean }[];
  registry: Registry;
  log: CapturedLogger;
}

export async function startMember(
  id: NodeId,
  extra: Partial<PeerTransportOptions> & { port?: number; onReceive?: (m: Message) => void } = {},
): Promise<Member> {
  const received: Message[] = [];
  const unreachable: NodeId[] = [];
  const snapshotStatus: { id: NodeId; ok: boolean }[] = [];
  const registry = new Registry();
  const log = captureLogger();
  const { port, onReceive, ...rest } = extra;
  const transport = new PeerTransport({
    selfId: id,
    clusterId: CLUSTER,
    listenUrl: `http://127.0.0.1:${port ?? 0}`,
    logger: log.logger,
    registry,
    onMessage: onReceive ?? ((m) => void received.push(m)),
    onUnreachable: (peer) => void unreachable.push(peer),
    onSnapshotStatus: (peer, ok) => void snapshotStatus.push({ id: peer, ok }),
    ...rest,
    tuning: { ...FAST, ...rest.tuning },
  });
  await transport.start();
  return { id, transport, received, unreachable, snapshotStatus, registry, log };
}

/** Makes every member a peer of every other. */
export function mesh(members: Member[]): void {
  for (const a of members) for (const b of members) if (a !== b) a.transport.addPeer(b.id, [b.transport.url]);
}

/** The value of a counter or histogram sample line in Prometheus text output. */
export async function metricValue(registry: Registry, sample: string): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

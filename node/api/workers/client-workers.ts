// A member's client workers, from the core's side: N processes that take
// the client port's connections and do the per-connection work, TLS, HTTP/2 and gRPC framing, in
// parallel, while this process, the core, keeps Raft, the WAL, apply and
// watch fan-out (node/server/README.md, "Threads"). Hot unary calls come in
// over each worker's call channel, batched per turn, and run through the
// same instrumented handlers as on a direct connection; other calls and
// HTTP/1.1 arrive on a Unix socket that only this member's user can open.
//
// The core accepts and hands each connection, unread, to the next worker in
// turn: a cost per connection, not per call, and an even spread, which a
// listening socket shared with the workers does not give (the kernel hands
// most connections to whichever process happens to be waiting).
//
// A worker that dies is a crash of the member: the core reports it and the
// member stops, so its supervisor restarts it whole (workers hold no state).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestListener } from 'node:http';
import { Metadata, type Server as GrpcServer } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { BoundPort } from '../../bound-port.js';
import { serveClients, type ClientListener, type ClientTls } from '../client-listener.js';
import { answerUnary, type HotMethod } from '../grpc/hot-unary.js';
import { CHANNEL_VERSION, FrameReader, FrameWriter } from './call-frames.js';
import { CHANNEL_FD, type FromWorker, type ToWorker, type WorkerSetup } from './client-worker.js';

export interface ClientWorkersOptions {
  count: number;
  tls?: ClientTls;
  hotUnary: { methods: readonly HotMethod[]; maxReceiveBytes: number };
  logger: Logger;
  logLevel: string;
  member: string;
  /** A worker exited without being asked to: the member must stop. */
  onWorkerLost(err: Error): void;
}

const WORKER_ENTRY = new URL('./client-worker.js', import.meta.url);
const STOP_WAIT_MS = 2000;

/**
 * Serves a client port through `count` worker processes. Resolves once
 * every worker is ready; connections that arrived before go to them first.
 */
export async function serveClientsFromWorkers(port: BoundPort, url: URL, grpc: GrpcServer, http: RequestListener, opts: ClientWorkersOptions): Promise<ClientListener> {
  const dir = mkdtempSync(join(tmpdir(), 'kvorum-core-'));
  const corePath = join(dir, 'core.sock');
  const corePort = await BoundPort.bindPath(corePath, 'client workers');
  const core = serveClients(corePort, new URL('http://core'), grpc, http, { hotUnary: opts.hotUnary });
  const { methods, maxReceiveBytes } = opts.hotUnary;
  const tls = opts.tls && {
    cert: opts.tls.cert.toString('base64'),
    key: opts.tls.key.toString('base64'),
    ...(opts.tls.ca && { ca: opts.tls.ca.toString('base64') }),
    clientCertAuth: opts.tls.clientCertAuth,
  };
  let started = false;
  let stopping = false;
  const workers: Worker[] = [];
  for (let index = 0; index < opts.count; index++) {
    const setup: WorkerSetup = {
      index,
      member: opts.member,
      logLevel: opts.logLevel,
      url: url.href,
      ...(tls && { tls }),
      hotPaths: methods.map((m) => m.path),
      maxReceiveBytes,
      corePath,
    };
    // (One lost before all are ready fails the start instead.)
    const worker = startWorker(setup, methods, opts.logger, (err) => {
      if (started && !stopping) opts.onWorkerLost(err);
    });
    workers.push(worker);
  }
  try {
    await Promise.all(workers.map((w) => w.ready));
  } catch (err) {
    // One failed to start: none is left behind, nor the socket.
    stopping = true;
    for (const w of workers) w.child.kill('SIGKILL');
    await core.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  started = true;
  let turn = 0;
  let draining = false;
  port.serve((socket: Socket) => {
    if (draining) return void socket.destroy();
    const w = workers[turn++ % workers.length]!;
    w.child.send({ type: 'socket' } satisfies ToWorker, socket, (err) => {
      if (err) socket.destroy();
    });
  });
  opts.logger.info({ url: url.href, workers: opts.count }, 'client workers serve the client port');

  return {
    drain(graceMs) {
      draining = true;
      // Not awaited: it settles when the last open connection ends; close() ends them.
      void port.close();
      for (const w of workers) w.send({ type: 'drain', graceMs });
    },
    async settle(timeoutMs) {
      await Promise.race([Promise.all(workers.map((w) => w.settled)), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    },
    async close() {
      stopping = true;
      for (const w of workers) w.send({ type: 'close' });
      await Promise.all(workers.map((w) => w.exited(STOP_WAIT_MS)));
      // Not awaited: the server counts connections handed to workers as its
      // own until they end, and the workers are gone; listening stops now.
      void port.close();
      await core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  settled: Promise<void>;
  send(m: ToWorker): void;
  exited(waitMs: number): Promise<void>;
}

function startWorker(setup: WorkerSetup, methods: readonly HotMethod[], logger: Logger, lost: (err: Error) => void): Worker {
  const child = fork(WORKER_ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'] });
  const channel = child.stdio[CHANNEL_FD] as Socket;
  const writer = new FrameWriter(channel);
  // Calls being run, by id: their cancel functions.
  const running = new Map<number, () => void>();
  let helloSeen = false;
  const reader = new FrameReader({
    hello: (version) => {
      if (version !== CHANNEL_VERSION) throw new Error(`client worker speaks call channel version ${version}, the core ${CHANNEL_VERSION}`);
      helloSeen = true;
    },
    call: ({ id, method, metadata, body }) => {
      const m = methods[method];
      if (!helloSeen || !m) throw new Error(`client worker sent a call for method ${method} ${helloSeen ? 'that does not exist' : 'before its hello'}`);
      let md: Metadata | undefined;
      const caller = {
        metadata: () => {
          if (!md) {
            md = new Metadata();
            for (const [k, v] of metadata) md.add(k, v);
          }
          return md;
        },
        // The worker did TLS; the verified CN travels in the metadata.
        authContext: () => ({}),
      };
      let answered = false;
      const cancel = answerUnary(m, body, setup.maxReceiveBytes, caller, (answer) => {
        answered = true;
        running.delete(id);
        if ('message' in answer) writer.message(id, answer.message);
        else writer.status(id, answer.code, answer.details);
      });
      // A refusal, or a handler that calls back at once, has answered already.
      if (!answered) running.set(id, cancel);
    },
    cancel: (id) => {
      const cancel = running.get(id);
      running.delete(id);
      cancel?.();
    },
  });
  channel.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (err) {
      logger.error({ err, clientWorker: setup.index }, 'client worker broke the call channel; stopping it');
      child.kill('SIGKILL');
    }
  });
  channel.on('error', () => undefined);
  let onReady: () => void = () => undefined;
  let onSettled: () => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    child.once('exit', (code, signal) => reject(new Error(`client worker ${setup.index} exited before it was ready (${signal ?? `code ${code}`})`)));
  });
  const settled = new Promise<void>((resolve) => (onSettled = resolve));
  child.on('message', (m: FromWorker) => {
    if (m.type === 'ready') onReady();
    else if (m.type === 'settled') onSettled();
  });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    for (const cancel of running.values()) cancel();
    running.clear();
    lost(new Error(`client worker ${setup.index} (pid ${child.pid}) exited: ${signal ?? `code ${code}`}`));
  });
  child.on('error', (err) => logger.error({ err, clientWorker: setup.index }, 'client worker'));
  child.send({ type: 'setup', setup } satisfies ToWorker);
  return {
    child,
    ready,
    settled,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    async exited(waitMs) {
      const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

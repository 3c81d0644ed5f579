// A client worker: a process of a member's pool (client-workers.ts) that
// owns client connections. The core hands it connections as it accepts
// them; the worker does TLS, HTTP/2 and gRPC framing,
// and passes each hot unary call (KV Range, Put, DeleteRange, Txn) to the
// core as a raw request over the call channel (call-frames.ts); the core
// decodes and runs it and sends back the encoded answer. Every other gRPC
// call goes to the core's grpc-js over a local HTTP/2 session
// (stream-proxy.ts), and HTTP/1.1 connections (the JSON gateway, health,
// metrics) are piped to the core whole. The worker holds no state of the
// store, so it exits as soon as the core is gone.
import { createServer as createHttp2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { connect, Socket } from 'node:net';
import { pino, type Level } from 'pino';
import { connectionRouter, logRejectedTlsClient } from '../client-listener.js';
import { authContext, collectUnaryBody, plainGrpc, respondUnary } from '../grpc/hot-unary.js';
import { FrameReader, FrameWriter } from './call-frames.js';
import { CLIENT_CN_HEADER } from '../grpc/caller.js';
import { CoreSession, proxyStream } from './stream-proxy.js';

/** What the core tells a worker before it shares the port (JSON over the IPC channel). */
export interface WorkerSetup {
  index: number;
  member: string;
  logLevel: string;
  /** The client URL served (its scheme says whether TLS). */
  url: string;
  /** Certificate material, base64. */
  tls?: { cert: string; key: string; ca?: string; clientCertAuth: boolean };
  /** The hot methods' paths; a call's index in this list names it on the channel. */
  hotPaths: string[];
  maxReceiveBytes: number;
  /** The core's Unix socket for everything that is not a hot call. */
  corePath: string;
}

export type ToWorker =
  | { type: 'setup'; setup: WorkerSetup }
  | { type: 'socket' } // with one accepted connection
  | { type: 'drain'; graceMs: number }
  | { type: 'close' };

export type FromWorker = { type: 'ready' } | { type: 'settled' };

/** The file descriptor of the call channel, as the core sets up the worker's stdio. */
export const CHANNEL_FD = 4;

const INVALID_ARGUMENT = 3;

/** The hot-call metadata the core's auth check reads. */
const FORWARDED_METADATA = ['token', 'authorization'];

function runWorker(setup: WorkerSetup): void {
  const logger = pino({ level: setup.logLevel as Level, base: { member: setup.member, clientWorker: setup.index } });
  const channel = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
  const writer = new FrameWriter(channel);
  const calls = new Map<number, ServerHttp2Stream>();
  let nextId = 1;
  const answer = (id: number, a: Parameters<typeof respondUnary>[1]): void => {
    const stream = calls.get(id);
    if (!stream) return;
    calls.delete(id);
    respondUnary(stream, a);
  };
  const reader = new FrameReader({
    message: (id, message) => answer(id, { message }),
    status: (id, code, details) => answer(id, { code, details }),
  });
  channel.on('data', (chunk: Buffer) => reader.push(chunk));
  channel.once('close', () => process.exit(0));
  channel.on('error', () => undefined);
  writer.hello();

  const core = new CoreSession(setup.corePath);
  const hot = new Map(setup.hotPaths.map((p, i) => [p, i]));
  const certAuth = setup.tls?.clientCertAuth === true;
  // A verified certificate's CN, read once per connection.
  const names = new WeakMap<object, string | undefined>();
  const commonName = (stream: ServerHttp2Stream): string | undefined => {
    if (!certAuth || !stream.session) return undefined;
    if (names.has(stream.session)) return names.get(stream.session);
    const cert = authContext(stream).sslPeerCertificate as { subject?: { CN?: string | string[] } } | undefined;
    const cn = cert?.subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    names.set(stream.session, name);
    return name;
  };

  const http2 = createHttp2Server({ maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER, maxSessionMemory: Number.MAX_SAFE_INTEGER });
  http2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const path = headers[':path'];
    const method = typeof path === 'string' ? hot.get(path) : undefined;
    if (method === undefined || !plainGrpc(headers)) {
      proxyStream(core, stream, headers, commonName(stream));
      return;
    }
    collectUnaryBody(stream, setup.maxReceiveBytes, (body) => {
      if (stream.closed || stream.destroyed) return;
      const id = nextId;
      nextId = nextId === 0xffffffff ? 1 : nextId + 1;
      const metadata: [string, string][] = [];
      for (const key of FORWARDED_METADATA) {
        const v = headers[key];
        for (const value of Array.isArray(v) ? v : v === undefined ? [] : [v]) metadata.push([key, value]);
      }
      const cn = commonName(stream);
      if (cn !== undefined) metadata.push([CLIENT_CN_HEADER, cn]);
      try {
        writer.call({ id, method, metadata, body });
      } catch (err) {
        // A token longer than the channel carries is no token the member issued.
        respondUnary(stream, { code: INVALID_ARGUMENT, details: (err as Error).message });
        return;
      }
      calls.set(id, stream);
      stream.once('close', () => {
        if (calls.delete(id)) writer.cancel(id);
      });
    });
  });

  const sessions = new Set<ServerHttp2Session>();
  const grpcSockets = new Set<Socket>();
  let draining = false;
  const maybeSettled = (): void => {
    if (draining && grpcSockets.size === 0) process.send?.({ type: 'settled' } satisfies FromWorker);
  };
  http2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.on('error', () => undefined);
    session.once('close', () => sessions.delete(session));
  });
  const tls = setup.tls && {
    cert: Buffer.from(setup.tls.cert, 'base64'),
    key: Buffer.from(setup.tls.key, 'base64'),
    ...(setup.tls.ca && { ca: Buffer.from(setup.tls.ca, 'base64') }),
    clientCertAuth: setup.tls.clientCertAuth,
  };
  const route = connectionRouter(
    new URL(setup.url),
    {
      ...(tls && { tls }),
      onTlsClientError: logRejectedTlsClient(logger),
    },
    (socket) => {
      if (draining) return void socket.destroy();
      grpcSockets.add(socket);
      socket.once('close', () => {
        grpcSockets.delete(socket);
        maybeSettled();
      });
      http2.emit('connection', socket);
    },
    (socket) => {
      // HTTP/1.1 goes to the core whole; the bytes already read go first.
      const upstream = connect(setup.corePath);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
      socket.once('close', () => upstream.destroy());
      upstream.once('close', () => socket.destroy());
    },
  );
  const accept = (socket: Socket): void => {
    // As the member's own listener: no Nagle stalls on small answers.
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    route(socket);
  };

  process.on('message', (m: ToWorker, handle: unknown) => {
    switch (m.type) {
      case 'socket':
        accept(handle as Socket);
        break;
      case 'drain':
        draining = true;
        // GOAWAY: calls in flight finish, the next ones go elsewhere.
        for (const s of sessions) s.close();
        setTimeout(() => {
          for (const s of grpcSockets) s.destroy();
        }, m.graceMs).unref();
        maybeSettled();
        break;
      case 'close':
        process.exit(0);
    }
  });
  process.send?.({ type: 'ready' } satisfies FromWorker);
}

process.once('disconnect', () => process.exit(0));
process.once('message', (m: ToWorker) => {
  if (m.type !== 'setup') throw new Error(`a client worker's first message must be its setup, not ${m.type}`);
  runWorker(m.setup);
});

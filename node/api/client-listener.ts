// One listening socket for both gRPC and HTTP/1.1 clients, as etcd serves
// both on its client port. Plain TCP: a connection that opens with the
// HTTP/2 preface goes to gRPC, anything else to the HTTP app. TLS: ALPN
// decides ("h2" is gRPC). HTTPS gateway clients must therefore speak
// HTTP/1.1 (e.g. curl --http1.1), since an h2 connection is taken for gRPC.
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { ServerCredentials, type Server as GrpcServer } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { BoundPort } from '../bound-port.js';
import { serveHotUnaryCalls, type HotMethod } from './grpc/hot-unary.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth: boolean;
}

/** The client port's certificate material, read once at startup (a bad path fails before the member joins). */
export interface ClientTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  clientCertAuth: boolean;
}

export function readClientTls(files: TlsFiles): ClientTls {
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ...(files.trustedCaFile && { ca: readFileSync(files.trustedCaFile) }),
    clientCertAuth: files.clientCertAuth,
  };
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

/**
 * Logs a refused TLS client. The client only sees a failed handshake
 * (etcdctl: "context deadline exceeded"); the member's log says why, as
 * etcd's "rejected connection" does. (A certificate that fails verification
 * closes the socket before the error is raised; its verdict is in
 * authorizationError.)
 */
export function logRejectedTlsClient(logger: Pick<Logger, 'warn'>): (err: Error & { reason?: string }, socket: TLSSocket) => void {
  return (err, socket) => {
    const remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unknown';
    logger.warn({ remote, reason: socket.authorizationError ?? err.reason ?? err.message }, 'rejected client TLS connection');
  };
}

export interface ClientListener {
  /**
   * Asks gRPC clients to go elsewhere: the port stops taking connections and
   * open ones get an HTTP/2 GOAWAY. Calls in flight finish; a client's next
   * call finds the port closed and picks another member or waits for this
   * one to come back, instead of reconnecting here only to be refused.
   */
  drain(graceMs: number): void;
  /**
   * After drain(): resolves once every gRPC connection has ended by itself
   * (its calls answered and their answers sent), or after `timeoutMs`. A
   * connection closed under an answered call whose bytes are still queued
   * loses the answer, and the client sees a reset instead.
   */
  settle(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface ClientListenerOptions {
  tls?: ClientTls;
  /** A TLS handshake failed (a refused or broken client certificate). */
  onTlsClientError?: (err: Error & { reason?: string }, socket: TLSSocket) => void;
  /** Unary calls answered from node:http2 directly (grpc/hot-unary.ts); the rest go to grpc-js. */
  hotUnary?: { methods: readonly HotMethod[]; maxReceiveBytes: number };
}

/**
 * Where each accepted connection goes: `toGrpc` takes HTTP/2 (the preface
 * on plain TCP, ALPN "h2" under TLS), `toHttp` everything else. Under TLS
 * both get the decrypted socket. Shared by the member's own listener and its
 * client workers (workers/client-worker.ts), which must split alike.
 */
export function connectionRouter(
  url: URL,
  opts: Pick<ClientListenerOptions, 'tls' | 'onTlsClientError'>,
  toGrpc: (socket: Socket) => void,
  toHttp: (socket: Socket) => void,
): (socket: Socket) => void {
  if (url.protocol === 'https:') {
    const tls = opts.tls;
    if (!tls) throw new Error(`client URL ${url.href} is https but no --cert-file/--key-file were given`);
    // Never listens itself: raw sockets from the bound port are fed to it.
    const tlsServer: TlsServer = createTlsServer(
      {
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca && { ca: tls.ca }),
        requestCert: tls.clientCertAuth,
        rejectUnauthorized: tls.clientCertAuth,
        ALPNProtocols: ['h2', 'http/1.1'],
      },
      (socket: TLSSocket) => {
        // ALPN decides: "h2" is gRPC.
        if (socket.alpnProtocol === 'h2') toGrpc(socket);
        else toHttp(socket);
      },
    );
    if (opts.onTlsClientError) tlsServer.on('tlsClientError', opts.onTlsClientError);
    return (socket) => tlsServer.emit('connection', socket);
  }
  // The first TCP segment may be shorter than the preface (a client that
  // writes "P" first): bytes are gathered until they either diverge from the
  // preface (HTTP/1.1) or hold all of it (gRPC).
  return (socket: Socket): void => {
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const matches = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (matches && n < H2_PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(seen);
      if (matches) {
        // Node's HTTP/2 session feeds itself whatever the socket already
        // buffered before it reads from the native handle, so the raw socket
        // can go to gRPC with the first bytes put back. (A JS Duplex wrapper
        // would also work but costs a JS stream hop per read and write.)
        toGrpc(socket);
      } else {
        toHttp(socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  };
}

/**
 * Serves gRPC and HTTP clients on a port bound beforehand (see BoundPort):
 * `url` says whether the port speaks TLS.
 */
export function serveClients(port: Pick<BoundPort, 'serve' | 'close'>, url: URL, grpc: GrpcServer, http: RequestListener, opts: ClientListenerOptions = {}): ClientListener {
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  if (opts.hotUnary) serveHotUnaryCalls(grpc, opts.hotUnary.methods, opts.hotUnary.maxReceiveBytes);
  const httpServer = createHttpServer(http);
  const sockets = new Set<Socket>();
  // Set by drain(): a connection accepted just before it gets no session (it has no call yet).
  let draining = false;
  const grpcSockets = new Set<Socket>();
  const toGrpc = (socket: Socket): void => {
    if (draining) {
      socket.destroy();
      return;
    }
    grpcSockets.add(socket);
    socket.once('close', () => grpcSockets.delete(socket));
    injector.injectConnection(socket);
  };
  const route = connectionRouter(url, opts, toGrpc, (socket) => httpServer.emit('connection', socket));
  port.serve((socket: Socket) => {
    // Small request/response exchanges must not wait on Nagle's algorithm
    // (40 ms stalls against delayed ACKs); gRPC sets this on sockets it
    // accepts itself, but these are ours.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    route(socket);
  });
  return {
    drain(graceMs) {
      draining = true;
      // Not awaited: it settles when the last open connection ends; close() ends them.
      void port.close();
      injector.drain(graceMs);
    },
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (grpcSockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    },
    async close() {
      injector.drain(0);
      injector.destroy();
      for (const s of sockets) s.destroy();
      await port.close();
    },
  };
}

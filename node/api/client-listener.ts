// One listening socket for both gRPC and HTTP/1.1 clients, as etcd serves
// both on its client port. Plain TCP: a connection that opens with the
// HTTP/2 preface goes to gRPC, anything else to the HTTP app. TLS: ALPN
// decides ("h2" is gRPC). HTTPS gateway clients must therefore speak
// HTTP/1.1 (e.g. curl --http1.1), since an h2 connection is taken for gRPC.
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { ServerCredentials, type Server as GrpcServer } from '@grpc/grpc-js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth: boolean;
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

export interface ClientListener {
  server: NetServer;
  close(): Promise<void>;
}

export async function listenClients(url: URL, grpc: GrpcServer, http: RequestListener, tls?: TlsFiles): Promise<ClientListener> {
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  const httpServer = createHttpServer(http);
  const sockets = new Set<Socket>();
  const route = (socket: Socket, isGrpc: boolean): void => {
    if (isGrpc) injector.injectConnection(socket);
    else httpServer.emit('connection', socket);
  };
  let server: NetServer;
  if (url.protocol === 'https:') {
    if (!tls) throw new Error(`client URL ${url.href} is https but no --cert-file/--key-file were given`);
    server = createTlsServer(
      {
        cert: readFileSync(tls.certFile),
        key: readFileSync(tls.keyFile),
        ...(tls.trustedCaFile && { ca: readFileSync(tls.trustedCaFile) }),
        requestCert: tls.clientCertAuth,
        rejectUnauthorized: tls.clientCertAuth,
        ALPNProtocols: ['h2', 'http/1.1'],
      },
      (socket: TLSSocket) => route(socket, socket.alpnProtocol === 'h2'),
    );
  } else {
    server = createNetServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.once('data', (first: Buffer) => {
        socket.pause();
        const n = Math.min(first.length, H2_PREFACE.length);
        if (first.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
          // Node's HTTP/2 session feeds itself whatever the socket already
          // buffered before it reads from the native handle, so the raw socket
          // can go to gRPC with the first bytes put back. (A JS Duplex wrapper
          // would also work but costs a JS stream hop per read and write.)
          socket.unshift(first);
          injector.injectConnection(socket);
        } else {
          socket.unshift(first);
          httpServer.emit('connection', socket);
          socket.resume();
        }
      });
    });
  }
  server.on('connection', (socket: Socket) => {
    // Small request/response exchanges must not wait on Nagle's algorithm
    // (40 ms stalls against delayed ACKs); gRPC sets this on sockets it
    // accepts itself, but these are ours.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(url.port), url.hostname === 'localhost' ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, ''), () => resolve());
  });
  return {
    server,
    async close() {
      injector.drain(0);
      injector.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// An HTTP(S)-only listener on a port bound beforehand: the metrics port
// (etcd's --listen-metrics-urls), which serves /metrics and health. An https
// URL uses the client port's certificate, as etcd's metrics listener does.
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { BoundPort } from '../bound-port.js';
import type { ClientTls } from './client-listener.js';

export function serveHttp(port: BoundPort, url: URL, app: RequestListener, tls?: ClientTls): { close(): Promise<void> } {
  const httpServer = createHttpServer(app);
  const sockets = new Set<Socket>();
  let accept = (socket: Socket): void => void httpServer.emit('connection', socket);
  if (url.protocol === 'https:') {
    if (!tls) throw new Error(`metrics URL ${url.href} is https but no --cert-file/--key-file were given`);
    const tlsServer = createTlsServer(
      { cert: tls.cert, key: tls.key, ...(tls.ca && { ca: tls.ca }), requestCert: tls.clientCertAuth, rejectUnauthorized: tls.clientCertAuth, ALPNProtocols: ['http/1.1'] },
      (secure) => void httpServer.emit('connection', secure),
    );
    accept = (socket) => void tlsServer.emit('connection', socket);
  }
  port.serve((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    accept(socket);
  });
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await port.close();
    },
  };
}

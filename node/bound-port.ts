// A listening TCP port whose connections are handed to their server later.
//
// A member binds every port it will serve (client, peer, metrics) before it
// joins Raft, as etcd does, so a port that is taken stops the process before
// it can become a voter that serves nobody. The servers themselves need the
// member (its IDs, its state machine), which exists only after Raft starts;
// connections that arrive in between wait here, unread, and are handed over
// in order once serve() is called.
import { createServer, type Server, type Socket } from 'node:net';

/** Connections held before serve(); more are refused rather than piled up. */
const MAX_WAITING = 1024;

/** A port that could not be bound, named by the URL it was for. */
export class ListenError extends Error {
  override readonly name = 'ListenError';

  constructor(
    readonly url: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
};

/** The host to listen on for a URL: brackets off IPv6 literals, localhost as 127.0.0.1. */
export function listenHost(url: URL): string {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' ? '127.0.0.1' : host;
}

export class BoundPort {
  private waiting: Socket[] = [];
  private handler: ((socket: Socket) => void) | undefined;
  private closed = false;

  private constructor(
    private readonly server: Server,
    /** The URL this port was bound for (for messages). */
    readonly url: string,
    readonly host: string,
    /** The port actually bound (the URL's, or the one picked for port 0). */
    readonly port: number,
  ) {
    server.on('connection', (socket: Socket) => this.accept(socket));
  }

  /**
   * Binds the URL's host and port (defaultPort when the URL has none).
   * Rejects with a ListenError that names the URL when the port cannot be bound.
   */
  static bind(url: URL, what: string, defaultPort: number, opts: { pauseOnConnect?: boolean } = {}): Promise<BoundPort> {
    const host = listenHost(url);
    const port = url.port === '' ? defaultPort : Number(url.port);
    // pauseOnConnect: nothing is read from a connection here, so it can be
    // handed to another process whole (a client worker).
    const server = createServer({ pauseOnConnect: opts.pauseOnConnect === true });
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const reason = (err.code && REASONS[err.code]) ?? err.message;
        reject(new ListenError(url.href, err.code, `cannot listen for ${what} on ${url.href}: ${reason}${err.code ? ` (${err.code})` : ''}`));
      });
      server.listen(port, host, () => {
        server.removeAllListeners('error');
        const address = server.address();
        resolve(new BoundPort(server, url.href, host, typeof address === 'object' && address ? address.port : port));
      });
    });
  }

  /**
   * Binds a Unix socket (the member's core serves its client workers on
   * one); the path must not exist.
   */
  static bindPath(path: string, what: string): Promise<BoundPort> {
    const server = createServer();
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(path, err.code, `cannot listen for ${what} on ${path}: ${err.message}`)));
      server.listen(path, () => {
        server.removeAllListeners('error');
        resolve(new BoundPort(server, path, path, 0));
      });
    });
  }

  /** Starts handing connections to `handler`, those that waited first. */
  serve(handler: (socket: Socket) => void): void {
    if (this.handler) throw new Error(`${this.url} is already being served`);
    this.handler = handler;
    const waiting = this.waiting;
    this.waiting = [];
    for (const socket of waiting) {
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      if (!socket.destroyed) handler(socket);
    }
  }

  /** Stops listening and drops connections still waiting; served ones belong to their server. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const socket of this.waiting) socket.destroy();
    this.waiting = [];
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    if (this.handler) {
      this.handler(socket);
      return;
    }
    if (this.waiting.length >= MAX_WAITING) {
      socket.destroy();
      return;
    }
    // Unread until served; a client that gives up meanwhile must not crash us.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.waiting = this.waiting.filter((s) => s !== socket);
    });
    this.waiting.push(socket);
  }
}

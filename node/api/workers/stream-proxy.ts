// Passes one gRPC stream from a client worker to the member's core over a
// local HTTP/2 session, untouched: the calls the worker does not answer
// itself (watches, leases, maintenance, cluster, auth, locks) are served by
// the core's grpc-js exactly as on a direct connection. Flow control holds
// end to end (each direction is piped), and a reset on either side resets
// the other.
import { connect as connectSocket } from 'node:net';
import { connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';

import { CLIENT_CN_HEADER } from '../grpc/caller.js';

const UNAVAILABLE = 14;

/** One HTTP/2 session to the core's local socket, opened again after it ends. */
export class CoreSession {
  private session: ClientHttp2Session | undefined;

  constructor(private readonly socketPath: string) {}

  get(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect('http://core', { createConnection: () => connectSocket(this.socketPath) });
    // Errors end the session; its streams see them on their own.
    session.on('error', () => undefined);
    session.once('close', () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    return session;
  }

  close(): void {
    this.session?.close();
  }
}

/** Copies a client's stream to the core and the core's answer back. */
export function proxyStream(core: CoreSession, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, commonName: string | undefined): void {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k === CLIENT_CN_HEADER || (k.startsWith(':') && k !== ':path' && k !== ':method')) continue;
    out[k] = v;
  }
  if (commonName !== undefined) out[CLIENT_CN_HEADER] = commonName;
  let upstream: ClientHttp2Stream;
  try {
    upstream = core.get().request(out, { endStream: false });
  } catch {
    failStream(stream, 'the member core is not reachable from its client worker');
    return;
  }
  let trailers: OutgoingHttpHeaders = {};
  upstream.on('response', (response: IncomingHttpHeaders, flags: number) => {
    if (stream.destroyed || stream.closed) return;
    const endStream = (flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0;
    stream.respond(withoutPseudo(response), endStream ? { endStream: true } : { waitForTrailers: true });
  });
  upstream.on('trailers', (t: IncomingHttpHeaders) => {
    trailers = withoutPseudo(t);
  });
  stream.on('wantTrailers', () => stream.sendTrailers(trailers));
  stream.pipe(upstream);
  upstream.pipe(stream);
  // A stream that ended by itself has nothing to pass on; one reset or
  // failed before its end resets the other side (the client's cancel, or
  // the core gone).
  stream.on('error', () => undefined);
  upstream.on('error', () => undefined);
  stream.once('close', () => {
    if (!upstream.closed) upstream.close(stream.rstCode || h2.NGHTTP2_CANCEL);
  });
  upstream.once('close', () => {
    if (stream.closed || stream.destroyed) return;
    if (!stream.headersSent) failStream(stream, 'the member core closed the call');
    else if (!stream.writableEnded) stream.close(upstream.rstCode || h2.NGHTTP2_INTERNAL_ERROR);
  });
}

function withoutPseudo(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && (!k.startsWith(':') || k === ':status')) out[k] = v;
  return out;
}

function failStream(stream: ServerHttp2Stream, details: string): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': UNAVAILABLE, 'grpc-message': encodeURI(details) }, { endStream: true });
}

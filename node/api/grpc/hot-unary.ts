// The hot unary calls (KV Range, Put, DeleteRange, Txn) answered straight
// from node:http2, without @grpc/grpc-js's per-call machinery (interceptor
// chain, stream decoder, call objects, status plumbing), which costs about
// as much CPU again as the HTTP/2 stream itself (`npm run
// bench:unary-overhead`: 64 µs against 33 µs per call). Every other call,
// and any hot call this path does not fully understand (another content
// type, a compressed request), still goes to grpc-js on the same
// connection, so sessions, keepalive, GOAWAY and draining stay grpc-js's.
//
// The handlers are the same instrumented service functions grpc-js runs, and
// the answers mirror grpc-js's on the wire: its headers (less node's Date
// header, which etcd's server does not send either), trailers-only
// errors, its messages for a second request message or none, for an
// oversized message, a request that does not decode, and the compressed
// flag without an encoding (compressed-flag.ts).
import { Metadata, status, type Server as GrpcServer, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { constants as h2, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { TLSSocket } from 'node:tls';
import { FRAME_PREFIX_BYTES, writeFramePrefix } from './pre-encoded.js';

type UnaryFunc = (call: HotCall, callback: (err: unknown, value?: unknown) => void) => void;

/** One method served here: the strict request decoder, the response encoder, the instrumented handler. */
export interface HotMethod {
  path: string;
  deserialize(bytes: Buffer): unknown;
  serialize(value: unknown): Buffer;
  func: UnaryFunc;
}

/** The hot methods of a service, as registered with grpc-js (same definition, same implementation). */
export function hotMethods(definition: ServiceDefinition, impl: UntypedServiceImplementation, names: readonly string[]): HotMethod[] {
  return names.map((name) => {
    const def = definition[name];
    const func = impl[name];
    if (!def || !func || def.requestStream || def.responseStream) throw new Error(`${name} is not a unary method of this service`);
    return {
      path: def.path,
      deserialize: (bytes) => def.requestDeserialize(bytes),
      serialize: (value) => def.responseSerialize(value),
      func: func as unknown as UnaryFunc,
    };
  });
}

/**
 * What the handlers read from a call: the request, metadata (tokens), the
 * TLS peer (certificate CN). A class, its getter on the prototype: V8 puts
 * the accessor pair of an object's own getter in the old generation, so a
 * literal with a getter per call kept that call's closures, request and
 * stream alive through every young-generation collection until the next
 * full one, about 3 KB per call (`bash bench/member-gc.sh`; bench/RESULTS.md,
 * twelfth pass).
 */
class HotCall {
  /** The handlers' 'cancelled' listeners, until the call is answered or cancelled. */
  cancelListeners: (() => void)[] | undefined = [];

  constructor(
    readonly request: unknown,
    private readonly caller: UnaryCaller,
    private readonly path: string,
  ) {}

  get metadata(): Metadata {
    return this.caller.metadata();
  }

  getAuthContext(): AuthContext {
    return this.caller.authContext();
  }

  getPath(): string {
    return this.path;
  }

  on(event: string, listener: () => void): HotCall {
    if (event === 'cancelled') this.cancelListeners?.push(listener);
    return this;
  }
}

type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => void;

interface GrpcServerInternals {
  http2Servers?: Map<Http2Server, unknown>;
}

// As grpc-js sends them: a status alone in a trailers-only answer, the encoding headers with a message.
const STATUS_HEADERS = {
  [h2.HTTP2_HEADER_STATUS]: h2.HTTP_STATUS_OK,
  [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto',
};
const RESPONSE_HEADERS = {
  ...STATUS_HEADERS,
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
};
const OK_TRAILERS = { 'grpc-status': status.OK, 'grpc-message': 'OK' };
/**
 * No Date header (node adds one to every response unless told not to; gRPC
 * clients read none, and etcd 3.4's server sends none): one header less to
 * copy, format and compress on every call.
 */
const RESPOND_OPTIONS = { waitForTrailers: true, sendDate: false };
const STATUS_ONLY_OPTIONS = { endStream: true, sendDate: false };

// Listeners shared by every call: no closure or once() wrapper per call.
function ignoreError(): void {}
function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

/**
 * Puts the hot path in front of the HTTP/2 server grpc-js created for its
 * newest connection injector. A grpc-js whose internals no longer match
 * fails here, at startup, rather than silently losing the fast path.
 */
export function serveHotUnaryCalls(grpc: GrpcServer, methods: readonly HotMethod[], maxReceiveBytes: number): void {
  const servers = (grpc as unknown as GrpcServerInternals).http2Servers;
  const http2Server = servers instanceof Map ? [...servers.keys()].pop() : undefined;
  const listeners = http2Server?.listeners('stream') ?? [];
  if (!http2Server || listeners.length !== 1) {
    throw new Error('this @grpc/grpc-js does not keep its injector HTTP/2 servers in http2Servers with one stream listener; the hot unary path needs updating');
  }
  const toGrpc = listeners[0] as StreamListener;
  const byPath = new Map(methods.map((m) => [m.path, m]));
  http2Server.removeListener('stream', toGrpc);
  http2Server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => {
    const path = headers[h2.HTTP2_HEADER_PATH];
    const method = typeof path === 'string' ? byPath.get(path) : undefined;
    if (method === undefined || !plainGrpc(headers)) {
      toGrpc.call(http2Server, stream, headers, flags);
      return;
    }
    serveUnary(stream, headers, method, maxReceiveBytes);
  });
}

/** A call this path understands: gRPC's content type, no compression (anything else is grpc-js's to answer). */
export function plainGrpc(headers: IncomingHttpHeaders): boolean {
  const encoding = headers['grpc-encoding'];
  const contentType = headers[h2.HTTP2_HEADER_CONTENT_TYPE];
  return (encoding === undefined || encoding === 'identity') && typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

function sendStatus(stream: ServerHttp2Stream, code: number, details: string): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond({ 'grpc-status': code, 'grpc-message': encodeURI(details), ...STATUS_HEADERS }, STATUS_ONLY_OPTIONS);
}

function serveUnary(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, method: HotMethod, maxReceiveBytes: number): void {
  collectUnaryBody(stream, maxReceiveBytes, (body) => {
    let metadata: Metadata | undefined;
    const caller: UnaryCaller = {
      // Read only when auth is on (tokens), so built only then.
      metadata: () => (metadata ??= Metadata.fromHttp2Headers(headers)),
      authContext: () => authContext(stream),
    };
    const cancel = answerUnary(method, body, maxReceiveBytes, caller, (answer) => respondUnary(stream, answer));
    stream.once('close', cancel);
  });
}

/**
 * Gathers a unary call's request body and hands it to `onBody` once: at the
 * stream's end, or as soon as the answer is sure to be a refusal. A first
 * message declared too large is refused at once, as grpc-js's decoder does.
 * Past two messages' worth of bytes the body holds a complete second message
 * or a declared length over the limit, which readUnaryBody refuses either
 * way, so nothing more is buffered.
 */
export function collectUnaryBody(stream: ServerHttp2Stream, maxReceiveBytes: number, onBody: (body: Buffer) => void): void {
  // As grpc-js: errors are followed by 'close', which is where a cancel is noticed.
  stream.on('error', ignoreError);
  const chunks: Buffer[] = [];
  let received = 0;
  let handed = false;
  const hand = (): void => {
    handed = true;
    onBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  };
  stream.on('data', (chunk: Buffer) => {
    if (handed) return;
    chunks.push(chunk);
    received += chunk.length;
    if (received >= FRAME_PREFIX_BYTES && (received > 2 * (maxReceiveBytes + FRAME_PREFIX_BYTES) || firstDeclaredLength(chunks) > maxReceiveBytes)) hand();
  });
  stream.once('end', () => {
    if (!handed) hand();
  });
}

/** How a call ends: an encoded response message, or a gRPC status. */
export type UnaryAnswer = { message: Buffer } | { code: number; details: string };

/** Who makes a call: its metadata (tokens) and, under TLS, its verified peer. */
export interface UnaryCaller {
  metadata(): Metadata;
  authContext(): AuthContext;
}

type AuthContext = { transportSecurityType?: string; sslPeerCertificate?: object };

/**
 * Runs a unary call whose request body has arrived (collectUnaryBody):
 * decodes it as grpc-js would, runs the handler, and calls `reply` once with
 * the encoded response or the status. Returns a cancel function (the
 * client went away), which reaches the handler's 'cancelled' listeners until
 * the call is answered.
 */
export function answerUnary(method: HotMethod, body: Buffer, maxReceiveBytes: number, caller: UnaryCaller, reply: (answer: UnaryAnswer) => void): () => void {
  const read = readUnaryBody(body, method, maxReceiveBytes);
  if (read.refusal) {
    reply(read.refusal);
    return () => undefined;
  }
  if (read.count === 0) {
    reply({ code: status.UNIMPLEMENTED, details: `Received no request message for server streaming method ${method.path}` });
    return () => undefined;
  }
  const hotCall = new HotCall(read.request, caller, method.path);
  method.func(hotCall, (err, value) => {
    hotCall.cancelListeners = undefined; // answered: a cancel from now on reaches nobody
    if (err) {
      // grpc-js's reading of a handler's error (serverErrorToStatus).
      const e = err as { code?: unknown; details?: unknown; message?: unknown };
      let code: number = status.UNKNOWN;
      let details = 'message' in e ? String(e.message) : 'Unknown Error';
      if (typeof e.code === 'number' && Number.isInteger(e.code)) {
        code = e.code;
        if (typeof e.details === 'string') details = e.details;
      }
      reply({ code, details });
      return;
    }
    let message: Buffer;
    try {
      message = method.serialize(value);
    } catch {
      reply({ code: status.INTERNAL, details: 'Error serializing response' });
      return;
    }
    reply({ message });
  });
  return () => {
    const listeners = hotCall.cancelListeners;
    hotCall.cancelListeners = undefined;
    for (const l of listeners ?? []) l();
  };
}

/** Sends an answer on its stream, as grpc-js would (nothing if the client is gone). */
export function respondUnary(stream: ServerHttp2Stream, answer: UnaryAnswer): void {
  if (!('message' in answer)) return sendStatus(stream, answer.code, answer.details);
  if (stream.destroyed || stream.closed) return;
  const { message } = answer;
  const framed = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + message.length);
  message.copy(framed, writeFramePrefix(framed, 0, message.length));
  stream.respond(RESPONSE_HEADERS, RESPOND_OPTIONS);
  // 'wantTrailers' comes once per stream.
  stream.on('wantTrailers', sendOkTrailers);
  stream.end(framed);
}

interface Refusal {
  code: number;
  details: string;
}

/**
 * The messages of a unary request body, in order, as grpc-js reads them: a
 * declared length over the limit, the compressed flag without an encoding, a
 * message that does not decode, or a second message ends the call; the
 * trailing bytes of an unfinished message are ignored.
 */
function readUnaryBody(body: Buffer, method: HotMethod, max: number): { refusal?: Refusal; request?: unknown; count: number } {
  let request: unknown;
  let count = 0;
  for (let at = 0; at + FRAME_PREFIX_BYTES <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    if (length > max) return { count, refusal: { code: status.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs ${max})` } };
    if (at + FRAME_PREFIX_BYTES + length > body.length) break;
    if (body[at] === 1) return { count, refusal: { code: status.INTERNAL, details: 'grpc: compressed flag set with identity or empty encoding' } };
    let message: unknown;
    try {
      message = method.deserialize(body.subarray(at + FRAME_PREFIX_BYTES, at + FRAME_PREFIX_BYTES + length));
    } catch {
      return { count, refusal: { code: status.INTERNAL, details: 'Error deserializing request' } };
    }
    if (count > 0) return { count, refusal: { code: status.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${method.path}` } };
    request = message;
    count += 1;
    at += FRAME_PREFIX_BYTES + length;
  }
  return { request, count };
}

/** The length the first message declares (0 until its prefix has arrived). */
function firstDeclaredLength(chunks: Buffer[]): number {
  const head = chunks[0]!.length >= FRAME_PREFIX_BYTES ? chunks[0]! : Buffer.concat(chunks);
  return head.length >= FRAME_PREFIX_BYTES ? head.readUInt32BE(1) : 0;
}

/** As grpc-js reports it: the peer certificate of an authorized TLS connection, else nothing. */
export function authContext(stream: ServerHttp2Stream): AuthContext {
  const socket = stream.session?.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return {};
  const cert = socket.getPeerCertificate();
  return { transportSecurityType: 'ssl', ...(cert.raw && { sslPeerCertificate: cert }) };
}

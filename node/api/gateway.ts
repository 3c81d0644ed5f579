// etcd's JSON gateway: POST /v3/<service>/<method> with a JSON request body,
// answered with JSON (base64 bytes, 64-bit integers as strings, field names
// as in the .proto files). Requests run through the very same handlers as
// gRPC calls. Streaming methods (watch, lease keep-alive, snapshot) read a
// stream of JSON objects and write one `{"result": ...}` object per message.
import { EventEmitter } from 'node:events';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { Express, Request, Response } from 'express';
import { lookupGatewayRoute, type GatewayRoute } from './proto/gateway-routes.js';
import { GatewayJsonError, fromGatewayJson, toGatewayJson } from './proto/json.js';
import type { Pb } from './grpc/convert.js';
import { Encodable, PreEncoded } from './grpc/pre-encoded.js';
import { etcdServices, type EtcdServiceName } from './proto/load.js';
import { lockService } from './grpc/lock-service.js';
import { electionService } from './grpc/election-service.js';
import { authService, clusterService, kvService, leaseService, maintenanceService, watchService, type ServiceContext } from './grpc/services.js';

type Handler = (call: unknown, callback?: (err: { code: number; details: string } | null, res?: Pb) => void) => void;

/** grpc-gateway's mapping of gRPC codes to HTTP statuses. */
const HTTP_STATUS: Record<number, number> = {
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.UNAUTHENTICATED]: 401,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.INTERNAL]: 500,
};

function sendError(res: Response, code: number, message: string): void {
  res.status(HTTP_STATUS[code] ?? 500).json({ error: message, code, message });
}

export function mountGateway(app: Express, ctx: ServiceContext): void {
  const handlers: Record<string, Record<string, Handler>> = {
    KV: kvService(ctx) as Record<string, Handler>,
    Watch: watchService(ctx) as Record<string, Handler>,
    Lease: leaseService(ctx) as Record<string, Handler>,
    Cluster: clusterService(ctx) as Record<string, Handler>,
    Maintenance: maintenanceService(ctx) as Record<string, Handler>,
    Auth: authService(ctx) as Record<string, Handler>,
    Lock: lockService(ctx) as Record<string, Handler>,
    Election: electionService(ctx) as Record<string, Handler>,
  };
  // etcd's gateway takes only POST on its API paths.
  app.get(/^\/v3(beta|alpha)?\//, (_req: Request, res: Response) => {
    res.status(405).type('text/plain').send('Method Not Allowed\n');
  });
  app.post(/^\/v3(beta|alpha)?\//, (req: Request, res: Response) => {
    const route = lookupGatewayRoute(req.path, { legacyPrefixes: ['/v3beta/', '/v3alpha/'] });
    const handler = route && handlers[route.service]?.[route.method];
    if (!route) return sendError(res, GrpcStatus.NOT_FOUND, `no gateway method at ${req.path}`);
    if (!handler) return sendError(res, GrpcStatus.UNIMPLEMENTED, `etcdserver: ${route.service}.${route.method} is not supported by this server`);
    if (route.requestStream) return streamCall(req, res, route, handler, ctx);
    readBody(req, jsonLimit(ctx)).then(
      (text) => {
        let request: Pb;
        try {
          request = fromGatewayJson<Pb>(route.requestType, text.trim() === '' ? '{}' : text);
        } catch (err) {
          return sendError(res, GrpcStatus.INVALID_ARGUMENT, err instanceof GatewayJsonError ? err.message : `malformed JSON request: ${(err as Error).message}`);
        }
        const metadata = authMetadata(req);
        if (route.responseStream) return serverStream(res, route, handler, request, metadata);
        // A client that goes away before the answer cancels the call, as a gRPC
        // cancel would (a Lock or Campaign still waiting then leaves its queue).
        const call = Object.assign(new EventEmitter(), { request, metadata });
        const cancel = (): void => void call.emit('cancelled');
        res.once('close', cancel);
        handler(call, (err, out) => {
          res.off('close', cancel);
          if (err) return sendError(res, err.code, err.details);
          res.type('application/json').send(JSON.stringify(toGatewayJson(route.responseType, out ?? {})));
        });
      },
      (err: Error) => {
        res.setHeader('Connection', 'close');
        sendError(res, GrpcStatus.INVALID_ARGUMENT, err.message);
      },
    );
  });
}

/** etcd's gateway passes the Authorization header (a token from /v3/auth/authenticate) on as gRPC metadata. */
function authMetadata(req: Request): Metadata {
  const metadata = new Metadata();
  const token = req.headers.authorization;
  if (token) metadata.set('authorization', token);
  return metadata;
}

/** Bodies beyond this are cut off rather than drained after answering "too large". */
const DRAIN_LIMIT = 64 * 1024 * 1024;

/**
 * The largest JSON body read: base64 makes bytes a third longer, so a request
 * at the size limit still reaches the handlers, whose check is exact.
 */
function jsonLimit(ctx: ServiceContext): number {
  return Math.ceil((ctx.maxRequestBytes * 4) / 3) + 512 * 1024;
}

function readBody(req: Request, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    let tooLarge = false;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (tooLarge) {
        if (size > DRAIN_LIMIT) req.destroy();
        return;
      }
      if (size > limit) {
        // Answer at once, but keep reading (and discarding) so the client
        // gets the answer instead of a reset connection.
        tooLarge = true;
        chunks.length = 0;
        reject(new Error('etcdserver: request is too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!tooLarge) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/** A stand-in for a gRPC stream call whose writes go out as gateway JSON lines. */
class GatewayStream extends EventEmitter {
  private paused = false;

  constructor(
    private readonly res: Response,
    private readonly route: GatewayRoute,
    readonly request?: Pb,
    /** The request body the stream's messages come from (bidirectional streams only). */
    private readonly body?: Request,
    /** The caller's token, as a gRPC stream's metadata carries it. */
    readonly metadata: Metadata = new Metadata(),
  ) {
    super();
    res.on('drain', () => this.emit('drain'));
    res.on('close', () => this.emit('cancelled'));
  }

  // Flow control as on a gRPC stream: the handler stops reading while it is behind.
  pause(): this {
    this.paused = true;
    this.body?.pause();
    return this;
  }

  resume(): this {
    this.paused = false;
    this.body?.resume();
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }

  get writableNeedDrain(): boolean {
    return this.res.writableNeedDrain;
  }

  /** `written` runs once the line is handed to the connection (a Watch stream's send window waits for it). */
  write(msg: Pb | PreEncoded | Encodable, written?: () => void): boolean {
    // A handler's hand-encoded response is read back into the generic shape first (only etcdserverpb's hot streams encode by hand).
    const bytes = msg instanceof PreEncoded ? msg.bytes : msg instanceof Encodable ? msg.toBuffer() : undefined;
    const pb = bytes ? (etcdServices[this.route.service as EtcdServiceName][this.route.method]!.responseDeserialize(bytes) as Pb) : (msg as Pb);
    const line = `${JSON.stringify({ result: toGatewayJson(this.route.responseType, pb) })}\n`;
    return written ? this.res.write(line, () => written()) : this.res.write(line);
  }

  end(): void {
    this.res.end();
  }

  destroy(err?: Error & { code?: number }): void {
    if (err) this.res.write(`${JSON.stringify({ error: { code: err.code ?? 2, message: err.message } })}\n`);
    this.res.end();
  }
}

function serverStream(res: Response, route: GatewayRoute, handler: Handler, request: Pb, metadata: Metadata): void {
  res.type('application/json');
  handler(new GatewayStream(res, route, request, undefined, metadata));
}

/** Splits a byte stream of concatenated JSON objects (whitespace allowed between them). */
function* splitJsonObjects(buffer: { text: string }): Generator<string> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let consumed = 0;
  const t = buffer.text;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      if (depth === 0) throw new GatewayJsonError(`invalid character '"' looking for beginning of object`, '');
      inString = true;
    } else if (depth === 0 && ch !== '{' && !/\s/.test(ch!)) {
      // Only objects may follow one another; anything else ("[]", a bare word) can never become a request.
      throw new GatewayJsonError(`invalid character '${ch}' looking for beginning of value`, '');
    } else if (ch === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0 && start >= 0) {
        yield t.slice(start, i + 1);
        consumed = i + 1;
        start = -1;
      }
    }
  }
  buffer.text = t.slice(consumed);
}

function streamCall(req: Request, res: Response, route: GatewayRoute, handler: Handler, ctx: ServiceContext): void {
  res.type('application/json');
  const call = new GatewayStream(res, route, undefined, req, authMetadata(req));
  handler(call);
  const pending = { text: '' };
  let failed = false;
  // Like etcd's gateway: a body that cannot be read as JSON objects is
  // answered at once (500, code 2, before anything was streamed).
  const fail = (message: string, code: number): void => {
    failed = true;
    if (!res.headersSent) sendError(res, code, message);
    else call.destroy(Object.assign(new Error(message), { code }));
    req.destroy();
  };
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    if (failed) return;
    pending.text += chunk;
    if (pending.text.length > jsonLimit(ctx)) return fail('etcdserver: request is too large', GrpcStatus.INVALID_ARGUMENT);
    let texts: string[];
    try {
      texts = [...splitJsonObjects(pending)];
    } catch (err) {
      return fail((err as Error).message, GrpcStatus.UNKNOWN);
    }
    for (const text of texts) {
      try {
        call.emit('data', fromGatewayJson<Pb>(route.requestType, text));
      } catch (err) {
        return fail(err instanceof GatewayJsonError ? err.message : 'malformed JSON', GrpcStatus.INVALID_ARGUMENT);
      }
    }
  });
  req.on('end', () => {
    if (!failed && pending.text.trim() !== '') fail('unexpected EOF', GrpcStatus.UNKNOWN);
  });
  // The stream lives until the client goes away (the response closes), not
  // until its request body ends: `curl -d '{...}' /v3/watch` keeps watching.
}

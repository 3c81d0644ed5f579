// Raw clients for the wire fuzz test: gRPC calls as bare HTTP/2 streams
// (the body is sent exactly as given, broken frames included) and gateway
// POSTs, each answered or declared hung at a deadline.
import { connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { request as httpRequest } from 'node:http';

export interface GrpcAnswer {
  /** grpc-status from the trailers (or trailers-only headers); undefined if none came. */
  status?: number;
  message: string;
  /** Complete response messages received. */
  messages: Buffer[];
  /** The HTTP :status of the answer (a non-gRPC request is answered as HTTP). */
  httpStatus?: number;
  /** The stream was reset or the session failed instead of ending with a status. */
  reset?: string;
  /** This client reset the stream half-way through the body, as asked. */
  cancelled?: boolean;
}

export class RawGrpc {
  private session?: ClientHttp2Session;

  constructor(private readonly authority: string) {}

  private open(): ClientHttp2Session {
    if (!this.session || this.session.closed || this.session.destroyed) {
      const s = connect(this.authority);
      s.on('error', () => undefined);
      this.session = s;
    }
    return this.session;
  }

  /**
   * One call: headers, the body in `chunks` writes, end of stream. Resolves
   * with the answer, or with undefined when none is complete at the deadline.
   */
  call(
    path: string,
    body: Buffer,
    opts: { headers?: Record<string, string | undefined>; chunks?: number; deadlineMs: number; cancelHalfway?: boolean },
  ): Promise<GrpcAnswer | undefined> {
    const session = this.open();
    return new Promise((resolve) => {
      const headers: Record<string, string> = {
        [h2.HTTP2_HEADER_METHOD]: 'POST',
        [h2.HTTP2_HEADER_PATH]: path,
        'content-type': 'application/grpc',
        te: 'trailers',
      };
      // A header given as undefined is left out.
      for (const [k, v] of Object.entries(opts.headers ?? {})) {
        if (v === undefined) delete headers[k];
        else headers[k] = v;
      }
      const req = session.request(headers);
      const meta: Record<string, unknown> = {};
      const data: Buffer[] = [];
      let settled = false;
      const finish = (answer: GrpcAnswer | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(answer);
      };
      const timer = setTimeout(() => {
        finish(undefined);
        req.close(h2.NGHTTP2_CANCEL);
      }, opts.deadlineMs);
      req.on('response', (h) => Object.assign(meta, h));
      req.on('trailers', (t) => Object.assign(meta, t));
      req.on('data', (d: Buffer) => data.push(d));
      req.on('error', (err: Error) => finish({ message: '', messages: [], reset: err.message }));
      req.on('close', () => {
        const raw = meta['grpc-status'];
        const httpStatus = meta[h2.HTTP2_HEADER_STATUS];
        finish({
          ...(raw !== undefined && { status: Number(raw) }),
          ...(httpStatus !== undefined && { httpStatus: Number(httpStatus) }),
          message: decodeURIComponent(String(meta['grpc-message'] ?? '')),
          messages: splitFrames(Buffer.concat(data)),
          ...(raw === undefined && httpStatus === undefined && { reset: `stream closed with code ${req.rstCode}, no HTTP status and no grpc-status` }),
        });
      });
      if (opts.cancelHalfway) {
        req.write(body.subarray(0, body.length >> 1));
        setImmediate(() => {
          finish({ message: '', messages: [], cancelled: true });
          req.close(h2.NGHTTP2_CANCEL);
        });
        return;
      }
      const n = Math.max(1, Math.min(opts.chunks ?? 1, body.length));
      const size = Math.ceil(body.length / n);
      for (let at = 0; at < body.length; at += size) req.write(body.subarray(at, at + size));
      req.end();
    });
  }

  close(): void {
    this.session?.destroy();
  }
}

function splitFrames(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (buf.length - pos >= 5) {
    const length = buf.readUInt32BE(pos + 1);
    if (buf.length - pos - 5 < length) break;
    out.push(buf.subarray(pos + 5, pos + 5 + length));
    pos += 5 + length;
  }
  return out;
}

export interface GatewayAnswer {
  status: number;
  /** The whole body, or for a stream its first line. */
  text: string;
}

/**
 * A gateway POST. A unary route must be answered whole before the deadline;
 * a stream (/v3/watch) must send its status and a first line, or end.
 * Resolves with undefined when it did not.
 */
export function gatewayPost(base: string, path: string, body: Buffer, opts: { deadlineMs: number; stream: boolean }): Promise<GatewayAnswer | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer: GatewayAnswer | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(answer);
    };
    const req = httpRequest(`${base}${path}`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        if (opts.stream && text.includes('\n')) finish({ status: res.statusCode ?? 0, text: text.slice(0, text.indexOf('\n')) });
      });
      res.on('end', () => finish({ status: res.statusCode ?? 0, text }));
      res.on('error', () => finish({ status: res.statusCode ?? 0, text }));
    });
    const timer = setTimeout(() => finish(undefined), opts.deadlineMs);
    req.on('error', (err) => finish({ status: 0, text: `request failed: ${err.message}` }));
    req.end(body);
  });
}

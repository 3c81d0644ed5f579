// gRPC server metrics with the names, labels and meaning of
// go-grpc-prometheus, which etcd serves and the etcd mixin's alerts read:
// grpc_server_started_total when a call arrives, grpc_server_handled_total
// and grpc_server_handling_seconds when the server has finished it, with the
// gRPC status code's name (OK, Unavailable, ...) as grpc_code, and
// grpc_server_msg_received_total / grpc_server_msg_sent_total per message
// (a unary call counts one of each; a stream every message either way).
import { status, type ServiceDefinition, type UntypedHandleCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { Counter, type Registry } from 'prom-client';
import { FastHistogram } from './fast-histogram.js';

export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

export interface GrpcMetrics {
  /** Wraps every handler of one service so its calls are counted and timed. */
  instrument(definition: ServiceDefinition, impl: UntypedServiceImplementation): UntypedServiceImplementation;
}

// Status codes by their go-grpc-prometheus names.
const CODE_NAMES: Record<number, string> = {
  [status.OK]: 'OK',
  [status.CANCELLED]: 'Canceled',
  [status.UNKNOWN]: 'Unknown',
  [status.INVALID_ARGUMENT]: 'InvalidArgument',
  [status.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [status.NOT_FOUND]: 'NotFound',
  [status.ALREADY_EXISTS]: 'AlreadyExists',
  [status.PERMISSION_DENIED]: 'PermissionDenied',
  [status.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [status.FAILED_PRECONDITION]: 'FailedPrecondition',
  [status.ABORTED]: 'Aborted',
  [status.OUT_OF_RANGE]: 'OutOfRange',
  [status.UNIMPLEMENTED]: 'Unimplemented',
  [status.INTERNAL]: 'Internal',
  [status.UNAVAILABLE]: 'Unavailable',
  [status.DATA_LOSS]: 'DataLoss',
  [status.UNAUTHENTICATED]: 'Unauthenticated',
};

/** The go-grpc-prometheus name of a status code (codes.Code.String() in Go). */
export function grpcCodeName(code: number): string {
  return CODE_NAMES[code] ?? `Code(${code})`;
}

function grpcType(requestStream: boolean, responseStream: boolean): GrpcType {
  if (requestStream) return responseStream ? 'bidi_stream' : 'client_stream';
  return responseStream ? 'server_stream' : 'unary';
}

/** The code an error passed to a callback or to call.destroy() carries (UNKNOWN without one). */
function errorCode(err: unknown): number {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : status.UNKNOWN;
}

/**
 * Set on a stream call by instrument(): a writer that bypasses call.write
 * (see node/api/grpc/stream-outbox.ts) reports the messages it sent here.
 */
export const COUNT_SENT = Symbol('kvorum.grpcCountSent');

/** Counts of one method's calls not yet handed to prom-client (see createGrpcMetrics). */
interface MethodCounts {
  labels: Record<string, string>;
  started: number;
  received: number;
  sent: number;
  /** Handled calls by status code, each with its full label set. */
  handled: Map<number, { labels: Record<string, string>; n: number }>;
}

export function createGrpcMetrics(registry: Registry): GrpcMetrics {
  const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
  // Every call would touch several counters; prom-client hashes and
  // validates a label set per inc(), so calls and messages are counted in
  // plain fields here and added to the counters when the registry is read
  // (collect).
  const methods: MethodCounts[] = [];
  for (const [name, help, field] of [
    ['grpc_server_started_total', 'Total number of RPCs started on the server.', 'started'],
    ['grpc_server_msg_received_total', 'Total number of RPC stream messages received on the server.', 'received'],
    ['grpc_server_msg_sent_total', 'Total number of gRPC stream messages sent by the server.', 'sent'],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        for (const m of methods) {
          if (m[field] === 0) continue;
          this.inc(m.labels, m[field]);
          m[field] = 0;
        }
      },
    });
  }
  new Counter({
    name: 'grpc_server_handled_total',
    help: 'Total number of RPCs completed on the server, regardless of success or failure.',
    labelNames: [...labelNames, 'grpc_code'],
    registers: [registry],
    collect() {
      for (const m of methods) {
        for (const h of m.handled.values()) {
          if (h.n === 0) continue;
          this.inc(h.labels, h.n);
          h.n = 0;
        }
      }
    },
  });
  const handling = new FastHistogram(
    'grpc_server_handling_seconds',
    'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
    // Prometheus' default buckets, as go-grpc-prometheus uses.
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registry,
  );

  return {
    instrument(definition, impl) {
      const wrapped: UntypedServiceImplementation = {};
      for (const [method, handler] of Object.entries(impl)) {
        const def = definition[method];
        if (!def) {
          wrapped[method] = handler;
          continue;
        }
        // path is "/etcdserverpb.KV/Range".
        const service = def.path.split('/')[1] ?? '';
        const labels = { grpc_type: grpcType(def.requestStream, def.responseStream), grpc_service: service, grpc_method: method };
        const counts: MethodCounts = { labels, started: 0, received: 0, sent: 0, handled: new Map() };
        methods.push(counts);
        const timing = handling.child(labels);
        const handled = (code: number): void => {
          let h = counts.handled.get(code);
          if (!h) {
            h = { labels: { ...labels, grpc_code: grpcCodeName(code) }, n: 0 };
            counts.handled.set(code, h);
          }
          h.n += 1;
        };
        const begin = (): ((code: number) => void) => {
          counts.started += 1;
          const t0 = performance.now();
          let done = false;
          return (code) => {
            if (done) return;
            done = true;
            timing.observe((performance.now() - t0) / 1000);
            handled(code);
          };
        };
        wrapped[method] = (def.responseStream || def.requestStream ? instrumentStream(handler, begin, counts) : instrumentUnary(handler, begin, counts)) as UntypedHandleCall;
      }
      return wrapped;
    },
  };
}

type Finish = (code: number) => void;

/** What the wrappers count messages into. */
type MessageCounts = Pick<MethodCounts, 'received' | 'sent'>;

function instrumentUnary(handler: UntypedHandleCall, begin: () => Finish, counts: MessageCounts): (call: unknown, callback: (err: unknown, value?: unknown) => void) => void {
  const h = handler as unknown as (call: unknown, callback: (err: unknown, value?: unknown) => void) => void;
  return (call, callback) => {
    const finish = begin();
    counts.received += 1;
    // A client that gives up ends the call for the server too, as a Go
    // handler returns when its context is cancelled.
    (call as { on?(event: string, listener: () => void): unknown }).on?.('cancelled', () => finish(status.CANCELLED));
    h(call, (err: unknown, value?: unknown) => {
      finish(err ? errorCode(err) : status.OK);
      if (!err) counts.sent += 1;
      callback(err, value);
    });
  };
}

interface StreamCall {
  write?(...args: unknown[]): boolean;
  push?(chunk: unknown, ...args: unknown[]): boolean;
  [COUNT_SENT]?: (messages: number) => void;
  end(...args: unknown[]): unknown;
  destroy(err?: unknown): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** A stream is handled when the server ends it (OK), fails it (its code) or the client cancels it. */
function instrumentStream(handler: UntypedHandleCall, begin: () => Finish, counts: MessageCounts): (call: StreamCall, callback?: (err: unknown, value?: unknown) => void) => void {
  const h = handler as unknown as (call: StreamCall, callback?: (err: unknown, value?: unknown) => void) => void;
  return (call, callback) => {
    const finish = begin();
    // grpc-js pushes each request message into the call (null: the end);
    // counting there leaves the call's flow as the handler sets it.
    const push = call.push?.bind(call);
    if (push) {
      call.push = (chunk: unknown, ...rest: unknown[]) => {
        if (chunk !== null) counts.received += 1;
        return push(chunk, ...rest);
      };
    }
    const write = call.write?.bind(call);
    if (write) {
      call.write = (...args: unknown[]) => {
        counts.sent += 1;
        return write(...args);
      };
    }
    call[COUNT_SENT] = (messages) => {
      counts.sent += messages;
    };
    const end = call.end.bind(call);
    const destroy = call.destroy.bind(call);
    call.end = (...args: unknown[]) => {
      finish(status.OK);
      return end(...args);
    };
    call.destroy = (err?: unknown) => {
      finish(err ? errorCode(err) : status.OK);
      return destroy(err);
    };
    call.on('cancelled', () => finish(status.CANCELLED));
    if (!callback) {
      h(call);
      return;
    }
    // Client streams answer through a callback, as unary calls do.
    h(call, (err: unknown, value?: unknown) => {
      finish(err ? errorCode(err) : status.OK);
      if (!err) counts.sent += 1;
      callback(err, value);
    });
  };
}

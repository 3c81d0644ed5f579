// The one place that reaches into @grpc/grpc-js below its public API: its
// server call class (BaseServerInterceptingCall, in server-interceptors.js),
// which the compressed-flag check, pre-framed responses and the stream
// outbox each hook. grpc-js is pinned by the lockfile; callers fail loudly
// (or fall back) when the class is not where it is looked for.
import { createRequire } from 'node:module';

let serverCall: (abstract new (...args: never[]) => unknown) | null | undefined;

/** grpc-js's server call class, or null when this grpc-js has none where it is looked for. */
export function grpcServerCallClass(): (abstract new (...args: never[]) => unknown) | null {
  if (serverCall === undefined) {
    try {
      const require = createRequire(import.meta.url);
      const internals = createRequire(require.resolve('@grpc/grpc-js'))('./server-interceptors.js') as { BaseServerInterceptingCall?: unknown };
      const found = internals.BaseServerInterceptingCall;
      serverCall = typeof found === 'function' ? (found as abstract new (...args: never[]) => unknown) : null;
    } catch {
      serverCall = null;
    }
  }
  return serverCall;
}

/** The prototype of that class, to wrap one of its methods (undefined when there is none). */
export function grpcServerCallPrototype<T>(): T | undefined {
  return grpcServerCallClass()?.prototype as T | undefined;
}

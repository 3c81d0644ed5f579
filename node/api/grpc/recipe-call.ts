// Unary calls of the Lock and Election services. etcd serves these through
// an in-process clientv3, so every error reaches the caller as gRPC code
// UNKNOWN carrying the error's text ("etcdserver: requested lease not
// found", "election: not leader"); so do ours. A call's AbortSignal fires
// when the client cancels or its deadline passes, which ends any wait.
import { status, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ServerError } from '../../server/errors.js';
import type { EtcdServer } from '../../server/etcd-server.js';
import { deleteRangeAccess, rangeAccess, txnAccess, type LeaseKeys } from '../../server/auth/request-access.js';
import { callerOf, checkCall, type CallIdentity, type CertAuth } from './caller.js';
import type { Pb } from './convert.js';
import type { Keyspace } from './key-queue.js';

/** An error the recipes answer with its text, as etcd's concurrency package words it. */
export class RecipeError extends Error {
  override readonly name = 'RecipeError';
}

/** The reason a call's signal carries when its client went away. */
export class CallCancelled extends Error {
  override readonly name = 'CallCancelled';
}

export function recipeUnary(logger: Logger, handle: (req: Pb, signal: AbortSignal, call: CallIdentity) => Promise<Pb>) {
  return (call: ServerUnaryCall<Pb, Pb>, callback: sendUnaryData<Pb>): void => {
    const abort = new AbortController();
    // The gateway's stand-in calls have no events; they run to the end.
    if (typeof call.on === 'function') call.on('cancelled', () => abort.abort(new CallCancelled('context canceled')));
    // (A synchronous throw becomes a rejection, so it is answered the same way.)
    Promise.resolve()
      .then(() => handle(call.request, abort.signal, call))
      .then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (!(err instanceof RecipeError || err instanceof ServerError || err instanceof CallCancelled)) {
          logger.error({ err }, 'unexpected error serving a lock or election call');
        }
        callback({ code: status.UNKNOWN, details: err instanceof Error ? err.message : String(err) });
      },
    );
  };
}

/**
 * The member operations as one caller may use them: with auth on, each read,
 * txn, delete and watch is checked against the caller's permissions like the
 * same call on the KV and Watch services (etcd's lock and election servers
 * pass the caller's token on to every request they make).
 */
export function callerKeyspace(server: EtcdServer, call: CallIdentity, clientCertAuth: CertAuth): Keyspace {
  const leaseKeys: LeaseKeys = (id) => server.store.leaseTimeToLive(id, true)?.keys ?? [];
  return {
    range: (req) => server.range(req, () => checkCall(server, call, clientCertAuth, () => rangeAccess(req))),
    txn: (req) => server.txn(req, () => checkCall(server, call, clientCertAuth, () => txnAccess(req, leaseKeys))),
    deleteRange: async (req) => server.deleteRange(req, checkCall(server, call, clientCertAuth, () => deleteRangeAccess(req))),
    leaseGrant: async (ttl) => {
      callerOf(server, call, clientCertAuth);
      return server.leaseGrant(ttl);
    },
    watch: (req, callback) => {
      checkCall(server, call, clientCertAuth, () => rangeAccess(req));
      return server.watchHub.watch(req, callback);
    },
  };
}

/** A decoded bytes field (a Buffer from gRPC; base64 text from the JSON gateway). */
export function bytesField(value: unknown): Buffer {
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'base64');
  throw new ServerError('INVALID_ARGUMENT', 'etcdserver: malformed bytes field');
}

/** The lease ID as etcd's recipes spell it in keys: lower-case hex, no padding (`%x`). */
export function leaseHex(id: bigint): string {
  return id.toString(16);
}

/** etcd's default session TTL in seconds: a call naming lease 0 gets a fresh lease of it. */
export const DEFAULT_SESSION_TTL = 60;

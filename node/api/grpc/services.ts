// The etcd v3 gRPC services (KV, Watch, Lease, Cluster, Maintenance, Auth)
// on top of one EtcdServer. Handlers translate messages, enforce the request
// size limit, and map server errors to gRPC statuses with etcd's messages,
// which clients recognise by their text.
import { status, type ServerDuplexStream, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Watch, WatchBatch, WatchFilter } from '../../mvcc/watch.js';
import type { EtcdServer } from '../../server/etcd-server.js';
import { ServerError, type StatusCode } from '../../server/errors.js';
import { validateTxn } from '../../mvcc/validate.js';
import type { LeaderForwarder } from './forward.js';
import { callerOf, checkCall, type CallIdentity, type CertAuth } from './caller.js';
import type { PermType } from '../../server/auth/key-permissions.js';
import { deleteRangeAccess, leaseAccess, putAccess, rangeAccess, txnAccess, type LeaseKeys } from '../../server/auth/request-access.js';
import { PreEncoded } from './pre-encoded.js';
import { SendWindow } from './send-window.js';
import { FAN_OUT_PACING, StreamOutbox } from './stream-outbox.js';
import { encodeHeaderField, encodeSnapshotChunk, WatchEventsResponse } from './watch-wire.js';
import {
  deleteRangeRequest,
  deleteRangeResponsePb,
  eventPb,
  headerPb,
  int,
  memberPb,
  putRequest,
  putResponsePb,
  rangeRequest,
  rangeResponsePb,
  str64,
  txnRequest,
  txnPayloadSize,
  txnResponsePb,
  type Pb,
  leaseId,
} from './convert.js';

export interface ServiceContext {
  server: EtcdServer;
  /** Sends membership changes to the leader when this member is a follower. */
  forwarder?: LeaderForwarder;
  logger: Logger;
  version: string;
  maxRequestBytes: number;
  /** --client-cert-auth: a verified client certificate's CN names the caller when no token does. */
  clientCertAuth?: CertAuth;
}

const GRPC_CODES: Record<StatusCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  OUT_OF_RANGE: status.OUT_OF_RANGE,
  NOT_FOUND: status.NOT_FOUND,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  INTERNAL: status.INTERNAL,
};

export function toGrpcError(err: unknown, logger: Logger): { code: status; details: string } {
  if (err instanceof Error && typeof (err as { grpcCode?: unknown }).grpcCode === 'number') {
    return { code: (err as unknown as { grpcCode: status }).grpcCode, details: err.message };
  }
  if (err instanceof ServerError || (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code in GRPC_CODES)) {
    return { code: GRPC_CODES[(err as ServerError).code], details: err.message };
  }
  logger.error({ err }, 'unexpected error serving a request');
  return { code: status.INTERNAL, details: `etcdserver: ${err instanceof Error ? err.message : String(err)}` };
}

/** Wraps an async unary handler: validation errors and server errors become statuses. */
function unary(ctx: ServiceContext, handle: (req: Pb, call: CallIdentity) => Promise<Pb> | Pb) {
  return (call: ServerUnaryCall<Pb, Pb>, callback: sendUnaryData<Pb>): void => {
    const fail = (err: unknown): void => callback(toGrpcError(err, ctx.logger));
    let result: Promise<Pb> | Pb;
    try {
      result = handle(call.request, call);
    } catch (err) {
      fail(err);
      return;
    }
    // Handlers answer from a later turn either way; a promise settles the call directly.
    if (result instanceof Promise) result.then((res) => callback(null, res), fail);
    else queueMicrotask(() => callback(null, result));
  };
}

function checkSize(ctx: ServiceContext, size: number): void {
  if (size > ctx.maxRequestBytes) throw new ServerError('INVALID_ARGUMENT', 'etcdserver: request is too large');
}

/** The keys attached to a lease now, for the permission checks of lease puts and revokes. */
function leaseKeysOf(s: EtcdServer): LeaseKeys {
  return (id) => s.store.leaseTimeToLive(id, true)?.keys ?? [];
}

export function kvService(ctx: ServiceContext): UntypedServiceImplementation {
  const s = ctx.server;
  const certAuth = ctx.clientCertAuth ?? false;
  const leaseKeys = leaseKeysOf(s);
  return {
    Range: unary(ctx, async (req, call) => {
      const range = rangeRequest(req);
      return rangeResponsePb(await s.range(range, () => checkCall(s, call, certAuth, () => rangeAccess(range))), s.header());
    }),
    Put: unary(ctx, async (req, call) => {
      const put = putRequest(req);
      checkSize(ctx, put.key.length + (put.value?.length ?? 0));
      const authRevision = checkCall(s, call, certAuth, () => putAccess(put, leaseKeys));
      const res = await s.put(put, authRevision);
      return putResponsePb(res, { ...s.header(), revision: res.header.revision });
    }),
    DeleteRange: unary(ctx, async (req, call) => {
      const del = deleteRangeRequest(req);
      // Like every request that goes through the log, as etcd checks it.
      checkSize(ctx, del.key.length + (del.rangeEnd?.length ?? 0));
      const authRevision = checkCall(s, call, certAuth, () => deleteRangeAccess(del));
      const res = await s.deleteRange(del, authRevision);
      return deleteRangeResponsePb(res, { ...s.header(), revision: res.header.revision });
    }),
    Txn: unary(ctx, async (req, call) => {
      const txn = txnRequest(req);
      // etcd checks a txn's shape before proposing it (the store checks again
      // when applying): a refused txn spends no log entry, and one nested past
      // the op limit never reaches the log's encoder, which has a depth limit.
      validateTxn(txn, s.limits.maxTxnOps);
      checkSize(ctx, txnPayloadSize(txn));
      const res = await s.txn(txn, () => checkCall(s, call, certAuth, () => txnAccess(txn, leaseKeys)));
      return txnResponsePb(res, { ...s.header(), revision: res.header.revision });
    }),
    Compact: unary(ctx, async (req, call) => {
      // etcd 3.4 checks no permission for compaction, but refuses an unknown token.
      callerOf(s, call, certAuth);
      const res = await s.compact(int(req.revision, 'revision'), req.physical === true);
      return { header: headerPb({ ...s.header(), revision: res.header.revision }) };
    }),
  };
}

export function leaseService(ctx: ServiceContext): UntypedServiceImplementation {
  const s = ctx.server;
  const certAuth = ctx.clientCertAuth ?? false;
  const leaseKeys = leaseKeysOf(s);
  return {
    LeaseGrant: unary(ctx, async (req, call) => {
      callerOf(s, call, certAuth);
      const res = await s.leaseGrant(int(req.TTL, 'TTL'), leaseId(req.ID, 'ID'));
      return { header: headerPb(s.header()), ID: str64(res.id), TTL: str64(res.ttl), error: res.error ?? '' };
    }),
    LeaseRevoke: unary(ctx, async (req, call) => {
      const id = leaseId(req.ID, 'ID');
      // Revoking deletes the lease's keys: it needs write on each of them.
      const authRevision = checkCall(s, call, certAuth, () => leaseAccess(id, leaseKeys));
      await s.leaseRevoke(id, authRevision);
      return { header: headerPb(s.header()) };
    }),
    LeaseTimeToLive: unary(ctx, async (req) => {
      const res = await s.leaseTimeToLive(leaseId(req.ID, 'ID'), req.keys === true);
      return {
        header: headerPb(s.header()),
        ID: str64(res.id),
        TTL: str64(res.ttl),
        grantedTTL: str64(res.grantedTtl),
        keys: res.keys.map((k) => Buffer.from(k)),
      };
    }),
    LeaseLeases: unary(ctx, async () => ({ header: headerPb(s.header()), leases: (await s.leaseLeases()).map((id) => ({ ID: str64(id) })) })),
    LeaseKeepAlive: (call: ServerDuplexStream<Pb, Pb>) => {
      call.on('data', (req: Pb) => {
        let id = 0n;
        try {
          id = leaseId(req.ID, 'ID');
        } catch (err) {
          call.destroy(Object.assign(new Error((err as Error).message), { code: status.INVALID_ARGUMENT }));
          return;
        }
        s.leaseKeepAlive(id).then(
          (ttl) => call.write({ header: headerPb(s.header()), ID: str64(id), TTL: str64(ttl) }),
          (err: unknown) => {
            // An unknown or expired lease is answered with TTL 0, as etcd does.
            if (err instanceof ServerError && err.code === 'NOT_FOUND') {
              call.write({ header: headerPb(s.header()), ID: str64(id), TTL: '0' });
            } else {
              const e = toGrpcError(err, ctx.logger);
              call.destroy(Object.assign(new Error(e.details), { code: e.code }));
            }
          },
        );
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  };
}

/** Watch requests handled per event-loop turn on one stream. */
const REQUESTS_PER_TURN = 500;
/** Watch requests read ahead of handling on one stream before it stops reading. */
const MAX_PENDING_REQUESTS = 4096;
/** Bytes a Watch stream may queue for a slow client before its watchers pause (see send-window.ts). */
const WATCH_SEND_WINDOW_BYTES = 1024 * 1024;
/** A watcher's unwritten response takes later revisions' events while it is smaller than this. */
const MAX_COALESCED_BYTES = 64 * 1024;

export function watchService(ctx: ServiceContext): UntypedServiceImplementation {
  const s = ctx.server;
  // One revision's events reach many watchers on many streams: their common
  // header is encoded once (it changes with the revision and the term).
  let cachedHeader: { revision: number; raftTerm: number; field: Uint8Array } = { revision: -1, raftTerm: -1, field: new Uint8Array() };
  const headerAt = (revision: number): Uint8Array => {
    if (cachedHeader.revision !== revision || cachedHeader.raftTerm !== s.raftTerm) {
      const h = s.header();
      cachedHeader = { revision, raftTerm: h.raftTerm, field: encodeHeaderField({ ...h, revision }) };
    }
    return cachedHeader.field;
  };
  return {
    Watch: (call: ServerDuplexStream<Pb, Pb | PreEncoded>) => {
      const certAuth = ctx.clientCertAuth ?? false;
      const watchers = new Map<number, Watch>();
      let nextId = 0;
      let closed = false;
      const window = new SendWindow(WATCH_SEND_WINDOW_BYTES, (id) => watchers.get(id)?.resume());
      // Every response of the stream goes through the outbox, so they keep their order.
      const outbox = new StreamOutbox(call, (bytes) => window.taken(bytes), FAN_OUT_PACING);
      const send = (msg: Pb | PreEncoded): void => {
        if (!closed) outbox.send(msg);
      };
      // Each watcher's events response still in the outbox, while it may grow (see StreamOutbox.epoch).
      const unwritten = { epoch: -1, responses: new Map<number, WatchEventsResponse>() };
      const deliver = (streamId: number, batch: WatchBatch): boolean | void => {
        let msg: Pb | WatchEventsResponse;
        if (batch.canceled || batch.progressNotify || batch.events.length === 0) {
          msg = {
            header: headerPb({ ...s.header(), revision: batch.header.revision }),
            watch_id: str64(streamId),
            events: batch.events.map(eventPb),
          };
          if (batch.canceled) {
            msg.canceled = true;
            watchers.delete(streamId);
            window.forget(streamId);
            if (batch.compactRevision) msg.compact_revision = str64(batch.compactRevision);
            if (batch.cancelReason) msg.cancel_reason = batch.cancelReason;
          }
        } else {
          // The hot path: events encoded once and shared by every watcher they go to.
          if (closed) return undefined;
          const header = headerAt(batch.header.revision);
          if (unwritten.epoch !== outbox.epoch) {
            unwritten.epoch = outbox.epoch;
            unwritten.responses.clear();
          }
          const queued = unwritten.responses.get(streamId);
          if (queued !== undefined && queued.size < MAX_COALESCED_BYTES) {
            // This watcher's response for an earlier revision is not written
            // yet: the later revision rides in it, as etcd sends a watcher
            // that fell behind several revisions in one response.
            const grew = queued.append(header, batch.events);
            outbox.grew(grew);
            return window.enqueue(streamId, grew) ? false : undefined;
          }
          const response = new WatchEventsResponse(header, streamId, batch.events);
          if (outbox.direct) unwritten.responses.set(streamId, response);
          msg = response;
        }
        if (closed) return undefined;
        // A slow reader pauses the watcher once the stream's window is full.
        return window.enqueue(streamId, outbox.send(msg)) ? false : undefined;
      };
      // A progress notification at revision R promises every event up to R
      // was sent, so it waits until each watcher on the stream has caught up
      // (one still replaying history or paused by a slow reader has not).
      let progressWaiting = false;
      const answerProgress = (): void => {
        if (closed) return;
        if ([...watchers.values()].every((w) => w.synced)) {
          progressWaiting = false;
          send({ header: headerPb({ ...s.header(), revision: s.watchHub.progressRevision() }), watch_id: '-1' });
        } else if (!progressWaiting) {
          progressWaiting = true;
          const retry = (): void => {
            progressWaiting = false;
            answerProgress();
          };
          setTimeout(retry, 10);
        }
      };
      const handle = (req: Pb): void => {
        try {
          if (req.create_request) {
            const c = req.create_request as Pb;
            const requested = int(c.watch_id, 'watch_id');
            const id = requested > 0 ? requested : nextId++;
            if (watchers.has(id)) throw new ServerError('INVALID_ARGUMENT', 'etcdserver: duplicate watch ID');
            const filters = ((c.filters as (string | number)[] | undefined) ?? []).map((f) => (f === 'NOPUT' || f === 0 ? 'NOPUT' : 'NODELETE')) as WatchFilter[];
            // As etcd: an empty key is the smallest key, "\0" (the range end "every key from here") included.
            const given = c.key as Buffer | undefined;
            const key = given && given.length > 0 ? given : Buffer.from([0]);
            const rangeEnd = c.range_end as Buffer | undefined;
            const startRevision = watchStartRevision(c.start_revision);
            if (!watchPermitted(s, call, certAuth, given ?? Buffer.alloc(0), rangeEnd)) {
              // As etcd: created and canceled at once, with the reason.
              send({ header: headerPb(s.header()), watch_id: str64(id), created: true, canceled: true, cancel_reason: WATCH_PERMISSION_DENIED });
              return;
            }
            // Announce the watch before any event for it can be sent.
            send({ header: headerPb(s.header()), watch_id: str64(id), created: true });
            const watcher = s.watchHub.watch(
              {
                key,
                ...(rangeEnd && rangeEnd.length > 0 && { rangeEnd }),
                startRevision,
                prevKv: c.prev_kv === true,
                filters,
                progressNotify: c.progress_notify === true,
              },
              (batch) => deliver(id, batch),
            );
            watchers.set(id, watcher);
          } else if (req.cancel_request) {
            const id = int((req.cancel_request as Pb).watch_id, 'watch_id');
            const w = watchers.get(id);
            if (w) {
              w.cancel();
              watchers.delete(id);
              window.forget(id);
            }
            send({ header: headerPb(s.header()), watch_id: str64(id), canceled: true });
          } else if (req.progress_request) {
            answerProgress();
          }
        } catch (err) {
          const e = toGrpcError(err, ctx.logger);
          send({ header: headerPb(s.header()), watch_id: '-1', canceled: true, cancel_reason: e.details });
        }
      };
      // Requests are taken in bounded turns: a client that sends 100k creates
      // at once must not hold the event loop (Raft's ticks and heartbeats run
      // on it), and while the client does not read our answers we stop
      // reading its requests, so neither side buffers without bound (HTTP/2
      // flow control then holds the client back, as etcd's full send queue does).
      let pending: Pb[] = [];
      let head = 0;
      let turnScheduled = false;
      let waitingForDrain = false;
      const runTurn = (): void => {
        turnScheduled = false;
        let handled = 0;
        while (head < pending.length && !closed && !waitingForDrain && handled < REQUESTS_PER_TURN) {
          const req = pending[head]!;
          pending[head++] = undefined as unknown as Pb;
          handle(req);
          handled++;
          if (outbox.needDrain) {
            waitingForDrain = true;
            outbox.onceDrain(() => {
              waitingForDrain = false;
              scheduleTurn();
            });
          }
        }
        if (head === pending.length) {
          pending = [];
          head = 0;
        }
        if (pending.length - head < MAX_PENDING_REQUESTS && call.isPaused()) call.resume();
        if (head < pending.length && !waitingForDrain) scheduleTurn();
      };
      const scheduleTurn = (): void => {
        if (turnScheduled || closed) return;
        turnScheduled = true;
        setImmediate(runTurn);
      };
      call.on('data', (req: Pb) => {
        pending.push(req);
        if (pending.length - head >= MAX_PENDING_REQUESTS) call.pause();
        scheduleTurn();
      });
      const close = (): void => {
        if (closed) return;
        closed = true;
        for (const w of watchers.values()) w.cancel();
        watchers.clear();
        pending = [];
        head = 0;
      };
      call.on('end', () => {
        // A client that half-closes still gets answers to what it sent before (a bounded backlog).
        while (head < pending.length && !closed) handle(pending[head++]!);
        close();
        outbox.flush();
        call.end();
      });
      call.on('cancelled', close);
      call.on('error', close);
      call.on('close', close);
    },
  };
}

/** etcd's cancel reason for a watch its caller may not read (the gRPC error's text). */
const WATCH_PERMISSION_DENIED = 'rpc error: code = PermissionDenied desc = etcdserver: permission denied';

/** Whether the stream's caller may read the watched range (an unknown token may not). */
function watchPermitted(s: EtcdServer, call: CallIdentity, certAuth: CertAuth, key: Uint8Array, rangeEnd: Uint8Array | undefined): boolean {
  if (!s.authGate.enabled) return true;
  try {
    return s.authGate.allows(callerOf(s, call, certAuth), rangeAccess({ key, ...(rangeEnd && rangeEnd.length > 0 && { rangeEnd }) }));
  } catch {
    return false;
  }
}

/**
 * A watch's start revision. Any int64 is valid (etcd takes 2^63-1 and waits);
 * one no store will reach in this process's lifetime waits at 2^53-1 instead,
 * which it will not reach either.
 */
function watchStartRevision(value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = BigInt(typeof value === 'number' ? Math.trunc(value) : String(value));
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return n < 0n ? 0 : Number(n);
}

export function clusterService(ctx: ServiceContext): UntypedServiceImplementation {
  const s = ctx.server;
  // Changes go to the leader; a follower relays them and answers with the
  // leader's reply.
  // Member changes need the root role once auth is on (checked here, and
  // again by the leader, which the caller's token reaches too).
  const change = (method: 'MemberAdd' | 'MemberRemove' | 'MemberPromote' | 'MemberUpdate', local: (req: Pb) => Promise<Pb>) =>
    unary(ctx, async (req, call) => {
      const caller = callerOf(s, call, ctx.clientCertAuth ?? false);
      s.authGate.checkAdmin(caller);
      if (!ctx.forwarder?.shouldForward()) return local(req);
      // A caller named by its certificate brings no token the leader could
      // check (this member dials with its own certificate): vouch with one.
      const hasToken = (call.metadata?.get('token').length ?? 0) + (call.metadata?.get('authorization').length ?? 0) > 0;
      const token = caller !== undefined && !hasToken ? await s.auth.tokenFor(caller) : undefined;
      return ctx.forwarder.cluster(method, req, call.metadata, token);
    });
  return {
    MemberList: unary(ctx, async (req) => ({ header: headerPb(s.header()), members: (await s.memberList(req.linearizable !== false)).map(memberPb) })),
    MemberAdd: change('MemberAdd', async (req) => {
      const { member, members } = await s.memberAdd((req.peerURLs as string[] | undefined) ?? [], req.isLearner === true);
      return { header: headerPb(s.header()), member: memberPb(member), members: members.map(memberPb) };
    }),
    MemberRemove: change('MemberRemove', async (req) => ({ header: headerPb(s.header()), members: (await s.memberRemove(int(req.ID, 'ID'))).map(memberPb) })),
    MemberUpdate: change('MemberUpdate', async (req) => ({
      header: headerPb(s.header()),
      members: (await s.memberUpdate(int(req.ID, 'ID'), (req.peerURLs as string[] | undefined) ?? [])).map(memberPb),
    })),
    MemberPromote: change('MemberPromote', async (req) => ({ header: headerPb(s.header()), members: (await s.memberPromote(int(req.ID, 'ID'))).map(memberPb) })),
  };
}

export function maintenanceService(ctx: ServiceContext): UntypedServiceImplementation {
  const s = ctx.server;
  // etcd 3.4 asks the root role for these (Status and Alarm are open to all).
  const admin = (handle: (req: Pb) => Promise<Pb> | Pb) =>
    unary(ctx, (req, call) => {
      s.authGate.checkAdmin(callerOf(s, call, ctx.clientCertAuth ?? false));
      return handle(req);
    });
  return {
    Status: unary(ctx, () => {
      const st = s.status(ctx.version);
      return {
        header: headerPb(st.header),
        version: st.version,
        dbSize: str64(st.dbSize),
        leader: str64(st.leader),
        raftIndex: str64(st.raftIndex),
        raftTerm: str64(st.raftTerm),
        raftAppliedIndex: str64(st.raftAppliedIndex),
        errors: st.errors,
        dbSizeInUse: str64(st.dbSizeInUse),
        isLearner: st.isLearner,
      };
    }),
    Alarm: unary(ctx, async (req) => {
      const action = req.action === 'DEACTIVATE' || req.action === 2 ? 'DEACTIVATE' : req.action === 'ACTIVATE' || req.action === 1 ? 'ACTIVATE' : 'GET';
      if (action === 'DEACTIVATE') {
        const alarm = req.alarm === 'CORRUPT' || req.alarm === 2 ? 'CORRUPT' : 'NOSPACE';
        const memberId = int(req.memberID, 'memberID');
        // etcd answers a disarm with the alarm it cleared (etcdctl prints it), not the ones left.
        const cleared = s.alarmList().filter((a) => a.memberId === memberId && a.alarm === alarm);
        await s.alarmDeactivate(memberId, alarm);
        return { header: headerPb(s.header()), alarms: cleared.map((a) => ({ memberID: str64(a.memberId), alarm: a.alarm })) };
      } else if (action === 'ACTIVATE') {
        throw new ServerError('INVALID_ARGUMENT', 'etcdserver: alarms can only be raised by the cluster itself');
      }
      return { header: headerPb(s.header()), alarms: s.alarmList().map((a) => ({ memberID: str64(a.memberId), alarm: a.alarm })) };
    }),
    Defragment: admin(async () => {
      await s.defragment();
      return { header: headerPb(s.header()) };
    }),
    Hash: admin(async () => ({ header: headerPb(s.header()), hash: (await s.hashKv(0)).hash })),
    HashKV: admin(async (req) => {
      const h = await s.hashKv(int(req.revision, 'revision'));
      return { header: headerPb(s.header()), hash: h.hash, compact_revision: str64(h.compactRevision), hash_revision: str64(h.hashRevision) };
    }),
    MoveLeader: admin(async (req) => {
      await s.moveLeader(int(req.targetID, 'targetID'));
      return { header: headerPb(s.header()) };
    }),
    Downgrade: unary(ctx, () => {
      throw new ServerError('UNIMPLEMENTED', 'etcdserver: downgrade is not supported');
    }),
    Snapshot: (call: ServerWritableStream<Pb, PreEncoded>) => {
      Promise.resolve()
        .then(() => s.authGate.checkAdmin(callerOf(s, call, ctx.clientCertAuth ?? false)))
        .then(() => streamBackup(ctx, call))
        .catch((err: unknown) => {
        const e = toGrpcError(err, ctx.logger);
        call.destroy(Object.assign(new Error(e.details), { code: e.code }));
      });
    },
  };
}

/** Bytes per SnapshotResponse message, as etcd sends them. */
const SNAPSHOT_MESSAGE_BYTES = 32 * 1024;

/**
 * Sends the member's backup stream, pulling the next chunk only when the
 * gRPC stream has room (a slow reader slows the encoder instead of piling
 * the snapshot up in memory), until the client goes away or it is all sent.
 * Each blob is copied into its message before the next chunk is pulled: the
 * backup stream fills a chunk's memory again after that. The messages' own
 * memory is used again too, once the socket has taken them: V8 answers every
 * ~64 MiB of fresh buffers with a full collection, which over a large store
 * cost more than the encoding.
 */
async function streamBackup(ctx: ServiceContext, call: ServerWritableStream<Pb, PreEncoded>): Promise<void> {
  let gone = false;
  const leave = (): void => {
    gone = true;
  };
  call.on('cancelled', leave);
  call.on('close', leave);
  call.on('error', leave);
  const backup = await ctx.server.backup();
  const header = encodeHeaderField(ctx.server.header());
  const slabs = new MessageSlabs();
  let sent = 0;
  for await (const chunk of backup.chunks) {
    if (chunk.length === 0) continue;
    sent += chunk.length;
    let slab: Buffer | undefined;
    const messages = encodeSnapshotChunk(header, backup.size - sent, chunk, SNAPSHOT_MESSAGE_BYTES, (bytes) => (slab = slabs.take(bytes)));
    const written = slabs.releaseAfter(slab!, messages.length);
    for (const message of messages) {
      if (gone) return; // leaving the loop ends the encoder too
      if (!call.write(message, written)) await drained(call);
    }
  }
  if (!gone) call.end();
}

/** Written buffers a backup stream keeps for its next chunks (more would only sit idle behind backpressure). */
const SPARE_SLABS = 4;

/** Buffers that a stream's messages are laid in, each used again once all its messages are written. */
class MessageSlabs {
  private readonly spare: Buffer[] = [];

  take(bytes: number): Buffer {
    const i = this.spare.findIndex((b) => b.length >= bytes);
    return i >= 0 ? this.spare.splice(i, 1)[0]! : Buffer.allocUnsafe(bytes);
  }

  /** A write callback that returns `slab` after it has been called `messages` times. */
  releaseAfter(slab: Buffer, messages: number): () => void {
    let left = messages;
    return () => {
      if (--left === 0 && this.spare.length < SPARE_SLABS) this.spare.push(slab);
    };
  }
}

/** Resolves when a stream that refused a write has room again, or has ended for good. */
function drained(call: ServerWritableStream<Pb, PreEncoded>): Promise<void> {
  const events = ['drain', 'close', 'cancelled', 'error'];
  return new Promise((resolve) => {
    const done = (): void => {
      for (const e of events) call.off(e, done);
      resolve();
    };
    for (const e of events) call.on(e, done);
  });
}

const PERM_TYPES = ['READ', 'WRITE', 'READWRITE'] as const;

function permType(value: unknown): PermType {
  if (typeof value === 'number' && PERM_TYPES[value]) return PERM_TYPES[value];
  if (typeof value === 'string' && (PERM_TYPES as readonly string[]).includes(value)) return value as PermType;
  if (value === undefined || value === null) return 'READ';
  throw new ServerError('INVALID_ARGUMENT', `etcdserver: unknown permission type ${String(value)}`);
}

const bytesOf = (value: unknown): Uint8Array => (value instanceof Uint8Array ? new Uint8Array(value) : new Uint8Array());
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** etcd's Auth service: users, roles, permissions, the enabled flag, Authenticate (see node/server/auth/). */
export function authService(ctx: ServiceContext): UntypedServiceImplementation {
  const s = ctx.server;
  const certAuth = ctx.clientCertAuth ?? false;
  const ok = (): Pb => ({ header: headerPb(s.header()) });
  // Every call but Authenticate and AuthStatus acts as its caller.
  const as = (handle: (req: Pb, caller: string | undefined) => Promise<Pb>) => unary(ctx, (req, call) => handle(req, callerOf(s, call, certAuth)));
  return {
    AuthEnable: as(async (_req, caller) => (await s.auth.enable(caller), ok())),
    AuthDisable: as(async (_req, caller) => (await s.auth.disable(caller), ok())),
    AuthStatus: unary(ctx, async () => {
      const st = await s.auth.status();
      return { header: headerPb(s.header()), enabled: st.enabled, authRevision: str64(st.revision) };
    }),
    Authenticate: unary(ctx, async (req) => ({ header: headerPb(s.header()), token: await s.auth.authenticate(text(req.name), text(req.password)) })),
    UserAdd: as(async (req, caller) => {
      const options = req.options as Pb | undefined;
      await s.auth.userAdd(caller, text(req.name), text(req.password), { noPassword: options?.no_password === true, hashedPassword: text(req.hashedPassword) });
      return ok();
    }),
    UserGet: as(async (req, caller) => ({ header: headerPb(s.header()), roles: await s.auth.userGet(caller, text(req.name)) })),
    UserList: as(async (_req, caller) => ({ header: headerPb(s.header()), users: await s.auth.userList(caller) })),
    UserDelete: as(async (req, caller) => (await s.auth.userDelete(caller, text(req.name)), ok())),
    UserChangePassword: as(async (req, caller) => {
      if (text(req.hashedPassword) !== '' && text(req.password) === '') {
        throw new ServerError('INVALID_ARGUMENT', 'etcdserver: hashedPassword is not supported by this server; send the password');
      }
      await s.auth.userChangePassword(caller, text(req.name), text(req.password));
      return ok();
    }),
    UserGrantRole: as(async (req, caller) => (await s.auth.userGrantRole(caller, text(req.user), text(req.role)), ok())),
    UserRevokeRole: as(async (req, caller) => (await s.auth.userRevokeRole(caller, text(req.name), text(req.role)), ok())),
    RoleAdd: as(async (req, caller) => (await s.auth.roleAdd(caller, text(req.name)), ok())),
    RoleGet: as(async (req, caller) => ({
      header: headerPb(s.header()),
      perm: (await s.auth.roleGet(caller, text(req.role))).map((p) => ({ permType: p.permType, key: Buffer.from(p.key), range_end: Buffer.from(p.rangeEnd) })),
    })),
    RoleList: as(async (_req, caller) => ({ header: headerPb(s.header()), roles: await s.auth.roleList(caller) })),
    RoleDelete: as(async (req, caller) => (await s.auth.roleDelete(caller, text(req.role)), ok())),
    RoleGrantPermission: as(async (req, caller) => {
      const perm = (req.perm as Pb | undefined) ?? {};
      await s.auth.roleGrantPermission(caller, text(req.name), { permType: permType(perm.permType), key: bytesOf(perm.key), rangeEnd: bytesOf(perm.range_end) });
      return ok();
    }),
    RoleRevokePermission: as(async (req, caller) => (await s.auth.roleRevokePermission(caller, text(req.role), bytesOf(req.key), bytesOf(req.range_end)), ok())),
  };
}

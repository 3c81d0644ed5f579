// v3electionpb.Election: etcd's leader election, served by the member
// (etcd 3.4's v3election server runs clientv3's concurrency.Election in
// process). Candidates queue as keys under name + "/" (one per lease, the
// value is what the leader announces); the key with the lowest create
// revision leads. A LeaderKey (name, key, create revision, lease) names one
// term of leadership: Proclaim and Resign act only while that key still has
// that create revision.
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ServiceContext } from './services.js';
import type { KeyValue } from '../../mvcc/types.js';
import type { WatchBatch } from '../../mvcc/watch.js';
import { headerPb, keyValuePb, leaseId, str64, type Pb } from './convert.js';
import { KeyLostError, prefixEnd, queueHead, waitForTurn, type Keyspace } from './key-queue.js';
import { CallCancelled, DEFAULT_SESSION_TTL, RecipeError, bytesField, callerKeyspace, leaseHex, recipeUnary } from './recipe-call.js';

export const ERR_NOT_LEADER = 'election: not leader';
export const ERR_NO_LEADER = 'election: no leader';
export const ERR_MISSING_LEADER_KEY = '"leader" field must be provided';

export interface LeaderKey {
  name: Uint8Array;
  key: Uint8Array;
  rev: number;
  lease: bigint;
}

/** A session's lease: the caller's, or (0) a fresh one, as etcd's NewSession grants. */
async function sessionLease(ks: Keyspace, lease: bigint): Promise<bigint> {
  return lease !== 0n ? lease : (await ks.leaseGrant(DEFAULT_SESSION_TTL)).id;
}

/** Puts `value` on the leader key if it still is that term's key; returns the txn revision. */
export async function proclaim(ks: Keyspace, leader: LeaderKey, value: Uint8Array): Promise<number> {
  const res = await ks.txn({
    compare: [{ target: 'CREATE', result: 'EQUAL', key: leader.key, createRevision: leader.rev }],
    success: [{ requestPut: { key: leader.key, value, lease: leader.lease } }],
  });
  if (!res.succeeded) throw new RecipeError(ERR_NOT_LEADER);
  return res.header.revision;
}

/** Deletes the leader key if it still is that term's key; returns the txn revision. */
export async function resign(ks: Keyspace, leader: LeaderKey): Promise<number> {
  const res = await ks.txn({
    compare: [{ target: 'CREATE', result: 'EQUAL', key: leader.key, createRevision: leader.rev }],
    success: [{ requestDeleteRange: { key: leader.key } }],
  });
  return res.header.revision;
}

/** Waits until the caller leads election `name`; returns its leader key and the revision of its txn. */
export async function campaign(ks: Keyspace, name: Uint8Array, lease: bigint, value: Uint8Array, signal: AbortSignal): Promise<{ leader: LeaderKey; revision: number }> {
  const id = await sessionLease(ks, lease);
  const prefix = Buffer.concat([name, Buffer.from('/')]);
  const key = Buffer.concat([prefix, Buffer.from(leaseHex(id))]);
  const res = await ks.txn({
    compare: [{ target: 'CREATE', result: 'EQUAL', key, createRevision: 0 }],
    success: [{ requestPut: { key, value, lease: id } }],
    failure: [{ requestRange: { key } }],
  });
  const leader: LeaderKey = { name, key, rev: res.header.revision, lease: id };
  if (!res.succeeded) {
    // The same session campaigns again: it keeps its place, with the new value.
    const kv = res.responses[0]!.responseRange!.kvs[0]!;
    leader.rev = kv.createRevision;
    if (!Buffer.from(kv.value).equals(Buffer.from(value))) {
      try {
        await proclaim(ks, leader, value);
      } catch (err) {
        await resign(ks, leader).catch(() => {});
        throw err;
      }
    }
  }
  try {
    await waitForTurn(ks, prefix, key, leader.rev, res.header.revision, signal);
  } catch (err) {
    // Its key went with its lease: it will never lead on this term.
    if (err instanceof KeyLostError) throw new RecipeError(ERR_NOT_LEADER);
    // A caller that gave up leaves the queue, as etcd's Campaign does on a canceled context.
    if (err instanceof CallCancelled) resign(ks, leader).catch(() => {});
    throw err;
  }
  return { leader, revision: res.header.revision };
}

/** The leader of election `name` (the oldest candidate) and the read's revision. */
export async function currentLeader(ks: Keyspace, name: Uint8Array): Promise<{ kv: KeyValue; revision: number }> {
  const { head, revision } = await queueHead(ks, Buffer.concat([name, Buffer.from('/')]));
  if (!head) throw new RecipeError(ERR_NO_LEADER);
  return { kv: head, revision };
}

/** Watch batches as an async sequence, ending when `signal` aborts or the watch is canceled. */
async function* watchBatches(ks: Keyspace, key: Uint8Array, rangeEnd: Uint8Array | undefined, startRevision: number, signal: AbortSignal): AsyncGenerator<WatchBatch> {
  const queue: WatchBatch[] = [];
  let wake: (() => void) | undefined;
  const poke = (): void => {
    wake?.();
    wake = undefined;
  };
  const watch = ks.watch({ key, ...(rangeEnd && { rangeEnd }), startRevision }, (batch) => {
    queue.push(batch);
    poke();
  });
  signal.addEventListener('abort', poke);
  try {
    for (;;) {
      while (queue.length > 0) {
        const batch = queue.shift()!;
        if (batch.canceled) return;
        yield batch;
      }
      if (signal.aborted) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    watch.cancel();
    signal.removeEventListener('abort', poke);
  }
}

/**
 * Reports the leader of election `name` and every change of it (etcd's
 * Election.Observe): the current leader (or, with none, the first key put
 * under the prefix), then each new value of that key until it is deleted,
 * then the next leader. Returns when `signal` aborts.
 */
export async function observe(ks: Keyspace, name: Uint8Array, signal: AbortSignal, report: (revision: number, kv: KeyValue) => void): Promise<void> {
  const prefix = Buffer.concat([name, Buffer.from('/')]);
  while (!signal.aborted) {
    const { head, revision } = await queueHead(ks, prefix);
    let kv = head;
    let at = revision;
    if (!kv) {
      // Wait for the first put under the prefix (a delete would make the loop spin).
      for await (const batch of watchBatches(ks, prefix, prefixEnd(prefix), revision + 1, signal)) {
        const put = batch.events.find((e) => e.type === 'PUT');
        if (put) {
          kv = put.kv;
          at = put.kv.modRevision;
          break;
        }
      }
      if (!kv) return;
    }
    report(at, kv);
    for await (const batch of watchBatches(ks, kv.key, undefined, at + 1, signal)) {
      const deleted = batch.events.findIndex((e) => e.type === 'DELETE');
      for (const e of deleted < 0 ? batch.events : batch.events.slice(0, deleted)) report(batch.header.revision, e.kv);
      if (deleted >= 0) break;
    }
  }
}

function leaderKeyOf(pb: unknown): LeaderKey {
  if (!pb || typeof pb !== 'object') throw new RecipeError(ERR_MISSING_LEADER_KEY);
  const l = pb as Pb;
  const rev = BigInt(String(l.rev ?? '0'));
  return { name: bytesField(l.name), key: bytesField(l.key), rev: Number(rev), lease: leaseId(l.lease, 'lease') };
}

export function electionService(ctx: ServiceContext): UntypedServiceImplementation {
  const { server, logger } = ctx;
  const certAuth = ctx.clientCertAuth ?? false;
  const header = (revision: number): Pb => headerPb({ ...server.header(), revision });
  return {
    Campaign: recipeUnary(logger, async (req, signal, call) => {
      const ks = callerKeyspace(server, call, certAuth);
      const { leader, revision } = await campaign(ks, bytesField(req.name), leaseId(req.lease, 'lease'), bytesField(req.value), signal);
      return { header: header(revision), leader: { name: leader.name, key: leader.key, rev: str64(leader.rev), lease: str64(leader.lease) } };
    }),
    Proclaim: recipeUnary(logger, async (req, _signal, call) => {
      const ks = callerKeyspace(server, call, certAuth);
      const leader = leaderKeyOf(req.leader);
      leader.lease = await sessionLease(ks, leader.lease);
      return { header: header(await proclaim(ks, leader, bytesField(req.value))) };
    }),
    Leader: recipeUnary(logger, async (req, _signal, call) => {
      const { kv, revision } = await currentLeader(callerKeyspace(server, call, certAuth), bytesField(req.name));
      return { header: header(revision), kv: keyValuePb(kv) };
    }),
    Resign: recipeUnary(logger, async (req, _signal, call) => ({ header: header(await resign(callerKeyspace(server, call, certAuth), leaderKeyOf(req.leader))) })),
    Observe: (call: ServerWritableStream<Pb, Pb>) => {
      const abort = new AbortController();
      const stop = (): void => abort.abort(new CallCancelled('context canceled'));
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
      const name = bytesField(call.request.name);
      observe(callerKeyspace(server, call, certAuth), name, abort.signal, (revision, kv) => {
        if (!abort.signal.aborted) call.write({ header: header(revision), kv: keyValuePb(kv) });
      }).then(
        // etcd ends the stream without an error when its observer stops (a failed read, say).
        () => {
          if (!abort.signal.aborted) call.end();
        },
        (err: unknown) => {
          if (!(err instanceof CallCancelled)) logger.debug({ err }, 'election observer stopped');
          if (!abort.signal.aborted) call.end();
        },
      );
    },
  };
}

// The recorded client traffic of a chaos run, apart from where it is sent:
// history-recording KV clients (linearizable gets, puts, deletes and
// compare-and-swap txns on a small key space), resuming watchers over the
// whole key space, and a compactor. The harness (harness.ts) points them at
// member processes on loopback; the operator's e2e chaos test
// (test/e2e/operator-chaos.test.ts) at the ready backends of a KVCluster's
// client Service. Where a call goes is the caller's `pick`, given the
// loop's own seeded generator, so a harness seed keeps its schedule.
import type { KvOperation } from '../sim/models.js';
import { Rng } from '../sim/rng.js';
import { call, neverSent, sleep, type KvClient, type Pb, type WatchClient } from './calls.js';
import type { WatchSessionRecord } from './watch-checker.js';
import { recordWatchResponse } from './watch-recorder.js';

export { call, CALL_TIMEOUT_MS, neverSent, sleep, type KvClient, type Pb, type WatchClient } from './calls.js';

export interface WorkloadOptions {
  /** Each loop's generator is seeded from this (client i: seed*1000+i+1, watcher i: seed*1000+500+i, compactor: seed*1000+999). */
  seed: number;
  /** Number of KV clients (their ids are 0..clients-1); used for the cas expectations. */
  clients: number;
  /** Keys k0..k<keys-1>. */
  keys: number;
  /** While this is true the loops go on. */
  active: () => boolean;
  /** Time in ms since the start of the run, for the history. */
  now: () => number;
  /** The KV client for one call (undefined: none reachable now; the loop waits and tries again). */
  kv: (r: Rng) => KvClient | undefined;
  /** The Watch client for one watch session. */
  watch: (r: Rng) => WatchClient | undefined;
  /** Gets answered serializably but recorded as linearizable (a deliberately wrong client). */
  staleReads?: boolean;
  /** A pause after each completed operation of a client (none by default). */
  pauseMs?: number;
  /** The compactor's pause between compactions, [min, max] ms (200..600 by default). */
  compactEveryMs?: [number, number];
}

/**
 * One KV client: records every operation in `history`. A failed or timed-out
 * write stays with an unknown outcome; a failed read and a call never sent
 * leave the history.
 */
export async function runClient(o: WorkloadOptions, id: number, history: KvOperation[]): Promise<void> {
  const r = new Rng(o.seed * 1000 + id + 1);
  const seen = new Map<string, string>();
  let seq = 0;
  while (o.active()) {
    const key = `k${r.int(0, o.keys - 1)}`;
    const client = o.kv(r);
    if (client === undefined) {
      await sleep(200);
      continue;
    }
    const roll = r.next();
    const value = `c${id}-${seq++}`;
    const began = o.now();
    try {
      if (roll < 0.4) {
        const res = await call(client, 'Range', { key: Buffer.from(key), serializable: o.staleReads === true });
        const kvs = res.kvs as { value: Buffer }[];
        const got = kvs.length > 0 ? kvs[0]!.value.toString() : '';
        if (got !== '') seen.set(key, got);
        history.push({ clientId: id, input: { op: 'get', key }, output: { value: got }, call: began, ret: o.now() });
      } else if (roll < 0.7) {
        history.push({ clientId: id, input: { op: 'put', key, value }, output: undefined, call: began, ret: Infinity });
        const entry = history[history.length - 1]!;
        await call(client, 'Put', { key: Buffer.from(key), value: Buffer.from(value) });
        entry.output = {};
        entry.ret = o.now();
        seen.set(key, value);
      } else if (roll < 0.8) {
        // A delete reads as '' afterwards: a put of '' in the model (no write ever stores '').
        history.push({ clientId: id, input: { op: 'put', key, value: '' }, output: undefined, call: began, ret: Infinity });
        const entry = history[history.length - 1]!;
        await call(client, 'DeleteRange', { key: Buffer.from(key) });
        entry.output = {};
        entry.ret = o.now();
        seen.delete(key);
      } else {
        // A guarded update: swap only if the key still holds what this
        // client saw there. (Never expect '': etcd fails a value compare
        // on a missing key, where the model would swap.)
        const expect = seen.get(key) ?? `c${r.int(0, o.clients - 1)}-${r.int(0, Math.max(0, seq - 1))}`;
        history.push({ clientId: id, input: { op: 'cas', key, expect, value }, output: undefined, call: began, ret: Infinity });
        const entry = history[history.length - 1]!;
        const res = await call(client, 'Txn', {
          compare: [{ result: 'EQUAL', target: 'VALUE', key: Buffer.from(key), value: Buffer.from(expect) }],
          success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value) } }],
          failure: [],
        });
        entry.output = { ok: res.succeeded === true };
        entry.ret = o.now();
        if (res.succeeded === true) seen.set(key, value);
      }
      if (o.pauseMs !== undefined && o.pauseMs > 0) await sleep(o.pauseMs);
    } catch (err) {
      // Failed or timed out: a write stays in the history with an unknown
      // outcome (it may have been applied); a failed read says nothing.
      // A call the client never sent (no connection to the member) is
      // known not to have happened and leaves the history.
      if (neverSent(err)) {
        const last = history[history.length - 1];
        if (last !== undefined && last.clientId === id && last.call === began && last.output === undefined) history.pop();
        else {
          const at = history.findIndex((op) => op.clientId === id && op.call === began && op.output === undefined);
          if (at >= 0) history.splice(at, 1);
        }
      }
      await sleep(r.int(50, 250));
    }
  }
}

/**
 * One watcher: watches the whole key space (`k`..`l`) with prev_kv on one
 * member at a time, asks for progress every second, and after an error
 * resumes on another member from the revision after the last event it saw
 * (a watch cancelled by compaction starts over from now). Each stream is
 * one session in `sessions`.
 */
export async function runWatcher(o: WorkloadOptions, id: number, sessions: WatchSessionRecord[]): Promise<void> {
  const r = new Rng(o.seed * 1000 + 500 + id);
  let resumeFrom = 0;
  for (let attempt = 0; o.active(); attempt++) {
    const client = o.watch(r);
    if (client === undefined) {
      await sleep(200);
      continue;
    }
    const session: WatchSessionRecord = { id: `w${id}.${attempt}`, key: 'k', rangeEnd: 'l', startRevision: resumeFrom, createdRevision: 0, prevKv: true, responses: [] };
    const outcome = await new Promise<'error' | 'compacted' | 'done'>((resolve) => {
      const stream = client.Watch();
      let settled = false;
      const finish = (how: 'error' | 'compacted' | 'done'): void => {
        if (settled) return;
        settled = true;
        clearInterval(progress);
        clearInterval(stop);
        stream.cancel();
        resolve(how);
      };
      const progress = setInterval(() => stream.write({ progress_request: {} }), 1000);
      const stop = setInterval(() => {
        if (!o.active()) finish('done');
      }, 200);
      stream.on('data', (res: Pb) => {
        const recorded = recordWatchResponse(res, session, sessions);
        if (recorded.kind === 'canceled') finish('compacted');
        else if (recorded.lastRevision !== undefined) resumeFrom = recorded.lastRevision + 1;
      });
      stream.on('error', () => finish('error'));
      stream.on('end', () => finish('error'));
      stream.write({ create_request: { key: Buffer.from('k'), range_end: Buffer.from('l'), start_revision: String(resumeFrom), prev_kv: true } });
    });
    if (outcome === 'compacted') resumeFrom = 0;
    else if (resumeFrom === 0 && session.createdRevision > 0) resumeFrom = session.createdRevision + 1;
    if (outcome !== 'done') await sleep(r.int(100, 400));
  }
}

/** Compacts 10 revisions behind the head every now and then (best effort). */
export async function runCompactor(o: WorkloadOptions): Promise<void> {
  const r = new Rng(o.seed * 1000 + 999);
  const [min, max] = o.compactEveryMs ?? [200, 600];
  while (o.active()) {
    await sleep(r.int(min, max));
    try {
      const a = o.kv(r);
      const b = o.kv(r);
      if (a === undefined || b === undefined) continue;
      const res = await call(a, 'Range', { key: Buffer.from('k0'), serializable: true }, 1000);
      const revision = Number((res.header as { revision: string }).revision);
      if (revision > 20) await call(b, 'Compact', { revision: String(revision - 10) }, 1000);
    } catch {
      // compaction is best effort (an older revision, a member down)
    }
  }
}

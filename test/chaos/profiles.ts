// Traffic profiles besides the harness's own key-value clients, in the
// manner of etcd's robustness suite:
//
// - lease: grants (client-chosen IDs, TTL 2 to 3 s), puts attached to a
//   lease, revokes, keep-alives, leases left to expire (and a keep-alive
//   afterwards that observes it), gets and group lists, on keys `kl<g>/a`
//   and `kl<g>/b`; checked with lease-model.ts.
// - kubernetes: kube-apiserver's storage traffic on `/registry/<kind>/<name>`:
//   optimistic create/update/delete transactions guarded by mod_revision
//   (the failure branch reads the key), gets, paginated lists (limit 2,
//   continued by key at the first page's revision); checked with
//   k8s-model.ts. Informers list, then watch the kind's prefix from the
//   list's revision + 1 with prev_kv and progress requests, resuming after
//   a stream error from the last revision seen, for a few seconds, then
//   list again; their sessions go to the watch checker, and the first after
//   each list is checked against it (k8s-model.ts checkListThenWatch).
//
// A call that fails or times out stays in the history with an unknown
// outcome when it is a write (it may have been applied); a failed read is
// dropped; a call never sent (no connection) is dropped.
import type { Operation } from '../sim/linearizability.js';
import { Rng } from '../sim/rng.js';
import { call, leaseNotFound, neverSent, sleep, type KvClient, type LeaseClient, type Pb, type WatchClient } from './calls.js';
import type { K8sInput, K8sObject, K8sOperation, K8sOutput } from './k8s-model.js';
import type { LeaseInput, LeaseKv, LeaseOperation, LeaseOutput } from './lease-model.js';
import type { WatchSessionRecord } from './watch-checker.js';
import { recordWatchResponse } from './watch-recorder.js';

export const PROFILES = ['kv', 'lease', 'kubernetes'] as const;
export type Profile = (typeof PROFILES)[number];

export function parseProfiles(text: string): Profile[] {
  if (text === 'all') return [...PROFILES];
  const out: Profile[] = [];
  for (const t of text.split(',').map((s) => s.trim())) {
    if (!(PROFILES as readonly string[]).includes(t)) throw new Error(`unknown profile ${JSON.stringify(t)} (kv, lease, kubernetes or all)`);
    if (!out.includes(t as Profile)) out.push(t as Profile);
  }
  if (out.length === 0) throw new Error('--profile needs at least one profile');
  return out;
}

export interface ProfileHost {
  seed: number;
  /** One client per member, same order in each list. */
  kv: readonly KvClient[];
  lease: readonly LeaseClient[];
  watch: readonly WatchClient[];
  now(): number;
  /** True while the clients should go on. */
  active(): boolean;
}

/** Lease groups: keys `kl<g>/a`, `kl<g>/b` (inside the harness watchers' `k`..`l`). */
export const LEASE_GROUPS = 4;
export const K8S_KINDS = ['pods', 'configmaps'] as const;
const K8S_NAMES = 4;

/**
 * Runs `fn` as one operation of `history`: recorded before the call (so a
 * hang leaves it unknown), completed with its output, dropped when it was a
 * read that failed or a call never sent.
 */
async function recorded<I, O>(history: Operation<I, O>[], clientId: number, input: I, isRead: boolean, now: () => number, fn: () => Promise<O>): Promise<O | undefined> {
  const entry: Operation<I, O> = { clientId, input, output: undefined, call: now(), ret: Infinity };
  history.push(entry);
  try {
    const out = await fn();
    entry.output = out;
    entry.ret = now();
    return out;
  } catch (err) {
    if (isRead || neverSent(err)) {
      const at = history.lastIndexOf(entry);
      if (at >= 0) history.splice(at, 1);
    }
    return undefined;
  }
}

const leaseOf = (kv: Pb): string => {
  const l = String(kv.lease ?? '0');
  return l === '0' ? '' : l;
};

function keepAlive(client: LeaseClient, lease: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = client.LeaseKeepAlive();
    let done = false;
    const finish = (err: Error | undefined, ttl?: number): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.cancel();
      if (err) reject(err);
      else resolve(ttl!);
    };
    const timer = setTimeout(() => finish(new Error('keep-alive timed out')), 3000);
    stream.on('data', (res: Pb) => finish(undefined, Number(res.TTL)));
    stream.on('error', (err: Error) => finish(err));
    stream.on('end', () => finish(new Error('keep-alive stream ended without an answer')));
    stream.write({ ID: lease });
  });
}

interface MyLease {
  lease: string;
  group: string;
  /** When the client may assume it expired (last grant or renewal + TTL + margin). */
  expiresBy: number;
}

/** One lease client (see the file's comment). */
export async function leaseWorker(host: ProfileHost, clientId: number, history: LeaseOperation[]): Promise<void> {
  const r = new Rng(host.seed * 1000 + 300 + clientId);
  const mine: MyLease[] = [];
  /** Leases left to expire (or whose revoke had no answer), to be observed by a keep-alive later. */
  const ending: MyLease[] = [];
  let seq = 0;
  let leaseSeq = 0;
  const now = (): number => host.now();
  while (host.active()) {
    const m = r.int(0, host.kv.length - 1);
    const kv = host.kv[m]!;
    const lc = host.lease[m]!;
    const g = `kl${r.int(0, LEASE_GROUPS - 1)}`;
    const key = (group: string): string => `${group}/${r.pick(['a', 'b'])}`;
    const value = `l${clientId}-${seq++}`;
    const roll = r.next();
    const due = ending.findIndex((e) => e.expiresBy <= now());
    let failed = false;
    const rec = async <T extends LeaseOutput>(input: LeaseInput, isRead: boolean, fn: () => Promise<T>): Promise<T | undefined> => {
      const out = await recorded<LeaseInput, LeaseOutput>(history, clientId, input, isRead, now, fn);
      if (out === undefined) failed = true;
      return out as T | undefined;
    };
    if (due >= 0) {
      const e = ending.splice(due, 1)[0]!;
      const out = await rec({ op: 'keepalive', group: e.group, lease: e.lease }, true, async () => ({ ok: (await keepAlive(lc, e.lease)) > 0 }));
      if (out === undefined) ending.push({ ...e, expiresBy: now() + 1000 });
      else if (out.ok) mine.push({ ...e, expiresBy: now() + 3000 + 1500 });
    } else if (mine.length === 0 || (mine.length < 3 && r.chance(0.08))) {
      const lease = String((clientId + 1) * 1_000_000 + ++leaseSeq);
      const ttl = r.int(2, 3);
      const out = await rec({ op: 'grant', group: g, lease }, false, async () => {
        const res = await call(lc, 'LeaseGrant', { ID: lease, TTL: String(ttl) });
        if (typeof res.error === 'string' && res.error !== '') throw new Error(res.error);
        return { ok: true };
      });
      const lease0: MyLease = { lease, group: g, expiresBy: now() + Math.max(ttl, 3) * 1000 + 1500 };
      if (out !== undefined) mine.push(lease0);
      else ending.push(lease0);
    } else if (roll < 0.3) {
      const l = r.pick(mine);
      const k = key(l.group);
      const out = await rec({ op: 'put', group: l.group, key: k, value, lease: l.lease }, false, async () => {
        try {
          await call(kv, 'Put', { key: Buffer.from(k), value: Buffer.from(value), lease: l.lease });
          return { ok: true };
        } catch (err) {
          if (leaseNotFound(err)) return { ok: false };
          throw err;
        }
      });
      if (out?.ok === false) mine.splice(mine.indexOf(l), 1);
    } else if (roll < 0.38) {
      const k = key(g);
      await rec({ op: 'put', group: g, key: k, value, lease: '' }, false, async () => {
        await call(kv, 'Put', { key: Buffer.from(k), value: Buffer.from(value) });
        return { ok: true };
      });
    } else if (roll < 0.43) {
      const k = key(g);
      await rec({ op: 'delete', group: g, key: k }, false, async () => {
        await call(kv, 'DeleteRange', { key: Buffer.from(k) });
        return { ok: true };
      });
    } else if (roll < 0.63) {
      // Mostly the groups this client has leases in.
      const group = mine.length > 0 && r.chance(0.7) ? r.pick(mine).group : g;
      const k = key(group);
      await rec({ op: 'get', group, key: k }, true, async () => {
        const res = await call(kv, 'Range', { key: Buffer.from(k) });
        return { kvs: (res.kvs as Pb[]).map((x) => ({ key: k, value: (x.value as Buffer).toString(), lease: leaseOf(x) })) };
      });
    } else if (roll < 0.73) {
      const group = mine.length > 0 && r.chance(0.7) ? r.pick(mine).group : g;
      await rec({ op: 'list', group }, true, async () => {
        const res = await call(kv, 'Range', { key: Buffer.from(`${group}/`), range_end: Buffer.from(`${group}0`) });
        return { kvs: (res.kvs as Pb[]).map((x): LeaseKv => ({ key: (x.key as Buffer).toString(), value: (x.value as Buffer).toString(), lease: leaseOf(x) })) };
      });
    } else if (roll < 0.83) {
      const l = r.pick(mine);
      const out = await rec({ op: 'keepalive', group: l.group, lease: l.lease }, true, async () => ({ ok: (await keepAlive(lc, l.lease)) > 0 }));
      if (out?.ok === false) mine.splice(mine.indexOf(l), 1);
      else if (out?.ok === true) l.expiresBy = now() + 3000 + 1500;
    } else if (roll < 0.93) {
      const l = mine.splice(r.int(0, mine.length - 1), 1)[0]!;
      const out = await rec({ op: 'revoke', group: l.group, lease: l.lease }, false, async () => {
        try {
          await call(lc, 'LeaseRevoke', { ID: l.lease });
          return { ok: true };
        } catch (err) {
          if (leaseNotFound(err)) return { ok: false };
          throw err;
        }
      });
      if (out === undefined) ending.push({ ...l, expiresBy: now() + 4500 });
    } else {
      // Left to expire; a keep-alive once it should have will observe it.
      ending.push(mine.splice(r.int(0, mine.length - 1), 1)[0]!);
      continue;
    }
    if (failed) await sleep(r.int(50, 250));
  }
}

function toObject(x: Pb): K8sObject {
  return { key: (x.key as Buffer).toString(), value: (x.value as Buffer).toString(), rev: Number(x.mod_revision) };
}

interface Listed {
  revision: number;
  kvs: K8sObject[];
  /** The first page's call and return: the list reads the state at that page's revision. */
  call: number;
  ret: number;
}

/** A paginated list: limit 2, each next page from after the last key, at the first page's revision. */
async function listPages(client: KvClient, prefix: string, end: string, now: () => number): Promise<Listed> {
  let start = prefix;
  let revision = 0;
  const kvs: K8sObject[] = [];
  let began = 0;
  let firstRet = 0;
  for (let page = 0; ; page++) {
    if (page === 0) began = now();
    const res = await call(client, 'Range', { key: Buffer.from(start), range_end: Buffer.from(end), limit: '2', revision: String(revision) });
    if (page === 0) {
      firstRet = now();
      revision = Number((res.header as { revision: string }).revision);
    }
    const items = (res.kvs as Pb[]).map(toObject);
    kvs.push(...items);
    if (res.more !== true || items.length === 0) break;
    start = `${items[items.length - 1]!.key}\u0000`;
    if (page > 100) throw new Error('list: too many pages');
  }
  return { revision, kvs, call: began, ret: firstRet };
}

const k8sKey = (kind: string, name: number): string => `/registry/${kind}/n${name}`;

/** One Kubernetes storage client (see the file's comment). */
export async function k8sWorker(host: ProfileHost, clientId: number, history: K8sOperation[]): Promise<void> {
  const r = new Rng(host.seed * 1000 + 350 + clientId);
  /** The mod_revision this client last saw per key (0: none). */
  const seen = new Map<string, number>();
  let seq = 0;
  const now = (): number => host.now();
  while (host.active()) {
    const kv = r.pick(host.kv);
    const kind = r.pick(K8S_KINDS);
    const key = k8sKey(kind, r.int(0, K8S_NAMES - 1));
    const value = `o${clientId}-${seq++}`;
    const roll = r.next();
    let out: K8sOutput | undefined;
    if (roll < 0.2) {
      out = await recorded<K8sInput, K8sOutput>(history, clientId, { op: 'get', kind, key }, true, now, async () => {
        const res = await call(kv, 'Range', { key: Buffer.from(key) });
        return { kvs: (res.kvs as Pb[]).map(toObject) };
      });
      if (out !== undefined && 'kvs' in out) seen.set(key, out.kvs[0]?.rev ?? 0);
    } else if (roll < 0.3) {
      // A paginated list: one read, linearized with its first page (the later pages read that page's revision).
      try {
        const list = await listPages(kv, `/registry/${kind}/`, `/registry/${kind}0`, now);
        history.push({ clientId, input: { op: 'list', kind }, output: { kvs: list.kvs }, call: list.call, ret: list.ret });
        for (const o of list.kvs) seen.set(o.key, o.rev);
        out = { kvs: list.kvs };
      } catch {
        out = undefined;
      }
    } else {
      const known = seen.get(key) ?? 0;
      // Now and then a stale expectation, as a client with an old copy sends.
      const expect = known > 0 && r.chance(0.1) ? known - 1 : known;
      const input: K8sInput = expect === 0 ? { op: 'create', kind, key, value } : r.chance(0.75) ? { op: 'update', kind, key, value, expect } : { op: 'delete', kind, key, expect };
      const success = input.op === 'delete' ? [{ request_delete_range: { key: Buffer.from(key) } }] : [{ request_put: { key: Buffer.from(key), value: Buffer.from(value) } }];
      out = await recorded<K8sInput, K8sOutput>(history, clientId, input, false, now, async () => {
        const res = await call(kv, 'Txn', {
          compare: [{ result: 'EQUAL', target: 'MOD', key: Buffer.from(key), mod_revision: String(expect) }],
          success,
          failure: [{ request_range: { key: Buffer.from(key) } }],
        });
        if (res.succeeded === true) return { ok: true, rev: Number((res.header as { revision: string }).revision) };
        const range = ((res.responses as Pb[])[0]?.response_range ?? { kvs: [] }) as Pb;
        const cur = (range.kvs as Pb[]).map(toObject)[0];
        return { ok: false, cur: cur === undefined ? null : { value: cur.value, rev: cur.rev } };
      });
      if (out !== undefined && 'ok' in out) {
        if (out.ok) seen.set(key, input.op === 'delete' ? 0 : out.rev);
        else seen.set(key, out.cur?.rev ?? 0);
      }
    }
    if (out === undefined) await sleep(r.int(50, 250));
  }
}

export interface InformerList {
  kind: string;
  revision: number;
  kvs: K8sObject[];
  /** The watch session that followed the list. */
  session: string;
}

/**
 * An informer on one kind: list (recorded in the history), then watch from
 * the list's revision + 1 with prev_kv and a progress request every second,
 * resuming after a stream error, for 2 to 6 s, then list again.
 */
export async function informer(host: ProfileHost, id: number, kind: string, history: K8sOperation[], sessions: WatchSessionRecord[], lists: InformerList[]): Promise<void> {
  const r = new Rng(host.seed * 1000 + 450 + id);
  const now = (): number => host.now();
  for (let attempt = 0; host.active(); attempt++) {
    let list: Listed;
    try {
      list = await listPages(r.pick(host.kv), `/registry/${kind}/`, `/registry/${kind}0`, now);
    } catch {
      await sleep(r.int(100, 400));
      continue;
    }
    history.push({ clientId: 900 + id, input: { op: 'list', kind }, output: { kvs: list.kvs }, call: list.call, ret: list.ret });
    // Watch from the list's revision + 1; after a stream error, resume on a
    // member picked at random from the revision after the last event seen
    // (as a reflector does); after the watch's time, or a cancel by
    // compaction, list again.
    const until = performance.now() + r.int(2000, 6000);
    let from = list.revision + 1;
    for (let resumed = 0; host.active() && performance.now() < until; resumed++) {
      const session: WatchSessionRecord = { id: `i${id}.${attempt}.${resumed}`, key: `/registry/${kind}/`, rangeEnd: `/registry/${kind}0`, startRevision: from, createdRevision: 0, prevKv: true, responses: [] };
      if (resumed === 0) lists.push({ kind, revision: list.revision, kvs: list.kvs, session: session.id });
      const outcome = await watchFor(r.pick(host.watch), session, sessions, until - performance.now(), () => host.active());
      if (outcome !== 'error') break;
      for (const res of session.responses) for (const e of res.events) from = Math.max(from, e.modRevision + 1);
      await sleep(r.int(100, 400));
    }
  }
}

/**
 * One watch session: recorded in `sessions` once created; ends after
 * `forMs`, when `active` turns false, on a stream error or on a cancel
 * (compaction).
 */
export function watchFor(client: WatchClient, session: WatchSessionRecord, sessions: WatchSessionRecord[], forMs: number, active: () => boolean): Promise<'error' | 'compacted' | 'done'> {
  return new Promise((resolve) => {
    const stream = client.Watch();
    let settled = false;
    const until = performance.now() + forMs;
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
      if (!active() || performance.now() >= until) finish('done');
    }, 200);
    stream.on('data', (res: Pb) => {
      if (recordWatchResponse(res, session, sessions).kind === 'canceled') finish('compacted');
    });
    stream.on('error', () => finish('error'));
    stream.on('end', () => finish('error'));
    stream.write({ create_request: { key: Buffer.from(session.key), range_end: Buffer.from(session.rangeEnd ?? ''), start_revision: String(session.startRevision), prev_kv: true } });
  });
}

// A randomized check of the store against a deliberately naive reference:
// the model keeps a full Map of the keyspace for every revision and applies
// etcd's rules in the most direct way. Thousands of seeded random operations
// (puts, deletes, txns, leases, compactions, historical and sorted reads)
// must produce the same responses, errors, watch events and state.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MvccError, MvccStore, WatchHub } from '../../../node/mvcc/index.js';
import type {
  ApplyRequest,
  Compare,
  CompareResult,
  CompareTarget,
  KeyValue,
  RangeRequest,
  RequestOp,
  ResponseOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  WatchEvent,
} from '../../../node/mvcc/index.js';
import { COMPACTED, DUPLICATE_KEY, FUTURE, LEASE_NOT_FOUND, bytes, seededRandom, text } from './helpers.js';

interface ModelKv {
  value: string;
  create: number;
  mod: number;
  version: number;
  lease: bigint;
}
type State = Map<string, ModelKv>;

class ModelError extends Error {}

/** Everything by brute force: one full Map per revision. */
class Model {
  readonly states: State[] = [new Map(), new Map()];
  readonly events: string[][] = [[], []];
  revision = 1;
  compacted = 0;
  readonly leases = new Set<bigint>();

  get current(): State {
    return this.states[this.revision]!;
  }

  stateAt(revision: number): State {
    if (revision > this.revision) throw new ModelError(FUTURE);
    const resolved = revision > 0 ? revision : this.revision;
    if (resolved < this.compacted) throw new ModelError(COMPACTED);
    return this.states[resolved]!;
  }

  /** Runs `body` against a copy of the current state; commits a revision if it wrote. */
  write<T>(body: (w: ModelWrite) => T): T {
    const w = new ModelWrite(new Map(this.current), this.revision + 1);
    const result = body(w);
    if (w.events.length > 0) {
      this.states.push(w.state);
      this.events.push(w.events);
      this.revision += 1;
    }
    return result;
  }
}

class ModelWrite {
  readonly events: string[] = [];
  constructor(
    readonly state: State,
    readonly revision: number,
  ) {}

  put(key: string, value: string, lease: bigint): ModelKv | undefined {
    const prev = this.state.get(key);
    this.state.set(key, {
      value,
      lease,
      mod: this.revision,
      create: prev ? prev.create : this.revision,
      version: prev ? prev.version + 1 : 1,
    });
    this.events.push(`PUT ${key}=${value}@${this.revision}` + (prev ? `<${prev.value}` : ''));
    return prev;
  }

  delete(keys: string[]): ModelKv[] {
    const prevs: ModelKv[] = [];
    for (const key of keys) {
      const prev = this.state.get(key);
      if (!prev) continue;
      prevs.push(prev);
      this.state.delete(key);
      this.events.push(`DELETE ${key}=@${this.revision}<${prev.value}`);
    }
    return prevs;
  }
}

const KEYS = ['a', 'a/1', 'a/2', 'b', 'c', 'c/x', 'd', 'e', 'f', 'g'];
const NESTED_KEYS = ['n1', 'n2', 'n3'];
const LEASE_IDS = [11n, 12n, 13n];

function keysIn(state: State, start: string, end: string | undefined): string[] {
  return [...state.keys()].filter((k) => (end === undefined ? k === start : k >= start && (end === '\0' || k < end))).sort();
}

function kvOf(key: string, kv: ModelKv): string {
  return `${key}=${kv.value} c${kv.create} m${kv.mod} v${kv.version} l${kv.lease}`;
}
const describeKv = (kv: KeyValue) =>
  `${text(kv.key)}=${text(kv.value)} c${kv.createRevision} m${kv.modRevision} v${kv.version} l${kv.lease}`;
const describeEvent = (e: WatchEvent) =>
  `${e.type} ${text(e.kv.key)}=${text(e.kv.value)}@${e.kv.modRevision}` + (e.prevKv ? `<${text(e.prevKv.value)}` : '');

/** Expects the same outcome: both return equal values, or both throw the same message. */
function same<T>(label: string, actual: () => T, expected: () => T): T | undefined {
  let want: T | undefined;
  let wantError: string | undefined;
  try {
    want = expected();
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    wantError = err.message;
  }
  try {
    const got = actual();
    assert.equal(wantError, undefined, `${label}: expected error ${wantError}`);
    assert.deepEqual(got, want, label);
    return got;
  } catch (err) {
    if (!(err instanceof MvccError)) throw err;
    assert.equal(err.message, wantError, `${label}: unexpected error`);
    return undefined;
  }
}

function sortModel(rows: [string, ModelKv][], target: SortTarget, order: SortOrder): void {
  const field = (row: [string, ModelKv]): string | number => {
    const [key, kv] = row;
    return { KEY: key, VERSION: kv.version, CREATE: kv.create, MOD: kv.mod, VALUE: kv.value }[target];
  };
  const sign = order === 'DESCEND' ? -1 : 1;
  rows.sort((x, y) => (field(x) < field(y) ? -sign : field(x) > field(y) ? sign : 0));
}

function runRandom(seed: number, operations: number): void {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const chance = (p: number) => random() < p;

  const store = new MvccStore();
  const model = new Model();
  const scheduled: (() => void)[] = [];
  const hub = new WatchHub(store, { schedule: (task) => scheduled.push(task) });
  const runScheduled = () => {
    while (scheduled.length > 0) scheduled.shift()!();
  };
  const liveEvents: string[] = [];
  hub.watch({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), prevKv: true }, (b) => {
    liveEvents.push(...b.events.map(describeEvent));
  });
  let index = 0;
  const apply = <R extends ApplyRequest>(request: R) => store.apply(++index, request)!;
  const randomRevision = () => Math.floor(random() * (model.revision + 3)) - 1;
  const randomValue = () => pick(['', 'x', 'y', 'z', 'long-value', '\u00ff']);

  const randomRange = (): { key: string; end: string | undefined } => {
    const key = pick(KEYS);
    const r = random();
    if (r < 0.5) return { key, end: undefined };
    if (r < 0.7) return { key, end: '\0' };
    return { key, end: pick(KEYS) };
  };
  const endBytes = (end: string | undefined) =>
    end === undefined ? {} : { rangeEnd: end === '\0' ? new Uint8Array([0]) : bytes(end) };

  for (let step = 0; step < operations; step++) {
    const label = `seed ${seed} step ${step}`;
    const dice = random();

    if (dice < 0.3) {
      // Put, sometimes with a lease, prevKv or ignoreValue.
      const key = pick(KEYS);
      const value = randomValue();
      const lease = chance(0.2) ? pick(LEASE_IDS) : 0n;
      const ignoreValue = chance(0.05);
      same(
        `${label} put`,
        () => {
          const r = apply({ put: { key: bytes(key), value: ignoreValue ? undefined : bytes(value), lease, prevKv: true, ignoreValue } });
          return { revision: r.header.revision, prev: r.prevKv && describeKv(r.prevKv) };
        },
        () => {
          if (lease !== 0n && !model.leases.has(lease)) throw new ModelError(LEASE_NOT_FOUND);
          const existing = model.current.get(key);
          if (ignoreValue && !existing) throw new ModelError('etcdserver: key not found');
          const prev = model.write((w) => w.put(key, ignoreValue ? existing!.value : value, lease));
          return { revision: model.revision, prev: prev && kvOf(key, prev) };
        },
      );
    } else if (dice < 0.4) {
      const { key, end } = randomRange();
      same(
        `${label} delete`,
        () => {
          const r = apply({ deleteRange: { key: bytes(key), ...endBytes(end), prevKv: true } });
          return { revision: r.header.revision, deleted: r.deleted, prev: r.prevKvs.map(describeKv) };
        },
        () => {
          const doomed = keysIn(model.current, key, end);
          const prevs = model.write((w) => w.delete(doomed));
          return { revision: model.revision, deleted: prevs.length, prev: prevs.map((kv, i) => kvOf(doomed[i]!, kv)) };
        },
      );
    } else if (dice < 0.6) {
      runRandomTxn(label);
    } else if (dice < 0.63) {
      const revision = Math.floor(random() * (model.revision + 2));
      same(
        `${label} compact ${revision}`,
        () => apply({ compaction: { revision } }).header.revision,
        () => {
          if (revision <= model.compacted) throw new ModelError(COMPACTED);
          if (revision > model.revision) throw new ModelError(FUTURE);
          model.compacted = revision;
          return model.revision;
        },
      );
    } else if (dice < 0.67) {
      const id = pick(LEASE_IDS);
      same(
        `${label} grant ${id}`,
        () => apply({ leaseGrant: { id, ttl: 10 } }).id,
        () => {
          if (model.leases.has(id)) throw new ModelError('etcdserver: lease already exists');
          model.leases.add(id);
          return id;
        },
      );
    } else if (dice < 0.7) {
      const id = pick(LEASE_IDS);
      same(
        `${label} revoke ${id}`,
        () => apply({ leaseRevoke: { id } }).header.revision,
        () => {
          if (!model.leases.delete(id)) throw new ModelError(LEASE_NOT_FOUND);
          const attached = [...model.current].filter(([, kv]) => kv.lease === id).map(([k]) => k).sort();
          model.write((w) => w.delete(attached));
          return model.revision;
        },
      );
    } else if (dice < 0.97) {
      checkRandomRange(label);
    } else {
      // A watcher from a random retained revision must see exactly the model's events.
      const start = model.compacted + 1 + Math.floor(random() * (model.revision - model.compacted + 1));
      const seen: string[] = [];
      const watcher = hub.watch({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), startRevision: start }, (b) => {
        seen.push(...b.events.map(describeEvent));
      });
      runScheduled();
      const expected = model.events.slice(start).flat().map((e) => e.replace(/<.*$/, ''));
      assert.deepEqual(seen, expected, `${label} watch from ${start}`);
      watcher.cancel();
    }

    assert.equal(store.keyCount, model.current.size, `${label} key count`);
    if (step % 500 === 499) {
      const restored = MvccStore.restore(store.snapshot());
      assert.deepEqual(restored.hash(), store.hash(), `${label} restored hash`);
      assert.equal(restored.keyCount, store.keyCount, `${label} restored key count`);
      assert.deepEqual(Buffer.from(restored.snapshot()), Buffer.from(store.snapshot()), `${label} snapshot bytes`);
    }
  }

  assert.deepEqual(liveEvents, model.events.flat(), `seed ${seed}: live watch stream`);
  assert.equal(store.revision, model.revision);
  hub.close();

  function checkRandomRange(label: string): void {
    const { key, end } = randomRange();
    const revision = randomRevision();
    const limit = chance(0.3) ? Math.floor(random() * 4) : 0;
    const sortOrder = chance(0.4) ? pick<SortOrder>(['NONE', 'ASCEND', 'DESCEND']) : undefined;
    const sortTarget = chance(0.4) ? pick<SortTarget>(['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE']) : undefined;
    const minModRevision = chance(0.15) ? Math.floor(random() * model.revision) : 0;
    const maxCreateRevision = chance(0.15) ? Math.floor(random() * model.revision) : 0;
    const countOnly = chance(0.1);
    const keysOnly = chance(0.1);
    const request: RangeRequest = {
      key: bytes(key),
      ...endBytes(end),
      revision,
      limit,
      sortOrder,
      sortTarget,
      minModRevision,
      maxCreateRevision,
      countOnly,
      keysOnly,
    };
    same(
      `${label} range ${JSON.stringify({ key, end, revision, limit, sortOrder, sortTarget, minModRevision, maxCreateRevision })}`,
      () => {
        const r = store.range(request);
        return { header: r.header.revision, kvs: r.kvs.map(describeKv), more: r.more, count: r.count };
      },
      () => {
        const state = model.stateAt(revision);
        let rows = keysIn(state, key, end).map((k): [string, ModelKv] => [k, state.get(k)!]);
        const count = rows.length;
        if (countOnly) return { header: model.revision, kvs: [], more: false, count };
        rows = rows.filter(([, kv]) => (!minModRevision || kv.mod >= minModRevision) && (!maxCreateRevision || kv.create <= maxCreateRevision));
        const target = sortTarget ?? 'KEY';
        const order = sortOrder ?? 'NONE';
        if (order !== 'NONE' || target !== 'KEY') sortModel(rows, target, order === 'NONE' ? 'ASCEND' : order);
        const more = limit > 0 && rows.length > limit;
        if (more) rows = rows.slice(0, limit);
        const kvs = rows.map(([k, kv]) => kvOf(k, keysOnly ? { ...kv, value: '' } : kv));
        return { header: model.revision, kvs, more, count };
      },
    );
  }

  function randomCompares(): Compare[] {
    const compares: Compare[] = [];
    for (let i = Math.floor(random() * 3); i > 0; i--) {
      const key = pick(KEYS);
      const target = pick<CompareTarget>(['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE']);
      const result = pick<CompareResult>(['EQUAL', 'NOT_EQUAL', 'GREATER', 'LESS']);
      const actual = model.current.get(key);
      const near = (n: number) => n + Math.floor(random() * 3) - 1;
      const c: Compare = { key: bytes(key), target, result };
      if (target === 'VALUE') c.value = bytes(chance(0.5) && actual ? actual.value : randomValue());
      if (target === 'VERSION') c.version = near(actual?.version ?? 0);
      if (target === 'CREATE') c.createRevision = near(actual?.create ?? 0);
      if (target === 'MOD') c.modRevision = near(actual?.mod ?? 0);
      if (target === 'LEASE') c.lease = chance(0.5) ? (actual?.lease ?? 0n) : pick(LEASE_IDS);
      compares.push(c);
    }
    return compares;
  }

  function randomTxnRange(key: string): RequestOp {
    const request: RangeRequest = { key: bytes(key) };
    if (chance(0.5)) request.rangeEnd = new Uint8Array([0]);
    if (chance(0.1)) request.revision = randomRevision();
    return { requestRange: request };
  }

  /** Ops for the top level; a nested txn only writes NESTED_KEYS, so the two never collide. */
  function randomOps(allowNested: boolean): RequestOp[] {
    const ops: RequestOp[] = [];
    for (let i = Math.floor(random() * 5); i > 0; i--) {
      const key = pick(KEYS);
      const r = random();
      const lease = chance(0.1) ? pick(LEASE_IDS) : 0n;
      if (r < 0.45) ops.push({ requestPut: { key: bytes(key), value: bytes(randomValue()), lease } });
      else if (r < 0.7) ops.push({ requestDeleteRange: { key: bytes(key) } });
      else ops.push(randomTxnRange(key));
    }
    if (allowNested && chance(0.25)) {
      const nestedOps = (): RequestOp[] =>
        NESTED_KEYS.filter(() => chance(0.5)).map((key) =>
          chance(0.7) ? { requestPut: { key: bytes(key), value: bytes(randomValue()) } } : randomTxnRange(key),
        );
      ops.splice(Math.floor(random() * (ops.length + 1)), 0, {
        requestTxn: { compare: randomCompares(), success: nestedOps(), failure: nestedOps() },
      });
    }
    return ops;
  }

  function describeResponses(responses: ResponseOp[]): string[] {
    return responses.map((op) => {
      if (op.responseRange) return op.responseRange.kvs.map(describeKv).join(',');
      if (op.responsePut) return `put@${op.responsePut.header.revision}`;
      if (op.responseDeleteRange) return `deleted ${op.responseDeleteRange.deleted}`;
      const t = op.responseTxn!;
      return `txn ${t.succeeded} [${describeResponses(t.responses).join(' | ')}]`;
    });
  }

  function runRandomTxn(label: string): void {
    const request: TxnRequest = { compare: randomCompares(), success: randomOps(true), failure: randomOps(true) };
    same(
      `${label} txn`,
      () => {
        const r = apply({ txn: request });
        return { revision: r.header.revision, succeeded: r.succeeded, results: describeResponses(r.responses) };
      },
      () => {
        checkDuplicates(request.success!);
        checkDuplicates(request.failure!);
        // Every branch decision is made on the state before the txn.
        const before = model.current;
        const decisions: boolean[] = [];
        const decide = (t: TxnRequest): void => {
          const ok = (t.compare ?? []).every((c) => modelCompare(before, c));
          decisions.push(ok);
          for (const op of (ok ? t.success : t.failure) ?? []) if (op.requestTxn) decide(op.requestTxn);
        };
        decide(request);
        const chosen: RequestOp[] = [];
        const collect = (t: TxnRequest, path: boolean[]): void => {
          for (const op of (path.shift() ? t.success : t.failure) ?? []) {
            if (op.requestTxn) collect(op.requestTxn, path);
            else chosen.push(op);
          }
        };
        collect(request, [...decisions]);
        for (const op of chosen) {
          const lease = op.requestPut?.lease ?? 0n;
          if (lease !== 0n && !model.leases.has(lease)) throw new ModelError(LEASE_NOT_FOUND);
        }
        for (const op of chosen) if (op.requestRange?.revision && op.requestRange.revision > 0) model.stateAt(op.requestRange.revision);

        return model.write((w) => {
          const path = [...decisions];
          const run = (t: TxnRequest): string[] =>
            ((path.shift() ? t.success : t.failure) ?? []).map((op) => {
              if (op.requestPut) {
                w.put(text(op.requestPut.key), text(op.requestPut.value!), op.requestPut.lease ?? 0n);
                return `put@${w.revision}`;
              }
              if (op.requestDeleteRange) return `deleted ${w.delete([text(op.requestDeleteRange.key)]).length}`;
              if (op.requestTxn) {
                const succeeded = path[0]!;
                return `txn ${succeeded} [${run(op.requestTxn).join(' | ')}]`;
              }
              const r = op.requestRange!;
              const state = r.revision && r.revision > 0 ? model.stateAt(r.revision) : w.state;
              return keysIn(state, text(r.key), r.rangeEnd ? '\0' : undefined)
                .map((k) => kvOf(k, state.get(k)!))
                .join(',');
            });
          const succeeded = decisions[0]!;
          const results = run(request);
          return { revision: w.events.length > 0 ? w.revision : w.revision - 1, succeeded, results };
        });
      },
    );
  }
}

function checkDuplicates(ops: RequestOp[]): void {
  const deleted = new Set(ops.filter((op) => op.requestDeleteRange).map((op) => text(op.requestDeleteRange!.key)));
  const put = new Set<string>();
  for (const op of ops) {
    if (!op.requestPut) continue;
    const key = text(op.requestPut.key);
    if (put.has(key) || deleted.has(key)) throw new ModelError(DUPLICATE_KEY);
    put.add(key);
  }
}

function modelCompare(state: State, c: Compare): boolean {
  const kv = state.get(text(c.key));
  if (!kv && c.target === 'VALUE') return false;
  const [actual, wanted]: [string | number | bigint, string | number | bigint] =
    c.target === 'VALUE'
      ? [kv!.value, text(c.value!)]
      : c.target === 'VERSION'
        ? [kv?.version ?? 0, c.version!]
        : c.target === 'CREATE'
          ? [kv?.create ?? 0, c.createRevision!]
          : c.target === 'MOD'
            ? [kv?.mod ?? 0, c.modRevision!]
            : [kv?.lease ?? 0n, c.lease!];
  switch (c.result) {
    case 'EQUAL':
      return actual === wanted;
    case 'NOT_EQUAL':
      return actual !== wanted;
    case 'GREATER':
      return actual > wanted;
    case 'LESS':
      return actual < wanted;
  }
}

describe('store against a reference model', () => {
  for (const seed of [1, 2, 3, 20261122]) {
    it(`agrees over 3000 random operations (seed ${seed})`, () => {
      runRandom(seed, 3000);
    });
  }
});

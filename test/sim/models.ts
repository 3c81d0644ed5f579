// Sequential specifications for the linearizability checker.
//
// kvModel: a map from string keys to string values with get, put, append and
// compare-and-swap; a missing key reads as ''. Keys are independent, so the
// model partitions a history by key and the checker handles each key alone.
// Within a key it also leaves out lost writes whose effect no operation could
// ever have seen (see dropInvisibleWrites): they cannot change the verdict,
// and they are what makes the search expensive.
import type { Model, Operation } from './linearizability.js';

type KvOperation = Operation<KvModelInput, KvModelOutput>;

export type KvModelInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string }
  | { op: 'cas'; key: string; expect: string; value: string };

/** `{ value }` for get, `{}` for put and append, `{ ok }` for cas. */
export type KvModelOutput = { value: string } | { ok: boolean } | Record<string, never>;

/**
 * The whole map. Keys holding '' are left out, so a key set to '' and a key
 * never written (which read the same) have the same memoisation key.
 */
export type KvModelState = ReadonlyMap<string, string>;

function withValue(state: KvModelState, key: string, value: string): KvModelState {
  const next = new Map(state);
  if (value === '') next.delete(key);
  else next.set(key, value);
  return next;
}

/** Splits a key-value history into one sub-history per key, keeping order. */
export function partitionByKey(history: KvOperation[]): KvOperation[][] {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of history) {
    let list = byKey.get(op.input.key);
    if (list === undefined) {
      list = [];
      byKey.set(op.input.key, list);
    }
    list.push(op);
  }
  return [...byKey.values()];
}

/** Past this much string scanning the reduction is skipped (it is only an optimisation). */
const SCAN_LIMIT = 50_000_000;

/**
 * Given the operations on ONE key, returns them without the lost writes
 * (output unknown) that provably do not matter: the history without them is
 * linearizable exactly when the history with them is.
 *
 * A lost put, append or cas writing a non-empty string w is left out when
 *  (a) no get output and no cas expectation in the history contains w, and
 *  (b) every cas answered "not swapped" either returned before the lost write
 *      was called, or expected '' while '' can no longer be the value: no
 *      operation writes '' and an answered non-empty write returned before
 *      the lost write was called.
 * Why: take a linearization that includes the lost write W. Until the next
 * put or successful cas, every value of the key contains w, so by (a) no
 * answered get or successful cas falls in that stretch, and no cas could
 * swap there. Remove W and drop any unanswered operation whose outcome would
 * change: values in the stretch change, but only appends (always legal) and,
 * by (b), failed cas whose expectation still cannot match remain; after the
 * stretch the values are the same again. So the history without W is
 * linearizable too. The converse holds because W may always never happen.
 * The conditions only mention gets, cas expectations and answered operations,
 * none of which are removed, so many lost writes can be removed at once.
 */
export function dropInvisibleWrites(ops: KvOperation[]): KvOperation[] {
  const lost = ops.filter((o) => o.output === undefined && o.input.op !== 'get');
  if (lost.length === 0) return ops;
  const seen = new Set<string>();
  let writesEmpty = false;
  let firstNonEmptyWrite = Infinity;
  const failedCas: KvOperation[] = [];
  for (const o of ops) {
    const i = o.input;
    if (i.op === 'get') {
      if (o.output !== undefined && 'value' in o.output) seen.add(o.output.value);
      continue;
    }
    if (i.op === 'cas') seen.add(i.expect);
    if (i.op !== 'append' && i.value === '') writesEmpty = true;
    if (o.output === undefined || !Number.isFinite(o.ret)) continue;
    const wrote = i.op === 'cas' ? 'ok' in o.output && o.output.ok : true;
    if (wrote && i.value !== '') firstNonEmptyWrite = Math.min(firstNonEmptyWrite, o.ret);
    if (i.op === 'cas' && 'ok' in o.output && !o.output.ok) failedCas.push(o);
  }
  const observed = [...seen];
  const total = observed.reduce((n, v) => n + v.length + 1, 0);
  if (total * lost.length > SCAN_LIMIT) return ops;
  const joined = observed.join('\u0000');
  const invisible = new Set<KvOperation>();
  for (const w of lost) {
    const value = (w.input as { value: string }).value;
    if (value === '') continue;
    const shown = value.includes('\u0000') ? observed.some((v) => v.includes(value)) : joined.includes(value);
    if (shown) continue;
    const emptyImpossible = !writesEmpty && firstNonEmptyWrite < w.call;
    const casOk = failedCas.every(
      (c) => c.ret < w.call || ((c.input as { expect: string }).expect === '' && emptyImpossible),
    );
    if (casOk) invisible.add(w);
  }
  return invisible.size === 0 ? ops : ops.filter((o) => !invisible.has(o));
}

function quote(s: string): string {
  return JSON.stringify(s);
}

export const kvModel: Model<KvModelState, KvModelInput, KvModelOutput> = {
  init(): KvModelState {
    return new Map();
  },

  step(state, input, output) {
    const current = state.get(input.key) ?? '';
    switch (input.op) {
      case 'get': {
        const ok = output === undefined || ('value' in output && output.value === current);
        return { ok, state };
      }
      case 'put':
        return { ok: true, state: withValue(state, input.key, input.value) };
      case 'append':
        return { ok: true, state: withValue(state, input.key, current + input.value) };
      case 'cas': {
        const swapped = current === input.expect;
        const ok = output === undefined || ('ok' in output && output.ok === swapped);
        return { ok, state: swapped ? withValue(state, input.key, input.value) : state };
      }
    }
  },

  key(state) {
    // Entries in key order as `<len>:<key>=<len>:<value>;`: unambiguous,
    // readable in explanations, and cheap to build (long appended values are
    // not escaped).
    if (state.size === 0) return '';
    if (state.size === 1) {
      const [[k, v]] = state;
      return `${k.length}:${k}=${v.length}:${v};`;
    }
    const keys = [...state.keys()].sort();
    let out = '';
    for (const k of keys) {
      const v = state.get(k) as string;
      out += `${k.length}:${k}=${v.length}:${v};`;
    }
    return out;
  },

  partition(history) {
    return partitionByKey(history).map(dropInvisibleWrites);
  },

  readOnly(input, output) {
    // A get never writes; a cas answered "not swapped" is legal only where it
    // does not swap.
    if (input.op === 'get') return true;
    return input.op === 'cas' && output !== undefined && 'ok' in output && !output.ok;
  },

  describe(input, output) {
    const unknown = output === undefined;
    switch (input.op) {
      case 'get':
        return `get(${quote(input.key)}) -> ${unknown ? '?' : 'value' in output ? quote(output.value) : JSON.stringify(output)}`;
      case 'put':
        return `put(${quote(input.key)}, ${quote(input.value)})${unknown ? ' -> ?' : ''}`;
      case 'append':
        return `append(${quote(input.key)}, ${quote(input.value)})${unknown ? ' -> ?' : ''}`;
      case 'cas': {
        const result = unknown ? '?' : 'ok' in output ? (output.ok ? 'swapped' : 'not swapped') : JSON.stringify(output);
        return `cas(${quote(input.key)}, expect ${quote(input.expect)}, set ${quote(input.value)}) -> ${result}`;
      }
    }
  },
};

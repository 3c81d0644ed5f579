// Sequential specifications for the linearizability checker.
//
// kvModel: a map from string keys to string values with get, put, append and
// compare-and-swap; a missing key reads as ''. Keys are independent, so the
// model partitions a history by key and the checker handles each key alone.
// Within a key it also simplifies the history in two verdict-preserving ways
// that matter a great deal for the search (see dropInvisibleWrites and
// markUnobservedWrites): lost writes that nothing could have seen are left
// out, and writes of a string that no read or cas ever mentions are marked,
// so that every value containing such a string counts as one state.
import type { Model, Operation } from './linearizability.js';

export type KvOperation = Operation<KvModelInput, KvModelOutput>;

export type KvModelInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string }
  | { op: 'cas'; key: string; expect: string; value: string };

/** `{ value }` for get, `{}` for put and append, `{ ok }` for cas. */
export type KvModelOutput = { value: string } | { ok: boolean } | Record<string, never>;

/**
 * Stands for any value that contains a string written by a marked operation
 * (see markUnobservedWrites). No get can return such a value and no cas can
 * expect it, so all of them behave alike.
 */
export const UNOBSERVED: unique symbol = Symbol('unobserved value');

/**
 * The whole map. Keys holding '' are left out, so a key set to '' and a key
 * never written (which read the same) have the same memoisation key.
 */
export type KvModelState = ReadonlyMap<string, string | typeof UNOBSERVED>;

/** Inputs (rewritten copies) whose written value no get or cas mentions. */
const unobservedInputs = new WeakSet<KvModelInput>();

function withValue(state: KvModelState, key: string, value: string | typeof UNOBSERVED): KvModelState {
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
  let writesEmpty = false;
  let firstNonEmptyWrite = Infinity;
  const failedCas: KvOperation[] = [];
  for (const o of ops) {
    const i = o.input;
    if (i.op === 'get') continue;
    if (i.op !== 'append' && i.value === '') writesEmpty = true;
    if (o.output === undefined || !Number.isFinite(o.ret)) continue;
    const wrote = i.op === 'cas' ? 'ok' in o.output && o.output.ok : true;
    if (wrote && i.value !== '') firstNonEmptyWrite = Math.min(firstNonEmptyWrite, o.ret);
    if (i.op === 'cas' && 'ok' in o.output && !o.output.ok) failedCas.push(o);
  }
  const mentioned = mentionedStrings(ops, lost.length);
  if (mentioned === null) return ops;
  const invisible = new Set<KvOperation>();
  for (const w of lost) {
    const value = (w.input as { value: string }).value;
    if (value === '' || mentioned.contains(value)) continue;
    const emptyImpossible = !writesEmpty && firstNonEmptyWrite < w.call;
    const casOk = failedCas.every(
      (c) => c.ret < w.call || ((c.input as { expect: string }).expect === '' && emptyImpossible),
    );
    if (casOk) invisible.add(w);
  }
  return invisible.size === 0 ? ops : ops.filter((o) => !invisible.has(o));
}

/**
 * Marks the writes (on ONE key) whose non-empty written string appears in no
 * get output and no cas expectation of the history. The marked operations are
 * copies with a fresh input; the model then turns a value into UNOBSERVED as
 * soon as a marked write puts its string into it. The verdict is unchanged:
 * once a value contains such a string, until the next put or swap no answered
 * get can match it (its output does not contain the string), no cas can swap
 * (its expectation does not contain it), appends keep the string in, and a
 * put or swap replaces the value whatever it was, so the real value and
 * UNOBSERVED accept exactly the same operations. Orders of concurrent writes
 * that are overwritten before anyone reads them then lead to the same state,
 * which is what keeps busy keys cheap to check.
 */
export function markUnobservedWrites(ops: KvOperation[]): KvOperation[] {
  const writes = ops.filter((o) => o.input.op !== 'get' && o.input.value !== '');
  if (writes.length === 0) return ops;
  const mentioned = mentionedStrings(ops, writes.length);
  if (mentioned === null) return ops;
  const marked = new Map<KvOperation, KvOperation>();
  for (const o of writes) {
    if (mentioned.contains((o.input as { value: string }).value)) continue;
    const input = { ...o.input };
    unobservedInputs.add(input);
    marked.set(o, { ...o, input });
  }
  return marked.size === 0 ? ops : ops.map((o) => marked.get(o) ?? o);
}

/**
 * The get outputs and cas expectations of a history, with a substring test;
 * null when testing `queries` strings would scan more than SCAN_LIMIT.
 */
function mentionedStrings(ops: KvOperation[], queries: number): { contains(s: string): boolean } | null {
  const seen = new Set<string>();
  for (const o of ops) {
    const i = o.input;
    if (i.op === 'get') {
      if (o.output !== undefined && 'value' in o.output) seen.add(o.output.value);
    } else if (i.op === 'cas') {
      seen.add(i.expect);
    }
  }
  const list = [...seen];
  const total = list.reduce((n, v) => n + v.length + 1, 0);
  if (total * queries > SCAN_LIMIT) return null;
  // Joined with a separator; a string holding the separator is tested one by one.
  const joined = list.join('\u0000');
  return {
    contains: (x) => (x.includes('\u0000') ? list.some((v) => v.includes(x)) : joined.includes(x)),
  };
}

function quote(s: string): string {
  return JSON.stringify(s);
}

export const kvModel: Model<KvModelState, KvModelInput, KvModelOutput> = {
  init(): KvModelState {
    return new Map();
  },

  step(state, input, output) {
    const raw = state.get(input.key);
    const hidden = raw === UNOBSERVED;
    const current = typeof raw === 'string' ? raw : '';
    const marked = unobservedInputs.has(input);
    switch (input.op) {
      case 'get': {
        const ok = output === undefined || (!hidden && 'value' in output && output.value === current);
        return { ok, state };
      }
      case 'put':
        return { ok: true, state: withValue(state, input.key, marked ? UNOBSERVED : input.value) };
      case 'append':
        return { ok: true, state: withValue(state, input.key, hidden || marked ? UNOBSERVED : current + input.value) };
      case 'cas': {
        const swapped = !hidden && current === input.expect;
        const ok = output === undefined || ('ok' in output && output.ok === swapped);
        if (!swapped) return { ok, state };
        return { ok, state: withValue(state, input.key, marked ? UNOBSERVED : input.value) };
      }
    }
  },

  key(state) {
    // Entries in key order as `<len>:<key>=<len>:<value>;` (or `=?;` for
    // UNOBSERVED): unambiguous, readable in explanations, and cheap to build
    // (long appended values are not escaped).
    const entry = (k: string, v: string | typeof UNOBSERVED): string =>
      v === UNOBSERVED ? `${k.length}:${k}=?;` : `${k.length}:${k}=${v.length}:${v};`;
    if (state.size === 0) return '';
    if (state.size === 1) {
      const [[k, v]] = state;
      return entry(k, v);
    }
    let out = '';
    for (const k of [...state.keys()].sort()) out += entry(k, state.get(k) as string | typeof UNOBSERVED);
    return out;
  },

  partition(history) {
    return partitionByKey(history).map((ops) => markUnobservedWrites(dropInvisibleWrites(ops)));
  },

  readOnly(input, output) {
    // A get never writes; a cas answered "not swapped" is legal only where it
    // does not swap.
    if (input.op === 'get') return true;
    return input.op === 'cas' && output !== undefined && 'ok' in output && !output.ok;
  },

  describe(input, output) {
    const unknown = output === undefined;
    const note = unobservedInputs.has(input) ? ' [value never read]' : '';
    switch (input.op) {
      case 'get':
        return `get(${quote(input.key)}) -> ${unknown ? '?' : 'value' in output ? quote(output.value) : JSON.stringify(output)}`;
      case 'put':
        return `put(${quote(input.key)}, ${quote(input.value)})${unknown ? ' -> ?' : ''}${note}`;
      case 'append':
        return `append(${quote(input.key)}, ${quote(input.value)})${unknown ? ' -> ?' : ''}${note}`;
      case 'cas': {
        const result = unknown ? '?' : 'ok' in output ? (output.ok ? 'swapped' : 'not swapped') : JSON.stringify(output);
        return `cas(${quote(input.key)}, expect ${quote(input.expect)}, set ${quote(input.value)}) -> ${result}${note}`;
      }
    }
  },
};

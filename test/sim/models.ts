// Sequential specifications for the linearizability checker.
//
// kvModel: a map from string keys to string values with get, put, append and
// compare-and-swap; a missing key reads as ''. Keys are independent, so the
// model partitions a history by key and the checker handles each key alone.
import type { Model, Operation } from './linearizability.js';

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
    const byKey = new Map<string, Operation<KvModelInput, KvModelOutput>[]>();
    for (const op of history) {
      let list = byKey.get(op.input.key);
      if (list === undefined) {
        list = [];
        byKey.set(op.input.key, list);
      }
      list.push(op);
    }
    return [...byKey.values()];
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

// The lease profile's sequential specification, for the linearizability
// checker (test/sim/linearizability.ts).
//
// Keys live in groups (`kl<g>/a`, `kl<g>/b`); a lease belongs to one group
// and is only attached to keys of that group, so the history splits into
// one independent sub-history per group. The state of a group is its keys
// (value and attached lease) and the set of its leases that are alive.
//
// Expiry. A lease that is not revoked expires some time after its grant,
// at a moment nobody records (the leader decides it, and a leader change
// restarts the clock). As in etcd's robustness suite the model is loose
// about when: an alive lease may expire at any moment. It is not a recorded
// operation: the model expires a lease lazily, at the first operation whose
// answer tells that it is gone (a read missing one of its keys, a
// keep-alive answered with TTL 0, a put or revoke answered "lease not
// found"), and only then. That is exact, not an approximation: in any
// linearization with hidden expiries, an expiry commutes with every
// operation that cannot tell whether the lease is alive (puts without it,
// deletes, reads of keys not attached to it, anything on other leases), so
// it can always be moved to just before the first operation that can tell,
// or dropped when none can. Answered operations tell exactly one way, so
// the step stays deterministic and the search gains no branches.
//
// What the model rejects: a read that sees a key whose lease was revoked
// (or had expired: a keep-alive said TTL 0) before the read began; a read
// that misses a key put without a lease; a lease revoked or kept alive
// after it was found gone; a read that sees one key of a lease and misses
// another (revoke and expiry are atomic); a read that reports the wrong
// lease on a key.
import type { Model, Operation } from '../sim/linearizability.js';

export type LeaseInput =
  | { op: 'grant'; group: string; lease: string }
  /** A put, with a lease ('' for none). */
  | { op: 'put'; group: string; key: string; value: string; lease: string }
  | { op: 'delete'; group: string; key: string }
  | { op: 'revoke'; group: string; lease: string }
  | { op: 'keepalive'; group: string; lease: string }
  /** A read of one key. */
  | { op: 'get'; group: string; key: string }
  /** A read of every key of the group. */
  | { op: 'list'; group: string };

export interface LeaseKv {
  key: string;
  value: string;
  /** The attached lease, '' for none. */
  lease: string;
}

/**
 * `{ ok }` for grant, put, delete (true: done; false for a put: "lease not
 * found"), revoke (false: "lease not found") and keep-alive (false: TTL 0);
 * `{ kvs }` for get and list (sorted by key).
 */
export type LeaseOutput = { ok: boolean } | { kvs: LeaseKv[] };

export type LeaseOperation = Operation<LeaseInput, LeaseOutput>;

export interface LeaseState {
  /** key -> value and lease. */
  readonly kvs: ReadonlyMap<string, { value: string; lease: string }>;
  /** Leases granted, neither revoked nor expired. */
  readonly alive: ReadonlySet<string>;
}

const EMPTY: LeaseState = { kvs: new Map(), alive: new Set() };

/** The state with `leases` gone: removed from the alive set, their keys deleted. */
function expire(s: LeaseState, leases: ReadonlySet<string>): LeaseState {
  if (leases.size === 0) return s;
  const kvs = new Map(s.kvs);
  for (const [k, v] of s.kvs) if (v.lease !== '' && leases.has(v.lease)) kvs.delete(k);
  const alive = new Set(s.alive);
  for (const l of leases) alive.delete(l);
  return { kvs, alive };
}

function expireOne(s: LeaseState, lease: string): LeaseState {
  return s.alive.has(lease) ? expire(s, new Set([lease])) : s;
}

function sameKv(want: { value: string; lease: string } | undefined, got: LeaseKv): boolean {
  return want !== undefined && want.value === got.value && want.lease === got.lease;
}

/**
 * A read that saw `seen` (complete for the keys in `covered`): the leases it
 * shows gone are expired first, then the state must match exactly.
 */
function read(s: LeaseState, covered: (key: string) => boolean, seen: readonly LeaseKv[]): { ok: boolean; state: LeaseState } {
  const seenKeys = new Map(seen.map((kv) => [kv.key, kv]));
  const gone = new Set<string>();
  for (const [k, v] of s.kvs) {
    if (!covered(k) || seenKeys.has(k)) continue;
    // A key the read missed: only an alive lease's expiry can explain it.
    if (v.lease === '' || !s.alive.has(v.lease)) return { ok: false, state: s };
    gone.add(v.lease);
  }
  const next = expire(s, gone);
  for (const kv of seen) if (!covered(kv.key) || !sameKv(next.kvs.get(kv.key), kv)) return { ok: false, state: s };
  // (Expiring a lease deletes all its keys: a read that saw one of them is rejected above.)
  return { ok: true, state: next };
}

export const leaseModel: Model<LeaseState, LeaseInput, LeaseOutput> = {
  init: () => EMPTY,

  step(s, input, output) {
    const answered = output !== undefined;
    const ok = answered && 'ok' in output ? output.ok : undefined;
    switch (input.op) {
      case 'grant': {
        if (answered && ok !== true) return { ok: false, state: s };
        const alive = new Set(s.alive);
        alive.add(input.lease);
        return { ok: true, state: { kvs: s.kvs, alive } };
      }
      case 'put': {
        const withLease = input.lease !== '';
        if (withLease && !s.alive.has(input.lease)) {
          // Not found: legal (the lease is gone); done: illegal; unknown: it did nothing.
          return { ok: ok !== true, state: s };
        }
        if (withLease && ok === false) {
          // "Lease not found" while alive here: it expired just now.
          return { ok: true, state: expireOne(s, input.lease) };
        }
        if (answered && ok !== true) return { ok: false, state: s };
        const kvs = new Map(s.kvs);
        kvs.set(input.key, { value: input.value, lease: input.lease });
        return { ok: true, state: { kvs, alive: s.alive } };
      }
      case 'delete': {
        if (answered && ok !== true) return { ok: false, state: s };
        if (!s.kvs.has(input.key)) return { ok: true, state: s };
        const kvs = new Map(s.kvs);
        kvs.delete(input.key);
        return { ok: true, state: { kvs, alive: s.alive } };
      }
      case 'revoke': {
        // Done: it was alive and its keys go. Not found: gone already (or expiring now).
        if (ok === true) return { ok: s.alive.has(input.lease), state: expireOne(s, input.lease) };
        return { ok: true, state: expireOne(s, input.lease) };
      }
      case 'keepalive': {
        if (ok === true) return { ok: s.alive.has(input.lease), state: s };
        // TTL 0 (or unknown: a keep-alive changes nothing the model tracks).
        return { ok: true, state: ok === false ? expireOne(s, input.lease) : s };
      }
      case 'get':
      case 'list': {
        if (!answered) return { ok: true, state: s };
        if (!('kvs' in output)) return { ok: false, state: s };
        const covered = input.op === 'get' ? (k: string): boolean => k === input.key : (): boolean => true;
        return read(s, covered, output.kvs);
      }
    }
  },

  key(s) {
    let out = '';
    for (const k of [...s.kvs.keys()].sort()) {
      const v = s.kvs.get(k)!;
      out += `${k.length}:${k}=${v.value.length}:${v.value}@${v.lease};`;
    }
    return `${out}|${[...s.alive].sort().join(',')}`;
  },

  partition(history) {
    const byGroup = new Map<string, LeaseOperation[]>();
    for (const op of history) {
      let list = byGroup.get(op.input.group);
      if (list === undefined) byGroup.set(op.input.group, (list = []));
      list.push(op);
    }
    return [...byGroup.values()];
  },

  readOnly(input, output) {
    // Legal only where nothing changes: a keep-alive that found the lease,
    // and a get that saw its key. (A read that misses a key may expire a
    // lease, so a list or an empty get is not read-only.)
    if (output === undefined) return false;
    if (input.op === 'keepalive') return 'ok' in output && output.ok;
    if (input.op === 'get') return 'kvs' in output && output.kvs.length > 0;
    return false;
  },

  describe(input, output) {
    const out = output === undefined ? '?' : 'ok' in output ? (output.ok ? 'ok' : 'not found') : JSON.stringify(output.kvs.map((kv) => `${kv.key}=${kv.value}${kv.lease ? `@${kv.lease}` : ''}`));
    switch (input.op) {
      case 'grant':
        return `grant(${input.lease}) -> ${out}`;
      case 'put':
        return `put(${input.key}, ${input.value}${input.lease ? `, lease ${input.lease}` : ''}) -> ${out}`;
      case 'delete':
        return `delete(${input.key}) -> ${out}`;
      case 'revoke':
        return `revoke(${input.lease}) -> ${out}`;
      case 'keepalive':
        return `keepalive(${input.lease}) -> ${output === undefined ? '?' : 'ok' in output && output.ok ? 'TTL > 0' : 'TTL 0'}`;
      case 'get':
        return `get(${input.key}) -> ${out}`;
      case 'list':
        return `list(group ${input.group}) -> ${out}`;
    }
  },
};

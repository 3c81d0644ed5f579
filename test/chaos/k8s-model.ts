// The Kubernetes profile's sequential specification, for the
// linearizability checker, and the list-then-watch check.
//
// kube-apiserver keeps objects at `/registry/<kind>/<name>` and writes them
// with optimistic transactions guarded by mod_revision: create is
// `mod_revision(key) == 0` then put; update and delete are
// `mod_revision(key) == seen` then put or delete; either way the failure
// branch reads the key, so a conflict returns the current object. Lists are
// paginated ranges over `/registry/<kind>/` at one revision.
//
// The state of a kind is its objects, each with its value and mod_revision.
// Revisions are global (every write anywhere in the cluster, lease expiries
// included, takes one), so the model does not count them: a successful
// write sets the key's mod_revision to the revision the transaction
// answered with. A write whose outcome is unknown has no answer; its
// revision is taken from a read that saw its value (values are unique to
// the run), and a write nobody saw gets an unknown revision that no
// compare can match (a compare names a revision some read saw, and one
// revision of a key belongs to one write). Each kind is checked alone: a
// list reads every key of one kind.
import type { Model, Operation } from '../sim/linearizability.js';
import type { WatchSessionRecord } from './watch-checker.js';

export interface K8sObject {
  key: string;
  value: string;
  /** mod_revision. */
  rev: number;
}

export type K8sInput =
  | { op: 'create'; kind: string; key: string; value: string; /** Filled in for an unknown outcome (see partition). */ rev?: number }
  | { op: 'update'; kind: string; key: string; value: string; expect: number; rev?: number }
  | { op: 'delete'; kind: string; key: string; expect: number }
  | { op: 'get'; kind: string; key: string }
  | { op: 'list'; kind: string };

/**
 * Writes: `{ ok: true, rev }` (done, at revision rev) or `{ ok: false, cur }`
 * (the compare failed; cur is what the failure branch read, null for no
 * object). Reads: `{ kvs }` sorted by key.
 */
export type K8sOutput = { ok: true; rev: number } | { ok: false; cur: { value: string; rev: number } | null } | { kvs: K8sObject[] };

export type K8sOperation = Operation<K8sInput, K8sOutput>;

export type K8sState = ReadonlyMap<string, { value: string; rev: number }>;

/** The revision of a write nobody saw. */
const UNSEEN = -1;

function sameObject(want: { value: string; rev: number } | undefined, got: { value: string; rev: number } | null): boolean {
  if (want === undefined || got === null) return want === undefined && got === null;
  return want.value === got.value && want.rev === got.rev && want.rev !== UNSEEN;
}

export const k8sModel: Model<K8sState, K8sInput, K8sOutput> = {
  init: () => new Map(),

  step(s, input, output) {
    switch (input.op) {
      case 'get':
      case 'list': {
        if (output === undefined) return { ok: true, state: s };
        if (!('kvs' in output)) return { ok: false, state: s };
        if (input.op === 'get') {
          if (output.kvs.length > 1 || output.kvs.some((o) => o.key !== input.key)) return { ok: false, state: s };
          return { ok: sameObject(s.get(input.key), output.kvs[0] ?? null), state: s };
        }
        if (output.kvs.length !== s.size) return { ok: false, state: s };
        return { ok: output.kvs.every((o) => sameObject(s.get(o.key), o)), state: s };
      }
      default: {
        const cur = s.get(input.key);
        const expect = input.op === 'create' ? 0 : input.expect;
        const matches = cur === undefined ? expect === 0 : cur.rev !== UNSEEN && cur.rev === expect;
        if (output !== undefined && 'kvs' in output) return { ok: false, state: s };
        if (output !== undefined && !output.ok) return { ok: !matches && sameObject(cur, output.cur), state: s };
        if (!matches) return { ok: output === undefined, state: s };
        const next = new Map(s);
        if (input.op === 'delete') next.delete(input.key);
        else next.set(input.key, { value: input.value, rev: output !== undefined ? output.rev : (input.rev ?? UNSEEN) });
        return { ok: true, state: next };
      }
    }
  },

  key(s) {
    let out = '';
    for (const k of [...s.keys()].sort()) {
      const o = s.get(k)!;
      out += `${k}=${o.value.length}:${o.value}@${o.rev};`;
    }
    return out;
  },

  partition(history) {
    // The revision each value was seen at, for writes with an unknown outcome.
    const seenAt = new Map<string, number>();
    for (const op of history) {
      const out = op.output;
      if (out === undefined) continue;
      if ('kvs' in out) for (const o of out.kvs) seenAt.set(o.value, o.rev);
      else if (!out.ok && out.cur !== null) seenAt.set(out.cur.value, out.cur.rev);
    }
    const byKind = new Map<string, K8sOperation[]>();
    for (const op of history) {
      let list = byKind.get(op.input.kind);
      if (list === undefined) byKind.set(op.input.kind, (list = []));
      const i = op.input;
      const rev = op.output === undefined && (i.op === 'create' || i.op === 'update') ? seenAt.get(i.value) : undefined;
      list.push(rev === undefined ? op : { ...op, input: { ...i, rev } as K8sInput });
    }
    return [...byKind.values()];
  },

  readOnly(input, output) {
    if (output === undefined) return false;
    if (input.op === 'get' || input.op === 'list') return true;
    // A failed compare is legal only where it changes nothing.
    return 'ok' in output && !output.ok;
  },

  describe(input, output) {
    const obj = (o: { value: string; rev: number } | null): string => (o === null ? 'none' : `${o.value}@${o.rev}`);
    const out =
      output === undefined
        ? '?'
        : 'kvs' in output
          ? JSON.stringify(output.kvs.map((o) => `${o.key}=${obj(o)}`))
          : output.ok
            ? `done @${output.rev}`
            : `conflict, current ${obj(output.cur)}`;
    switch (input.op) {
      case 'create':
        return `create(${input.key}, ${input.value}) -> ${out}`;
      case 'update':
        return `update(${input.key}, ${input.value}, if mod_revision ${input.expect}) -> ${out}`;
      case 'delete':
        return `delete(${input.key}, if mod_revision ${input.expect}) -> ${out}`;
      case 'get':
        return `get(${input.key}) -> ${out}`;
      case 'list':
        return `list(${input.kind}) -> ${out}`;
    }
  },
};

/**
 * An informer's watch started right after its list: the list at `revision`
 * and the session that watched the same prefix from revision + 1 with
 * prev_kv. The first event of each key must carry, as prev_kv, the object
 * the list returned (or none when the list had none): a watch that starts
 * where a list ended continues it exactly.
 */
export function checkListThenWatch(list: { revision: number; kvs: readonly K8sObject[] }, session: WatchSessionRecord): string[] {
  const listed = new Map(list.kvs.map((o) => [o.key, o]));
  const seen = new Set<string>();
  const out: string[] = [];
  if (session.startRevision !== list.revision + 1) out.push(`watch ${session.id} started at ${session.startRevision}, not right after its list at ${list.revision}`);
  for (const r of session.responses) {
    for (const e of r.events) {
      if (seen.has(e.key)) continue;
      seen.add(e.key);
      if (e.modRevision <= list.revision) continue; // reported by the watch checker (resumable)
      const want = listed.get(e.key);
      const got = e.prevKv;
      const same = want === undefined ? got === undefined : got !== undefined && got.value === want.value && got.modRevision === want.rev;
      if (!same) {
        out.push(
          `list-then-watch: watch ${session.id} after the list at ${list.revision}: the first event of ${e.key} (@${e.modRevision}) has prev_kv ` +
            `${got ? `${got.value}@${got.modRevision}` : 'none'}, the list had ${want ? `${want.value}@${want.rev}` : 'none'}`,
        );
      }
    }
  }
  return out;
}

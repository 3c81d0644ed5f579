// The Kubernetes profile's model and the list-then-watch check: histories
// that break mod_revision-guarded writes or lists are rejected, legal ones
// accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizable } from '../sim/linearizability.js';
import { checkListThenWatch, k8sModel, type K8sInput, type K8sObject, type K8sOperation, type K8sOutput } from './k8s-model.js';
import type { WatchSessionRecord } from './watch-checker.js';

const KIND = 'pods';
const A = '/registry/pods/a';
const B = '/registry/pods/b';
let clock = 0;
/** Omit over each member of a union. */
type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
function op(input: Without<K8sInput, 'kind'>, output: K8sOutput | undefined, at?: { call: number; ret: number }): K8sOperation {
  const call = at?.call ?? (clock += 2);
  const ret = output === undefined ? Infinity : (at?.ret ?? call + 1);
  return { clientId: 0, input: { kind: KIND, ...input } as K8sInput, output, call, ret };
}
const done = (rev: number): K8sOutput => ({ ok: true, rev });
const conflict = (cur: { value: string; rev: number } | null): K8sOutput => ({ ok: false, cur });
const read = (...kvs: K8sObject[]): K8sOutput => ({ kvs });
const check = (h: K8sOperation[]): string => checkLinearizable(k8sModel, h).result;

test('k8s model: guarded writes follow mod_revision', () => {
  const h = [
    op({ op: 'create', key: A, value: 'o1' }, done(5)),
    op({ op: 'update', key: A, value: 'o2', expect: 5 }, done(8)),
    op({ op: 'update', key: A, value: 'o3', expect: 5 }, conflict({ value: 'o2', rev: 8 })),
    op({ op: 'create', key: A, value: 'o4' }, conflict({ value: 'o2', rev: 8 })),
    op({ op: 'get', key: A }, read({ key: A, value: 'o2', rev: 8 })),
    op({ op: 'delete', key: A, expect: 8 }, done(9)),
    op({ op: 'create', key: A, value: 'o5' }, done(11)),
  ];
  assert.equal(check(h), 'ok');
  // An update that succeeds against a stale mod_revision is rejected.
  assert.equal(check([h[0]!, h[1]!, op({ op: 'update', key: A, value: 'o3', expect: 5 }, done(9))]), 'illegal');
  // A create over an existing object is rejected.
  assert.equal(check([h[0]!, op({ op: 'create', key: A, value: 'o4' }, done(6))]), 'illegal');
  // A conflict that reports the wrong current object is rejected.
  assert.equal(check([h[0]!, h[1]!, op({ op: 'update', key: A, value: 'o3', expect: 5 }, conflict({ value: 'o1', rev: 5 }))]), 'illegal');
  // A read reporting another mod_revision than the write answered is rejected.
  assert.equal(check([h[0]!, op({ op: 'get', key: A }, read({ key: A, value: 'o1', rev: 6 }))]), 'illegal');
});

test('k8s model: a list is the whole kind at one moment', () => {
  const h = [op({ op: 'create', key: A, value: 'o1' }, done(5)), op({ op: 'create', key: B, value: 'o2' }, done(6))];
  assert.equal(check([...h, op({ op: 'list' }, read({ key: A, value: 'o1', rev: 5 }, { key: B, value: 'o2', rev: 6 }))]), 'ok');
  // A list missing an object created before it began is rejected.
  assert.equal(check([...h, op({ op: 'list' }, read({ key: B, value: 'o2', rev: 6 }))]), 'illegal');
  // A list showing a deleted object is rejected.
  assert.equal(check([...h, op({ op: 'delete', key: A, expect: 5 }, done(7)), op({ op: 'list' }, read({ key: A, value: 'o1', rev: 5 }, { key: B, value: 'o2', rev: 6 }))]), 'illegal');
});

test('k8s model: a write with an unknown outcome takes the revision a read saw', () => {
  const h = [
    op({ op: 'create', key: A, value: 'o1' }, done(5)),
    op({ op: 'update', key: A, value: 'o2', expect: 5 }, undefined),
    op({ op: 'get', key: A }, read({ key: A, value: 'o2', rev: 9 })),
    op({ op: 'update', key: A, value: 'o3', expect: 9 }, done(12)),
  ];
  assert.equal(check(h), 'ok');
  // Nobody saw it: it may have happened (then no compare on 5 can succeed) or not.
  const unseen = [h[0]!, h[1]!];
  assert.equal(check([...unseen, op({ op: 'update', key: A, value: 'o3', expect: 5 }, done(12))]), 'ok');
  assert.equal(check([...unseen, op({ op: 'get', key: A }, read({ key: A, value: 'o1', rev: 5 })), op({ op: 'update', key: A, value: 'o3', expect: 7 }, done(12))]), 'illegal');
});

const session = (startRevision: number, events: WatchSessionRecord['responses'][number]['events']): WatchSessionRecord => ({
  id: 'i0.0',
  key: '/registry/pods/',
  rangeEnd: '/registry/pods0',
  startRevision,
  createdRevision: startRevision - 1,
  prevKv: true,
  responses: [{ headerRevision: 20, events }],
});

test('list-then-watch: the watch continues the list exactly', () => {
  const list = { revision: 10, kvs: [{ key: A, value: 'o1', rev: 5 }] };
  const good = session(11, [
    { type: 'PUT', key: A, value: 'o2', modRevision: 12, prevKv: { value: 'o1', modRevision: 5 } },
    { type: 'PUT', key: B, value: 'o3', modRevision: 13 },
    { type: 'PUT', key: A, value: 'o4', modRevision: 14, prevKv: { value: 'o2', modRevision: 12 } },
  ]);
  assert.deepEqual(checkListThenWatch(list, good), []);
  // The first event of a listed key carries another prev_kv: a change between the list and the watch was lost.
  const gap = session(11, [{ type: 'PUT', key: A, value: 'o2', modRevision: 12, prevKv: { value: 'ox', modRevision: 11 } }]);
  assert.match(checkListThenWatch(list, gap).join('\n'), /list-then-watch: .*had o1@5/);
  // An object the list did not have shows up with a prev_kv.
  const ghost = session(11, [{ type: 'DELETE', key: B, value: '', modRevision: 12, prevKv: { value: 'o9', modRevision: 3 } }]);
  assert.match(checkListThenWatch(list, ghost).join('\n'), /the list had none/);
  // A watch that does not start right after the list.
  assert.match(checkListThenWatch(list, session(12, [])).join('\n'), /not right after its list/);
});

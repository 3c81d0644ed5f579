import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Operation } from '../../sim/linearizability.js';
import { kvModel, type KvModelInput, type KvModelOutput, type KvModelState } from '../../sim/models.js';

function run(inputs: [KvModelInput, KvModelOutput | undefined][]): { ok: boolean; state: KvModelState } {
  let state = kvModel.init();
  for (const [input, output] of inputs) {
    const r = kvModel.step(state, input, output);
    if (!r.ok) return r;
    state = r.state;
  }
  return { ok: true, state };
}

test('a missing key reads as the empty string', () => {
  assert.equal(kvModel.step(kvModel.init(), { op: 'get', key: 'x' }, { value: '' }).ok, true);
  assert.equal(kvModel.step(kvModel.init(), { op: 'get', key: 'x' }, { value: 'a' }).ok, false);
});

test('put, append and get follow the sequential specification', () => {
  const r = run([
    [{ op: 'put', key: 'x', value: 'a' }, {}],
    [{ op: 'append', key: 'x', value: 'b' }, {}],
    [{ op: 'append', key: 'y', value: 'c' }, {}],
  ]);
  assert.equal(r.ok, true);
  assert.equal(kvModel.step(r.state, { op: 'get', key: 'x' }, { value: 'ab' }).ok, true);
  assert.equal(kvModel.step(r.state, { op: 'get', key: 'x' }, { value: 'a' }).ok, false);
  assert.equal(kvModel.step(r.state, { op: 'get', key: 'y' }, { value: 'c' }).ok, true);
  // An unknown read output is accepted and changes nothing.
  const unknownRead = kvModel.step(r.state, { op: 'get', key: 'x' }, undefined);
  assert.equal(unknownRead.ok, true);
  assert.equal(kvModel.key(unknownRead.state), kvModel.key(r.state));
  // A get answered with the wrong shape is not legal.
  assert.equal(kvModel.step(r.state, { op: 'get', key: 'x' }, {}).ok, false);
});

test('compare-and-swap succeeds exactly when the value matches', () => {
  const s = run([[{ op: 'put', key: 'x', value: 'v' }, {}]]).state;
  const swap = kvModel.step(s, { op: 'cas', key: 'x', expect: 'v', value: 'w' }, { ok: true });
  assert.equal(swap.ok, true);
  assert.equal(swap.state.get('x'), 'w');
  assert.equal(kvModel.step(s, { op: 'cas', key: 'x', expect: 'v', value: 'w' }, { ok: false }).ok, false);
  assert.equal(kvModel.step(s, { op: 'cas', key: 'x', expect: 'u', value: 'w' }, { ok: true }).ok, false);
  const miss = kvModel.step(s, { op: 'cas', key: 'x', expect: 'u', value: 'w' }, { ok: false });
  assert.equal(miss.ok, true);
  assert.equal(miss.state.get('x'), 'v');
  // Unknown outcome: the state follows from the value.
  assert.equal(kvModel.step(s, { op: 'cas', key: 'x', expect: 'v', value: 'w' }, undefined).state.get('x'), 'w');
  assert.equal(kvModel.step(s, { op: 'cas', key: 'x', expect: 'u', value: 'w' }, undefined).state.get('x'), 'v');
  // cas on a missing key expects ''.
  assert.equal(kvModel.step(kvModel.init(), { op: 'cas', key: 'z', expect: '', value: '1' }, { ok: true }).ok, true);
});

test('step never mutates the state it is given', () => {
  const s = run([[{ op: 'put', key: 'x', value: 'v' }, {}]]).state;
  const before = kvModel.key(s);
  kvModel.step(s, { op: 'put', key: 'x', value: 'w' }, {});
  kvModel.step(s, { op: 'append', key: 'x', value: 'w' }, {});
  kvModel.step(s, { op: 'cas', key: 'x', expect: 'v', value: 'w' }, { ok: true });
  assert.equal(kvModel.key(s), before);
});

test('state keys identify states: equal for equal maps, distinct otherwise', () => {
  const a = run([
    [{ op: 'put', key: 'x', value: '1' }, {}],
    [{ op: 'put', key: 'y', value: '2' }, {}],
  ]).state;
  const b = run([
    [{ op: 'put', key: 'y', value: '2' }, {}],
    [{ op: 'put', key: 'x', value: '1' }, {}],
  ]).state;
  assert.equal(kvModel.key(a), kvModel.key(b));
  // Writing '' is the same as never writing: both read as ''.
  const cleared = run([
    [{ op: 'put', key: 'x', value: '1' }, {}],
    [{ op: 'put', key: 'x', value: '' }, {}],
  ]).state;
  assert.equal(kvModel.key(cleared), kvModel.key(kvModel.init()));
  // No ambiguity when keys and values contain the separators.
  const tricky = [
    run([[{ op: 'put', key: 'a', value: '1;1:b=1:2' }, {}]]).state,
    run([
      [{ op: 'put', key: 'a', value: '1' }, {}],
      [{ op: 'put', key: 'b', value: '2' }, {}],
    ]).state,
    run([[{ op: 'put', key: 'a=1', value: '1' }, {}]]).state,
    run([[{ op: 'put', key: 'a', value: '1=1' }, {}]]).state,
  ];
  assert.equal(new Set(tricky.map((s) => kvModel.key(s))).size, tricky.length);
});

test('the history is partitioned by key', () => {
  const op = (key: string, call: number): Operation<KvModelInput, KvModelOutput> => ({
    clientId: 1,
    input: { op: 'get', key },
    output: { value: '' },
    call,
    ret: call + 1,
  });
  const parts = kvModel.partition?.([op('a', 0), op('b', 1), op('a', 2), op('c', 3), op('b', 4)]) ?? [];
  assert.deepEqual(
    parts.map((p) => p.map((o) => `${o.input.key}${o.call}`)),
    [['a0', 'a2'], ['b1', 'b4'], ['c3']],
  );
});

test('operations are described readably', () => {
  const d = kvModel.describe;
  assert.ok(d);
  assert.equal(d({ op: 'get', key: 'x' }, { value: 'v' }), 'get("x") -> "v"');
  assert.equal(d({ op: 'get', key: 'x' }, undefined), 'get("x") -> ?');
  assert.equal(d({ op: 'put', key: 'x', value: 'v' }, {}), 'put("x", "v")');
  assert.equal(d({ op: 'append', key: 'x', value: 'v' }, undefined), 'append("x", "v") -> ?');
  assert.equal(d({ op: 'cas', key: 'x', expect: 'a', value: 'b' }, { ok: true }), 'cas("x", expect "a", set "b") -> swapped');
  assert.equal(d({ op: 'cas', key: 'x', expect: 'a', value: 'b' }, { ok: false }), 'cas("x", expect "a", set "b") -> not swapped');
});

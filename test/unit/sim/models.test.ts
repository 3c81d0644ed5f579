import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Operation } from '../../sim/linearizability.js';
import { kvModel, markUnobservedWrites, UNOBSERVED, type KvModelInput, type KvModelOutput, type KvModelState } from '../../sim/models.js';

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

test('writes of strings no get or cas mentions are marked, and their values all behave alike', () => {
  const op = (input: KvModelInput, output: KvModelOutput | undefined, call: number, ret: number): Operation<KvModelInput, KvModelOutput> => ({
    clientId: 1,
    input,
    output,
    call,
    ret,
  });
  const history = [
    op({ op: 'put', key: 'x', value: 'seen' }, {}, 0, 1),
    op({ op: 'append', key: 'x', value: 'hidden' }, {}, 2, 3),
    op({ op: 'get', key: 'x' }, { value: 'seen' }, 4, 5),
    op({ op: 'cas', key: 'x', expect: 'seen', value: 'other' }, { ok: false }, 6, 7),
  ];
  const [part] = kvModel.partition?.(history) ?? [];
  assert.equal(part.length, 4);
  // The original operations are untouched; the marked one is a copy.
  assert.equal(part[0], history[0]);
  assert.notEqual(part[1], history[1]);
  assert.deepEqual(part[1].input, history[1].input);
  assert.match(kvModel.describe?.(part[1].input, part[1].output) ?? '', /never read/);
  assert.doesNotMatch(kvModel.describe?.(part[0].input, part[0].output) ?? '', /never read/);

  // After the marked append the value is UNOBSERVED: no answered get matches,
  // no cas swaps, appends keep it, a put replaces it.
  let s = kvModel.step(kvModel.init(), part[0].input, {}).state;
  s = kvModel.step(s, part[1].input, {}).state;
  assert.equal(s.get('x'), UNOBSERVED);
  assert.equal(kvModel.key(s), '1:x=?;');
  assert.equal(kvModel.step(s, { op: 'get', key: 'x' }, { value: 'seenhidden' }).ok, false);
  assert.equal(kvModel.step(s, { op: 'get', key: 'x' }, undefined).ok, true);
  assert.equal(kvModel.step(s, { op: 'cas', key: 'x', expect: 'seenhidden', value: 'y' }, { ok: true }).ok, false);
  assert.equal(kvModel.step(s, { op: 'cas', key: 'x', expect: 'seenhidden', value: 'y' }, { ok: false }).ok, true);
  assert.equal(kvModel.step(s, { op: 'append', key: 'x', value: 'more' }, {}).state.get('x'), UNOBSERVED);
  assert.equal(kvModel.step(s, { op: 'put', key: 'x', value: 'fresh' }, {}).state.get('x'), 'fresh');
  // Unmarked inputs with the same fields are not affected.
  const plain = kvModel.step(kvModel.step(kvModel.init(), history[0].input, {}).state, history[1].input, {}).state;
  assert.equal(plain.get('x'), 'seenhidden');
});

test('nothing is marked when every written string is mentioned', () => {
  const history: Operation<KvModelInput, KvModelOutput>[] = [
    { clientId: 1, input: { op: 'put', key: 'x', value: 'a' }, output: {}, call: 0, ret: 1 },
    { clientId: 1, input: { op: 'append', key: 'x', value: 'b' }, output: {}, call: 2, ret: 3 },
    { clientId: 2, input: { op: 'get', key: 'x' }, output: { value: 'ab' }, call: 4, ret: 5 },
  ];
  assert.equal(markUnobservedWrites(history), history);
});

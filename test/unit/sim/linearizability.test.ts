import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizable, type CheckResult, type Model, type Operation } from '../../sim/linearizability.js';
import { dropInvisibleWrites, kvModel, type KvModelInput, type KvModelOutput } from '../../sim/models.js';

type Op = Operation<KvModelInput, KvModelOutput>;

// ---- history builders: `ret` null means the response was lost ----------------

function finish(clientId: number, call: number, ret: number | null, input: KvModelInput, output: KvModelOutput): Op {
  if (ret === null) return { clientId, input, output: undefined, call, ret: Infinity };
  return { clientId, input, output, call, ret };
}
function get(c: number, call: number, ret: number | null, key: string, value: string): Op {
  return finish(c, call, ret, { op: 'get', key }, { value });
}
function put(c: number, call: number, ret: number | null, key: string, value: string): Op {
  return finish(c, call, ret, { op: 'put', key, value }, {});
}
function append(c: number, call: number, ret: number | null, key: string, value: string): Op {
  return finish(c, call, ret, { op: 'append', key, value }, {});
}
function cas(c: number, call: number, ret: number | null, key: string, expect: string, value: string, ok: boolean): Op {
  return finish(c, call, ret, { op: 'cas', key, expect, value }, { ok });
}

function check(history: Op[], maxSteps?: number): CheckResult {
  return checkLinearizable(kvModel, history, maxSteps === undefined ? {} : { maxSteps });
}
function assertOk(history: Op[]): void {
  const r = check(history);
  assert.equal(r.result, 'ok', r.result === 'ok' ? '' : r.explanation);
}
function assertIllegal(history: Op[]): string {
  const r = check(history);
  assert.equal(r.result, 'illegal');
  return r.result === 'illegal' ? r.explanation : '';
}

// ---- a small seeded generator for the randomized tests ----------------------

class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
}

// ---- basic histories ----------------------------------------------------------

test('an empty history is linearizable', () => {
  assert.deepEqual(check([]), { result: 'ok' });
});

test('a sequential history is linearizable, and a wrong read in it is not', () => {
  const h = [
    put(1, 0, 1, 'x', 'a'),
    get(2, 2, 3, 'x', 'a'),
    append(1, 4, 5, 'x', 'b'),
    get(3, 6, 7, 'x', 'ab'),
    cas(2, 8, 9, 'x', 'ab', 'c', true),
    get(1, 10, 11, 'x', 'c'),
    get(1, 12, 13, 'y', ''),
  ];
  assertOk(h);
  assertIllegal([...h, get(3, 14, 15, 'x', 'ab')]);
});

test('reads concurrent with overlapping writes may see either value', () => {
  const writes = [put(1, 0, 10, 'x', '1'), put(2, 2, 12, 'x', '2')];
  assertOk([...writes, get(3, 5, 6, 'x', '')]);
  assertOk([...writes, get(3, 5, 6, 'x', '1')]);
  assertOk([...writes, get(3, 5, 6, 'x', '2')]);
  assertOk([...writes, get(3, 13, 14, 'x', '1')]);
  assertOk([...writes, get(3, 13, 14, 'x', '2')]);
  // Once both writes are over the final value is fixed: two later reads cannot disagree.
  assertIllegal([...writes, get(3, 13, 14, 'x', '1'), get(4, 15, 16, 'x', '2')]);
});

test('a stale read after a completed write is illegal', () => {
  const h = [put(1, 0, 1, 'x', '1'), put(1, 2, 3, 'x', '2'), get(2, 4, 5, 'x', '1')];
  const why = assertIllegal(h);
  assert.match(why, /get\("x"\) -> "1"/);
});

test('a read of a value that was never written is illegal', () => {
  assertIllegal([put(1, 0, 5, 'x', '1'), get(2, 1, 4, 'x', 'phantom')]);
  assertIllegal([get(2, 1, 4, 'x', 'phantom')]);
});

test('a history that is linearizable only through one order of its concurrent operations', () => {
  // Three concurrent compare-and-swaps that all succeeded: only the chain '' -> 1 -> 2 -> 3 works.
  // They are listed (and called) in the opposite order to make the search backtrack.
  const chain = [
    cas(3, 0, 10, 'x', '2', '3', true),
    cas(2, 1, 10, 'x', '1', '2', true),
    cas(1, 2, 10, 'x', '', '1', true),
  ];
  assertOk([...chain, get(4, 11, 12, 'x', '3')]);
  assertIllegal([...chain, get(4, 11, 12, 'x', '2')]);
  // Concurrent appends: the read fixes their order, whichever it is.
  const appends = [append(1, 0, 10, 'y', 'a'), append(2, 0, 10, 'y', 'b'), append(3, 0, 10, 'y', 'c')];
  assertOk([...appends, get(4, 11, 12, 'y', 'cab')]);
  assertOk([...appends, get(4, 11, 12, 'y', 'bca')]);
  assertIllegal([...appends, get(4, 11, 12, 'y', 'ca')]);
  // A read in the middle pins part of the order: 'b' came first.
  assertOk([...appends, get(4, 3, 4, 'y', 'b'), get(4, 11, 12, 'y', 'bac')]);
  assertIllegal([...appends, get(4, 3, 4, 'y', 'b'), get(4, 11, 12, 'y', 'abc')]);
});

test('operations whose response was lost may have taken effect, or not', () => {
  const lost = put(1, 0, null, 'x', '1');
  assertOk([lost, get(2, 5, 6, 'x', '1')]); // took effect
  assertOk([lost, get(2, 5, 6, 'x', '')]); // did not (yet)
  assertOk([lost, get(2, 5, 6, 'x', ''), get(2, 7, 8, 'x', '1')]); // took effect late
  assertIllegal([lost, get(2, 5, 6, 'x', '1'), get(2, 7, 8, 'x', '')]); // cannot be undone
  assertIllegal([put(1, 3, null, 'x', '1'), get(2, 0, 2, 'x', '1')]); // not before its call
  // A lost append must be placed exactly where the later read says.
  assertOk([
    append(1, 0, 1, 'x', 'a'),
    append(2, 2, null, 'x', 'b'),
    append(1, 3, 4, 'x', 'c'),
    append(1, 5, 6, 'x', 'd'),
    get(3, 7, 8, 'x', 'abcd'),
  ]);
  assertOk([
    append(1, 0, 1, 'x', 'a'),
    append(2, 2, null, 'x', 'b'),
    append(1, 3, 4, 'x', 'c'),
    append(1, 5, 6, 'x', 'd'),
    get(3, 7, 8, 'x', 'acbd'),
  ]);
  assertIllegal([
    append(1, 0, 1, 'x', 'a'),
    append(2, 2, null, 'x', 'b'),
    append(1, 3, 4, 'x', 'c'),
    append(1, 5, 6, 'x', 'd'),
    get(3, 7, 8, 'x', 'bacd'),
  ]);
});

test('a client that gave up (no output, finite ret) may still see its write land later', () => {
  const gaveUp: Op = { clientId: 1, input: { op: 'put', key: 'x', value: '1' }, output: undefined, call: 0, ret: 3 };
  assertOk([gaveUp, get(2, 10, 11, 'x', ''), get(2, 20, 21, 'x', '1')]);
  assertOk([gaveUp, get(2, 10, 11, 'x', '')]);
});

test('an operation with an output but no return time is optional, and checked if it is used', () => {
  // Unusual, but well defined: it may have happened at any time after its call, or never.
  const odd: Op = { clientId: 1, input: { op: 'get', key: 'x' }, output: { value: 'zzz' }, call: 0, ret: Infinity };
  assertOk([odd, put(2, 1, 2, 'x', 'a'), get(3, 3, 4, 'x', 'a')]);
  const oddCas: Op = { clientId: 1, input: { op: 'cas', key: 'x', expect: '', value: 'q' }, output: { ok: true }, call: 0, ret: Infinity };
  assertOk([oddCas, get(3, 3, 4, 'x', 'q')]);
  assertOk([oddCas, get(3, 3, 4, 'x', '')]);
  // If it took effect, it did so as answered: a swap from '' only.
  assertIllegal([oddCas, put(2, 0, 1, 'x', 'a'), get(3, 3, 4, 'x', 'q')]);
});

test('the classic violation: sequential reads see a concurrent write, then the old value', () => {
  const h = [
    put(1, 0, 1, 'x', 'old'),
    put(2, 2, 20, 'x', 'new'),
    get(3, 3, 4, 'x', 'new'),
    get(3, 5, 6, 'x', 'old'),
  ];
  const why = assertIllegal(h);
  assert.match(why, /not linearizable/);
  // Reading them the other way round is fine.
  assertOk([put(1, 0, 1, 'x', 'old'), put(2, 2, 20, 'x', 'new'), get(3, 3, 4, 'x', 'old'), get(3, 5, 6, 'x', 'new')]);
});

test('compare-and-swap histories', () => {
  // Two concurrent cas with the same expectation cannot both succeed.
  assertIllegal([cas(1, 0, 5, 'x', '', 'a', true), cas(2, 0, 5, 'x', '', 'b', true)]);
  assertOk([cas(1, 0, 5, 'x', '', 'a', true), cas(2, 0, 5, 'x', '', 'b', false), get(3, 6, 7, 'x', 'a')]);
  assertIllegal([cas(1, 0, 5, 'x', '', 'a', true), cas(2, 0, 5, 'x', '', 'b', false), get(3, 6, 7, 'x', 'b')]);
  // A failed cas whose expectation held is illegal; one whose expectation did not hold is fine.
  assertIllegal([put(1, 0, 1, 'x', 'v'), cas(2, 2, 3, 'x', 'v', 'w', false)]);
  assertOk([put(1, 0, 1, 'x', 'v'), cas(2, 2, 3, 'x', 'u', 'w', false), get(1, 4, 5, 'x', 'v')]);
  // A cas whose answer was lost: it swapped if the value matched when it landed.
  assertOk([put(1, 0, 1, 'x', 'v'), cas(2, 2, null, 'x', 'v', 'w', true), get(1, 4, 5, 'x', 'w')]);
  assertOk([put(1, 0, 1, 'x', 'v'), cas(2, 2, null, 'x', 'v', 'w', true), get(1, 4, 5, 'x', 'v')]);
  assertIllegal([put(1, 0, 1, 'x', 'v'), cas(2, 2, null, 'x', 'u', 'w', true), get(1, 4, 5, 'x', 'w')]);
});

test('touching intervals (A.ret === B.call) are concurrent; A precedes B only when A.ret < B.call', () => {
  // The read starts exactly when the write returns, so it may be ordered before it.
  assertOk([put(1, 0, 5, 'x', '1'), get(2, 5, 8, 'x', '')]);
  assertOk([put(1, 0, 5, 'x', '1'), get(2, 5, 8, 'x', '1')]);
  // One tick later the write must come first.
  assertIllegal([put(1, 0, 5, 'x', '1'), get(2, 6, 8, 'x', '')]);
  // Zero-length operations work too.
  assertOk([put(1, 4, 4, 'x', '1'), get(2, 4, 4, 'x', ''), get(3, 4, 4, 'x', '1')]);
  assertIllegal([put(1, 4, 4, 'x', '1'), get(2, 5, 5, 'x', '')]);
});

test('the order of the history array does not matter', () => {
  const h = [put(1, 0, 1, 'x', 'old'), put(2, 2, 20, 'x', 'new'), get(3, 3, 4, 'x', 'new'), get(3, 5, 6, 'x', 'old')];
  assert.equal(check([...h].reverse()).result, 'illegal');
  assert.equal(check([h[3], h[0], h[2], h[1]]).result, 'illegal');
  const good = [put(1, 0, 1, 'x', 'old'), put(2, 2, 20, 'x', 'new'), get(3, 3, 4, 'x', 'old'), get(3, 5, 6, 'x', 'new')];
  assert.equal(check([...good].reverse()).result, 'ok');
});

test('malformed operations are rejected', () => {
  assert.throws(() => check([put(1, 5, 4, 'x', '1')]), RangeError);
  assert.throws(() => check([put(1, NaN, 4, 'x', '1')]), RangeError);
});

// ---- explanations and the budget ---------------------------------------------

test('an illegal result explains the smallest failing partition in readable form', () => {
  const bigBad = [
    put(1, 0, 1, 'big', '1'),
    put(1, 2, 3, 'big', '2'),
    put(1, 4, 5, 'big', '3'),
    get(2, 6, 7, 'big', '1'),
  ];
  const smallBad = [put(1, 0, 1, 'small', '1'), get(2, 2, 3, 'small', 'zzz')];
  const fine = [put(1, 0, 1, 'fine', '1')];
  const r = check([...bigBad, ...fine, ...smallBad]);
  assert.equal(r.result, 'illegal');
  assert.ok(r.result === 'illegal');
  assert.match(r.explanation, /partition \d of 3 \(2 operations\) is not linearizable/);
  assert.match(r.explanation, /get\("small"\) -> "zzz"/);
  assert.match(r.explanation, /client 1 \[call 0, ret 1\] put\("small", "1"\)/);
  assert.doesNotMatch(r.explanation, /"big"/);
  assert.match(r.explanation, /Longest partial linearization found \(1 of 2/);
  assert.match(r.explanation, /illegal in this state/);
});

test('lost operations are marked in explanations', () => {
  const r = check([put(1, 0, null, 'x', '1'), get(2, 5, 6, 'x', '1'), get(2, 7, 8, 'x', '')]);
  assert.ok(r.result === 'illegal');
  assert.match(r.explanation, /client 1 \[call 0, no response\] put\("x", "1"\) -> \?/);
});

test('the search reports unknown when the step budget runs out', () => {
  // Many concurrent appends and a read that fixes an order the search finds late.
  const h: Op[] = [];
  for (let c = 0; c < 8; c++) h.push(append(c, 0, 100, 'x', String(c)));
  h.push(get(9, 101, 102, 'x', '76543210'));
  const r = check(h, 5);
  assert.equal(r.result, 'unknown');
  assert.ok(r.result === 'unknown');
  assert.match(r.explanation, /budget/);
  assert.match(r.explanation, /gave up after 5 model steps/);
  // With the default budget the same history is decided.
  assert.equal(check(h).result, 'ok');
  // An illegal partition still wins over an undecided one.
  const mixed = [...h, put(1, 0, 1, 'y', '1'), get(2, 2, 3, 'y', '')];
  assert.equal(check(mixed, 5).result, 'illegal');
});

// ---- generic models -----------------------------------------------------------

type BankInput = { kind: 'deposit'; n: number } | { kind: 'withdraw'; n: number } | { kind: 'balance' };
type BankOutput = { balance?: number };
/** No partition function, and a withdrawal that is illegal without funds whatever its output. */
const bank: Model<number, BankInput, BankOutput> = {
  init: () => 0,
  step(state, input, output) {
    switch (input.kind) {
      case 'deposit':
        return { ok: true, state: state + input.n };
      case 'withdraw':
        return state >= input.n ? { ok: true, state: state - input.n } : { ok: false, state };
      case 'balance':
        return { ok: output === undefined || output.balance === state, state };
    }
  },
  key: (state) => String(state),
};

test('operations without a response are never forced to take effect', () => {
  const h: Operation<BankInput, BankOutput>[] = [
    { clientId: 1, input: { kind: 'withdraw', n: 100 }, output: undefined, call: 0, ret: Infinity },
    { clientId: 2, input: { kind: 'deposit', n: 10 }, output: {}, call: 1, ret: 2 },
    { clientId: 2, input: { kind: 'balance' }, output: { balance: 10 }, call: 3, ret: 4 },
  ];
  assert.equal(checkLinearizable(bank, h).result, 'ok');
  // The same withdrawal with a response must have happened, and cannot.
  const answered = [{ ...h[0], output: {}, ret: 5 }, ...h.slice(1)];
  assert.equal(checkLinearizable(bank, answered).result, 'illegal');
});

test('a model without a partition function is checked as one history', () => {
  const h: Operation<BankInput, BankOutput>[] = [
    { clientId: 1, input: { kind: 'deposit', n: 5 }, output: {}, call: 0, ret: 10 },
    { clientId: 2, input: { kind: 'deposit', n: 7 }, output: {}, call: 0, ret: 10 },
    { clientId: 3, input: { kind: 'balance' }, output: { balance: 7 }, call: 1, ret: 2 },
    { clientId: 3, input: { kind: 'balance' }, output: { balance: 12 }, call: 3, ret: 4 },
  ];
  assert.equal(checkLinearizable(bank, h).result, 'ok');
  const bad = [...h, { clientId: 3, input: { kind: 'balance' as const }, output: { balance: 5 }, call: 11, ret: 12 }];
  const r = checkLinearizable(bank, bad);
  assert.ok(r.result === 'illegal');
  assert.match(r.explanation, /the history \(5 operations\) is not linearizable/);
});

// ---- cross-check against brute force on small random histories ---------------

/** Tries every order of every admissible subset: independent of the checker's search. */
function bruteForce(history: Op[]): boolean {
  const optional = (o: Op): boolean => o.output === undefined || !Number.isFinite(o.ret);
  const remaining = new Set(history.map((_, i) => i));
  const go = (state: ReturnType<typeof kvModel.init>): boolean => {
    if ([...remaining].every((i) => optional(history[i]))) return true;
    for (const i of [...remaining]) {
      const op = history[i];
      const blocked = [...remaining].some((j) => !optional(history[j]) && history[j].ret < op.call);
      if (blocked) continue;
      const res = kvModel.step(state, op.input, op.output);
      if (!res.ok) continue;
      remaining.delete(i);
      const found = go(res.state);
      remaining.add(i);
      if (found) return true;
    }
    return false;
  };
  return go(kvModel.init());
}

interface SmallOptions {
  keys: readonly string[];
  /** Values written by put, append and cas. */
  written: readonly string[];
  /** Values a get may report and a cas may expect. */
  observed: readonly string[];
}

function smallRandomHistory(rng: Rand, o: SmallOptions): Op[] {
  const h: Op[] = [];
  const count = rng.int(1, 7);
  for (let k = 0; k < count; k++) {
    const call = rng.int(0, 8);
    const ret = call + rng.int(0, 4);
    const client = k;
    const key = rng.pick(o.keys);
    const lost = rng.chance(0.25);
    const r = lost ? null : ret;
    switch (rng.int(0, 3)) {
      case 0:
        h.push(get(client, call, r, key, rng.pick(o.observed)));
        break;
      case 1:
        h.push(put(client, call, r, key, rng.pick(o.written)));
        break;
      case 2:
        h.push(append(client, call, r, key, rng.pick(o.written)));
        break;
      default:
        h.push(cas(client, call, r, key, rng.pick(o.observed), rng.pick(o.written), rng.chance(0.5)));
    }
    // Sometimes a client that gave up: no output, but a finite ret.
    if (!lost && rng.chance(0.05)) h[h.length - 1] = { ...h[h.length - 1], output: undefined };
  }
  return h;
}

interface CrossCheckCounts {
  ok: number;
  illegal: number;
  /** Operations the KV model's partition left out. */
  dropped: number;
  /** Writes it marked as never read. */
  marked: number;
}

function crossCheck(seed: number, trials: number, pick: (trial: number) => SmallOptions): CrossCheckCounts {
  const rng = new Rand(seed);
  let ok = 0;
  let illegal = 0;
  let dropped = 0;
  let marked = 0;
  for (let trial = 0; trial < trials; trial++) {
    const h = smallRandomHistory(rng, pick(trial));
    const expected = bruteForce(h);
    const got = check(h).result;
    assert.equal(got, expected ? 'ok' : 'illegal', `trial ${trial}: ${JSON.stringify(h)}`);
    if (expected) ok++;
    else illegal++;
    const parts = kvModel.partition?.(h) ?? [h];
    dropped += h.length - parts.reduce((n, p) => n + p.length, 0);
    marked += parts.flat().filter((o) => kvModel.describe?.(o.input, o.output).includes('never read')).length;
  }
  return { ok, illegal, dropped, marked };
}

test('agrees with a brute-force search on thousands of small random histories', () => {
  const values = ['', 'a', 'b'];
  const r = crossCheck(12345, 4000, (trial) => ({
    // One key, or two (which exercises partitioning: brute force sees one history).
    keys: trial % 4 === 3 ? ['x', 'y'] : ['x'],
    written: values.slice(1),
    observed: values,
  }));
  // Both outcomes must be well represented for the comparison to mean anything.
  assert.ok(r.ok > 500, `only ${r.ok} linearizable histories`);
  assert.ok(r.illegal > 500, `only ${r.illegal} illegal histories`);
});

test('the KV simplifications (invisible lost writes, unread values) never change the verdict', () => {
  // Overlapping strings, '' written sometimes, and cas expectations both empty
  // and not, so every condition of the reduction is exercised.
  const r = crossCheck(777, 6000, (trial) => ({
    keys: ['x'],
    written: trial % 3 === 0 ? ['a', 'b', 'ab', 'c', ''] : ['a', 'b', 'ab', 'c'],
    observed: trial % 2 === 0 ? ['', 'a', 'ab', 'abc', 'ca'] : ['', 'a', 'b', 'ba', 'bc'],
  }));
  assert.ok(r.ok > 500, `only ${r.ok} linearizable histories`);
  assert.ok(r.illegal > 500, `only ${r.illegal} illegal histories`);
  assert.ok(r.dropped > 300, `only ${r.dropped} operations left out`);
  assert.ok(r.marked > 1000, `only ${r.marked} writes marked as never read`);
});

test('which lost writes are left out', () => {
  const lostB = put(2, 2, null, 'x', 'b');
  // Never observed: left out.
  assert.deepEqual(dropInvisibleWrites([put(1, 0, 1, 'x', 'a'), lostB, get(3, 5, 6, 'x', 'a')]).length, 2);
  // Observed by a read (even inside a longer value): kept.
  assert.equal(dropInvisibleWrites([put(1, 0, 1, 'x', 'a'), lostB, get(3, 5, 6, 'x', 'bz')]).length, 3);
  // Expected by a cas: kept.
  assert.equal(dropInvisibleWrites([lostB, cas(3, 5, 6, 'x', 'b', 'c', false)]).length, 2);
  // A failed cas after it might be explained only by it: kept, and needed.
  const explainsCas = [put(1, 0, 1, 'x', 'a'), lostB, cas(3, 3, 4, 'x', 'a', 'c', false), put(1, 5, 6, 'x', 'd'), get(3, 7, 8, 'x', 'd')];
  assert.equal(dropInvisibleWrites(explainsCas).length, 5);
  assertOk(explainsCas);
  // The same with an empty expectation, before anything was written: kept, and needed.
  const explainsEmptyCas = [put(2, 0, null, 'x', 'b'), cas(3, 1, 2, 'x', '', 'c', false), put(1, 3, 4, 'x', 'd'), get(3, 5, 6, 'x', 'd')];
  assert.equal(dropInvisibleWrites(explainsEmptyCas).length, 4);
  assertOk(explainsEmptyCas);
  // An empty expectation after a completed write cannot match any more: left out.
  assert.equal(dropInvisibleWrites([put(1, 0, 1, 'x', 'a'), lostB, cas(3, 3, 4, 'x', '', 'c', false)]).length, 2);
  // ... unless something may write '' again.
  assert.equal(
    dropInvisibleWrites([put(1, 0, 1, 'x', 'a'), lostB, cas(3, 3, 4, 'x', '', 'c', false), put(1, 9, 10, 'x', '')]).length,
    4,
  );
  // A cas that failed before the lost write was called does not matter: left out.
  assert.equal(dropInvisibleWrites([cas(3, 0, 1, 'x', 'q', 'c', false), lostB]).length, 1);
  // Writes of '' and answered writes are never left out.
  assert.equal(dropInvisibleWrites([put(2, 2, null, 'x', ''), put(1, 0, 1, 'x', 'a')]).length, 2);
});

// ---- large histories from a real sequential execution --------------------------

interface Generated {
  history: Op[];
  lost: number;
}

/**
 * Runs `clients` sequential clients against one real map. Each operation gets
 * an interval and takes effect at a random point inside it (ends included, so
 * touching intervals happen); executing the operations in the order of those
 * points gives the outputs. Lost operations take effect or not at random.
 */
function realHistory(
  seed: number,
  clients: number,
  keys: number,
  opsPerClient: number,
  lostRate: number,
  /** Make every cas expect '' (the simulator's workload) instead of an earlier put's value. */
  casExpectsEmpty = false,
): Generated {
  const rng = new Rand(seed);
  const keyNames = Array.from({ length: keys }, (_, i) => `k${i}`);
  interface Planned {
    op: Op;
    at: number;
    tie: number;
    effective: boolean;
  }
  const planned: Planned[] = [];
  const written = new Map<string, string[]>();
  let lost = 0;
  for (let c = 0; c < clients; c++) {
    let t = rng.int(0, 5);
    for (let k = 0; k < opsPerClient; k++) {
      const call = t;
      const ret = call + rng.int(0, 20);
      const key = rng.pick(keyNames);
      const seen = written.get(key) ?? [''];
      const value = `${c}.${k};`;
      let input: KvModelInput;
      const kind = rng.next();
      if (kind < 0.4) input = { op: 'get', key };
      else if (kind < 0.6) input = { op: 'put', key, value };
      else if (kind < 0.85) input = { op: 'append', key, value };
      else input = { op: 'cas', key, expect: casExpectsEmpty ? '' : rng.pick(seen), value };
      if (input.op === 'put') written.set(key, [...seen, value]);
      const isLost = rng.chance(lostRate);
      if (isLost) lost++;
      const op: Op = { clientId: c, input, output: undefined, call, ret: isLost ? Infinity : ret };
      planned.push({ op, at: rng.int(call, ret), tie: rng.next(), effective: !isLost || rng.chance(0.5) });
      t = ret + rng.int(0, 3);
    }
  }
  const data = new Map<string, string>();
  const byPoint = planned.filter((p) => p.effective).sort((a, b) => a.at - b.at || a.tie - b.tie);
  for (const { op } of byPoint) {
    const i = op.input;
    const current = data.get(i.key) ?? '';
    let out: KvModelOutput;
    if (i.op === 'get') out = { value: current };
    else if (i.op === 'put') {
      data.set(i.key, i.value);
      out = {};
    } else if (i.op === 'append') {
      data.set(i.key, current + i.value);
      out = {};
    } else {
      const swapped = current === i.expect;
      if (swapped) data.set(i.key, i.value);
      out = { ok: swapped };
    }
    if (Number.isFinite(op.ret)) op.output = out;
  }
  return { history: rng.shuffle(planned.map((p) => p.op)), lost };
}

function corruptOneRead(history: Op[], seed: number): Op[] {
  const rng = new Rand(seed);
  const reads = history.map((o, i) => ({ o, i })).filter(({ o }) => o.input.op === 'get' && o.output !== undefined);
  assert.ok(reads.length > 0);
  const { i } = rng.pick(reads);
  const copy = [...history];
  copy[i] = { ...history[i], output: { value: 'never-written' } };
  return copy;
}

test('a large history from a real execution is linearizable, and corrupting one read breaks it', () => {
  // 5 clients, 15 keys, 3000 operations: about 200 per key.
  const { history, lost } = realHistory(7, 5, 15, 600, 0.03);
  assert.equal(history.length, 3000);
  assert.ok(lost > 30);
  let start = performance.now();
  const r = check(history);
  const okMs = performance.now() - start;
  assert.equal(r.result, 'ok', r.result === 'ok' ? '' : r.explanation.slice(0, 2000));

  const bad = corruptOneRead(history, 99);
  start = performance.now();
  const r2 = check(bad);
  const badMs = performance.now() - start;
  assert.equal(r2.result, 'illegal');
  assert.ok(r2.result === 'illegal');
  assert.match(r2.explanation, /"never-written"/);
  // Generous bounds: the typical cost is tens of milliseconds.
  assert.ok(okMs < 2000, `took ${okMs} ms`);
  assert.ok(badMs < 2000, `took ${badMs} ms`);
});

test('many seeds of real executions are all linearizable; each corrupted one is not', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const { history } = realHistory(seed, 5, 4, 60, 0.05);
    const r = check(history);
    assert.equal(r.result, 'ok', `seed ${seed}: ${r.result === 'ok' ? '' : r.explanation.slice(0, 2000)}`);
    assert.equal(check(corruptOneRead(history, seed)).result, 'illegal', `seed ${seed}`);
  }
});

test('a busy single key with many lost operations stays fast', () => {
  // 5 clients on one key, 1000 operations, a fifth of them without a response.
  const { history, lost } = realHistory(2024, 5, 1, 200, 0.2);
  assert.ok(lost > 100);
  const start = performance.now();
  const r = check(history);
  const ms = performance.now() - start;
  assert.equal(r.result, 'ok', r.result === 'ok' ? '' : r.explanation.slice(0, 2000));
  assert.ok(ms < 3000, `took ${ms} ms`);
});

test('with the simulator workload, lost writes do not hide a violation', () => {
  // cas always expects '', as in the simulator; a tenth of the operations lose
  // their response. Unobservable lost writes are left out, so the search can
  // prove the corrupted histories illegal within the budget.
  for (let seed = 1; seed <= 6; seed++) {
    const { history, lost } = realHistory(100 + seed, 5, 2, 100, 0.1, true);
    assert.ok(lost > 20);
    const r = checkLinearizable(kvModel, history, { maxSteps: 2_000_000 });
    assert.equal(r.result, 'ok', `seed ${seed}: ${r.result === 'ok' ? '' : r.explanation.slice(0, 2000)}`);
    const bad = checkLinearizable(kvModel, corruptOneRead(history, seed), { maxSteps: 2_000_000 });
    assert.equal(bad.result, 'illegal', `seed ${seed}: ${bad.result === 'ok' ? '' : bad.explanation.slice(0, 300)}`);
  }
});

test('read-only operations are linearized eagerly, which tames many concurrent reads', () => {
  // Sixteen concurrent reads of 'a' next to a concurrent write of 'b', and one
  // impossible read: without the readOnly hint the search wanders through
  // every subset of the reads before it can give up.
  const h: Op[] = [put(0, 0, 1, 'x', 'a'), put(1, 2, 100, 'x', 'b')];
  for (let c = 2; c < 18; c++) h.push(get(c, 2, 100, 'x', 'a'));
  h.push(get(18, 2, 100, 'x', 'c'));
  const budget = { maxSteps: 20_000 };
  const withHint = checkLinearizable(kvModel, h, budget);
  assert.equal(withHint.result, 'illegal');
  const withoutHint = checkLinearizable({ ...kvModel, readOnly: undefined }, h, budget);
  assert.equal(withoutHint.result, 'unknown');
  // And the legal version is accepted either way.
  const legal = h.slice(0, -1);
  assert.equal(checkLinearizable(kvModel, legal, budget).result, 'ok');
  assert.equal(checkLinearizable({ ...kvModel, readOnly: undefined }, legal).result, 'ok');
});

test('a key with ten busy clients and no reads of many of its writes stays cheap', () => {
  // High concurrency on one key: writes overwritten before anyone reads them
  // would otherwise make every order of them a different state.
  const { history } = realHistory(31, 10, 1, 200, 0);
  const start = performance.now();
  const r = check(history);
  const ms = performance.now() - start;
  assert.equal(r.result, 'ok', r.result === 'ok' ? '' : r.explanation.slice(0, 2000));
  assert.ok(ms < 5000, `took ${ms} ms`);
  assert.equal(check(corruptOneRead(history, 31)).result, 'illegal');
});

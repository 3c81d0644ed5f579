// A linearizability checker for client histories recorded by the simulator
// (and by the chaos tests).
//
// The search is the Wing & Gong backtracking search with Lowe's memoisation,
// arranged the way the porcupine checker arranges it: the calls and returns of
// the history form one time-ordered, doubly linked event list; linearizing an
// operation unlinks its two events, and backtracking links them back in the
// reverse order. A configuration of the search is (which operations are
// linearized, model state); a configuration that was already explored is not
// explored again.
//
// Real-time order. Operation A must come before operation B exactly when
// A.ret < B.call. Operations whose intervals merely touch (A.ret === B.call)
// are concurrent and may be linearized in either order. In the event list this
// is the rule "at equal times, calls sort before returns".
//
// Operations without a response. An operation whose output is undefined (or
// whose ret is not finite) may have taken effect at any moment after its call,
// or never. Such an operation is optional: it has a call event but no return
// event, the search may linearize it whenever its call has happened, and the
// search succeeds as soon as every operation that did respond is linearized.
// It is never forced to take effect (unlike giving it a return at the end of
// time, which would make a model that rejects it in the final state fail).
//
// Candidates are tried in call order, optional ones included. Trying an old
// lost write early lets the search place it just before something overwrites
// it and be done with it; trying optional operations last was measured to be
// much slower on histories with many lost operations. Two more rules keep
// optional operations cheap, both sound and complete:
//  - an optional operation that would not change the state is never
//    linearized (leaving it out is at least as good);
//  - a configuration is skipped when an explored one has the same state, the
//    same responded operations linearized and a subset of the optional ones
//    linearized (having more optional operations left can only help).
//
// Read-only operations. When the model says an operation never changes the
// state where it is legal (Model.readOnly: a get, a failed cas), a responded
// one that is legal in the current state is linearized at once and its
// alternatives are not explored: any way to finish from there can move it to
// the front. Without this, concurrent reads of one value multiply the search
// by every subset of them.
//
// Cost. Typical simulator histories (a few clients, a few hundred operations
// per key, a few percent lost) take milliseconds. The search is exponential
// in the worst case: proving a history illegal when it holds many lost writes
// can exhaust the budget, and the answer is then 'unknown'.

export interface Operation<I, O> {
  clientId: number;
  input: I;
  /** undefined when the call never returned (timed out / client gave up): it may or may not have taken effect. */
  output: O | undefined;
  /** Virtual time the call was issued. */
  call: number;
  /** Virtual time the response arrived; Infinity when output is undefined. */
  ret: number;
}

export interface Model<S, I, O> {
  init(): S;
  /**
   * Apply input to state; `output` is what the system answered (undefined =
   * unknown, accept any). Returns whether that output is legal, and the new
   * state. Must not mutate `state`: the search keeps old states to backtrack.
   */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** A stable string key for a state, for memoisation. Equal keys must mean equivalent states. */
  key(state: S): string;
  /** Optional: split a history into independent sub-histories (e.g. per key). */
  partition?(history: Operation<I, O>[]): Operation<I, O>[][];
  describe?(input: I, output: O | undefined): string;
  /**
   * Optional: true when, whatever the state, a step of this operation that is
   * legal leaves the state unchanged (a read, a failed compare-and-swap). The
   * checker then linearizes such an operation as soon as it is legal, which
   * removes the explosion of orders among concurrent reads.
   */
  readOnly?(input: I, output: O | undefined): boolean;
}

export type CheckResult =
  | { result: 'ok' }
  | { result: 'illegal'; explanation: string }
  | { result: 'unknown'; explanation: string };

export interface CheckOptions {
  /**
   * Budget of model steps for each partition; a partition that needs more is
   * reported as 'unknown' (unless another partition is illegal). Default
   * 10,000,000.
   */
  maxSteps?: number;
}

const DEFAULT_MAX_STEPS = 10_000_000;

/**
 * Checks that `history` is linearizable with respect to `model`. The history
 * may be in any order. Partitions (from `model.partition`) are checked
 * smallest first; the first illegal one is reported, with its operations.
 */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: Operation<I, O>[],
  opts: CheckOptions = {},
): CheckResult {
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  for (const op of history) validate(op);
  const parts = (model.partition ? model.partition(history) : [history]).filter((p) => p.length > 0);
  const order = parts.map((p, i) => ({ p, i })).sort((a, b) => a.p.length - b.p.length || a.i - b.i);
  const unknown: string[] = [];
  for (const { p, i } of order) {
    const outcome = searchPartition(model, p, maxSteps);
    const where = parts.length > 1 ? `partition ${i + 1} of ${parts.length}` : 'the history';
    if (outcome.kind === 'illegal') {
      return { result: 'illegal', explanation: explainIllegal(model, p, outcome, where) };
    }
    if (outcome.kind === 'unknown') {
      unknown.push(
        `${where} (${p.length} operations): gave up after ${outcome.steps} model steps ` +
          `(budget ${maxSteps}); at most ${outcome.deepestRequired} of ${outcome.required} ` +
          `responded operations were linearized`,
      );
    }
  }
  if (unknown.length > 0) {
    return { result: 'unknown', explanation: `search budget exhausted: ${unknown.join('; ')}` };
  }
  return { result: 'ok' };
}

function validate<I, O>(op: Operation<I, O>): void {
  if (!Number.isFinite(op.call)) throw new RangeError(`operation of client ${op.clientId} has a non-finite call time ${op.call}`);
  if (Number.isNaN(op.ret) || op.ret < op.call) {
    throw new RangeError(`operation of client ${op.clientId} returns (${op.ret}) before its call (${op.call})`);
  }
}

/** True when the operation may have taken effect or not, at any time after its call. */
function isOptional<I, O>(op: Operation<I, O>): boolean {
  return op.output === undefined || !Number.isFinite(op.ret);
}

// ---- the search -------------------------------------------------------------

/** A node of an event list. `op` is the index of the operation in the partition. */
interface EventNode {
  op: number;
  isCall: boolean;
  time: number;
  prev: EventNode | null;
  next: EventNode | null;
}

interface Frame<S> {
  op: number;
  /** The call node of the linearized operation (the cursor to resume from). */
  node: EventNode;
  /** Made without alternatives (a legal read-only operation). */
  forced: boolean;
  state: S;
  stateKey: string;
}

interface CacheEntry {
  required: Uint32Array;
  optional: Uint32Array;
}

type SearchOutcome =
  | { kind: 'ok' }
  | { kind: 'illegal'; deepest: number[] }
  | { kind: 'unknown'; steps: number; deepestRequired: number; required: number };

function makeList(nodes: EventNode[]): EventNode {
  const head: EventNode = { op: -1, isCall: false, time: -Infinity, prev: null, next: null };
  let last = head;
  for (const n of nodes) {
    last.next = n;
    n.prev = last;
    last = n;
  }
  return head;
}

function unlink(n: EventNode): void {
  // Every node has a predecessor: the list heads are sentinels.
  (n.prev as EventNode).next = n.next;
  if (n.next) n.next.prev = n.prev;
}

function relink(n: EventNode): void {
  (n.prev as EventNode).next = n;
  if (n.next) n.next.prev = n;
}

/** Deterministic pseudo-random 32-bit words, for hashing sets of operations. */
function hashWords(count: number): Uint32Array {
  const out = new Uint32Array(count);
  let x = 0x9e3779b9;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0;
  }
  return out;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function subsetBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] & ~b[i]) !== 0) return false;
  return true;
}

function searchPartition<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], maxSteps: number): SearchOutcome {
  const n = ops.length;
  // Bit positions: responded operations and optional operations are numbered separately.
  const bit = new Int32Array(n);
  const optional: boolean[] = [];
  /** Responded operations the model declares read-only (see Model.readOnly). */
  const readOnly: boolean[] = [];
  const events: EventNode[] = [];
  const callNode: EventNode[] = [];
  const retNode: (EventNode | null)[] = [];
  let required = 0;
  let optionalCount = 0;
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    const opt = isOptional(op);
    optional.push(opt);
    readOnly.push(!opt && model.readOnly !== undefined && model.readOnly(op.input, op.output));
    const c: EventNode = { op: i, isCall: true, time: op.call, prev: null, next: null };
    callNode.push(c);
    events.push(c);
    if (opt) {
      bit[i] = optionalCount++;
      retNode.push(null);
    } else {
      bit[i] = required++;
      const r: EventNode = { op: i, isCall: false, time: op.ret, prev: null, next: null };
      events.push(r);
      retNode.push(r);
    }
  }
  // Calls before returns at equal times: touching intervals are concurrent.
  events.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const head = makeList(events);

  const zobrist = hashWords(required);
  const reqBits = new Uint32Array((required + 31) >>> 5);
  const optBits = new Uint32Array((optionalCount + 31) >>> 5);
  let reqHash = 0;
  let reqDepth = 0;
  const cache = new Map<string, Map<number, CacheEntry[]>>();

  let state = model.init();
  let stateKey = model.key(state);
  const stack: Frame<S>[] = [];
  let deepest: number[] = [];
  let deepestRequired = -1;
  let steps = 0;
  const outOfBudget = (): SearchOutcome => ({
    kind: 'unknown',
    steps: steps - 1,
    deepestRequired: Math.max(deepestRequired, 0),
    required,
  });

  /**
   * Linearizes the operation of call node `node`, whose step from the current
   * state gave `next`, unless an explored configuration covers the result.
   * Returns whether it moved.
   */
  const advance = (node: EventNode, next: S, forced: boolean): boolean => {
    const i = node.op;
    const nextKey = next === state ? stateKey : model.key(next);
    if (optional[i] && nextKey === stateKey) return false;

    // Tentatively mark the operation and look the configuration up.
    const w = bit[i] >>> 5;
    const mask = 1 << (bit[i] & 31);
    let hash = reqHash;
    if (optional[i]) optBits[w] |= mask;
    else {
      reqBits[w] |= mask;
      hash ^= zobrist[bit[i]];
    }
    let byHash = cache.get(nextKey);
    if (byHash === undefined) {
      byHash = new Map();
      cache.set(nextKey, byHash);
    }
    let bucket = byHash.get(hash);
    if (bucket === undefined) {
      bucket = [];
      byHash.set(hash, bucket);
    } else {
      for (const e of bucket) {
        if (sameBits(e.required, reqBits) && subsetBits(e.optional, optBits)) {
          if (optional[i]) optBits[w] &= ~mask;
          else reqBits[w] &= ~mask;
          return false;
        }
      }
    }
    bucket.push({ required: reqBits.slice(), optional: optBits.slice() });

    stack.push({ op: i, node, state, stateKey, forced });
    unlink(node);
    if (!optional[i]) {
      unlink(retNode[i] as EventNode);
      reqHash = hash;
      reqDepth++;
    }
    state = next;
    stateKey = nextKey;
    return true;
  };

  // The cursor: the next candidate to try at the current configuration. The
  // candidates are the calls that come before the first return in the list
  // (an operation called after some pending operation returned must wait for
  // it), tried in list order. `fresh` marks a configuration just entered.
  let cursor: EventNode | null = null;
  let fresh = true;

  for (;;) {
    if (reqDepth === required) return { kind: 'ok' };
    if (reqDepth > deepestRequired) {
      deepestRequired = reqDepth;
      deepest = stack.map((f) => f.op);
    }

    if (fresh) {
      fresh = false;
      cursor = head.next;
      // A read-only candidate that is legal here is linearized at once, with
      // no alternatives: in any way to finish from here it can be moved to
      // the front, as it changes no state and nothing pending must precede it.
      let forced: EventNode | null = null;
      let next: S = state;
      for (let c = head.next; c !== null && c.isCall; c = c.next) {
        if (!readOnly[c.op]) continue;
        if (++steps > maxSteps) return outOfBudget();
        const res = model.step(state, ops[c.op].input, ops[c.op].output);
        if (res.ok) {
          forced = c;
          next = res.state;
          break;
        }
      }
      if (forced !== null) {
        // If the result is already covered, nothing can succeed from here.
        if (advance(forced, next, true)) fresh = true;
        else cursor = null;
        continue;
      }
    }

    const node: EventNode | null = cursor;
    if (node === null || !node.isCall) {
      // Dead end: undo the last linearization and try its next alternative.
      const frame = stack.pop();
      if (frame === undefined) return { kind: 'illegal', deepest };
      const i = frame.op;
      if (optional[i]) {
        relink(callNode[i]);
        optBits[bit[i] >>> 5] &= ~(1 << (bit[i] & 31));
      } else {
        relink(retNode[i] as EventNode);
        relink(callNode[i]);
        reqBits[bit[i] >>> 5] &= ~(1 << (bit[i] & 31));
        reqHash ^= zobrist[bit[i]];
        reqDepth--;
      }
      state = frame.state;
      stateKey = frame.stateKey;
      // A forced move had no alternatives.
      cursor = frame.forced ? null : frame.node.next;
      continue;
    }

    cursor = node.next;
    // Read-only candidates were all tried on entry, and none was legal.
    if (readOnly[node.op]) continue;
    if (++steps > maxSteps) return outOfBudget();
    const op = ops[node.op];
    const res = model.step(state, op.input, op.output);
    if (res.ok && advance(node, res.state, false)) fresh = true;
  }
}

// ---- explanations -----------------------------------------------------------

function describeOp<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  const what = model.describe
    ? model.describe(op.input, op.output)
    : `${JSON.stringify(op.input)} -> ${op.output === undefined ? '?' : JSON.stringify(op.output)}`;
  const ret = Number.isFinite(op.ret) ? `ret ${op.ret}` : 'no response';
  const lost = op.output === undefined && Number.isFinite(op.ret) ? ' (gave up, outcome unknown)' : '';
  return `client ${op.clientId} [call ${op.call}, ${ret}] ${what}${lost}`;
}

function explainIllegal<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  outcome: { deepest: number[] },
  where: string,
): string {
  const show = (op: Operation<I, O>): string => describeOp(model, op);
  const lines: string[] = [];
  const requiredTotal = ops.filter((o) => !isOptional(o)).length;
  lines.push(`${where} (${ops.length} operations) is not linearizable.`);

  // Replay the deepest partial linearization found.
  let state = model.init();
  const done = new Set<number>();
  for (const i of outcome.deepest) {
    state = model.step(state, ops[i].input, ops[i].output).state;
    done.add(i);
  }
  const doneRequired = outcome.deepest.filter((i) => !isOptional(ops[i])).length;
  lines.push(
    `Longest partial linearization found (${doneRequired} of ${requiredTotal} responded operations), ` +
      `ending in the state with key ${JSON.stringify(model.key(state))}:`,
  );
  if (outcome.deepest.length === 0) lines.push('  (none)');
  outcome.deepest.forEach((i, k) => lines.push(`  ${k + 1}. ${show(ops[i])}`));

  // What could have come next, and why each fails there.
  let firstReturn = Infinity;
  ops.forEach((o, i) => {
    if (!done.has(i) && !isOptional(o)) firstReturn = Math.min(firstReturn, o.ret);
  });
  lines.push('None of the operations that could come next leads to a linearization:');
  ops.forEach((o, i) => {
    if (done.has(i) || o.call > firstReturn) return;
    const legal = model.step(state, o.input, o.output).ok;
    lines.push(`  ${show(o)}  -- ${legal ? 'legal here, but nothing valid follows' : 'illegal in this state'}`);
  });

  lines.push('All operations of the partition, by call time:');
  const byCall = ops.map((o, i) => ({ o, i })).sort((a, b) => a.o.call - b.o.call || a.i - b.i);
  for (const { o } of byCall) lines.push(`  ${show(o)}`);
  return lines.join('\n');
}

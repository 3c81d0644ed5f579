import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, MessageType, type Message } from '../../../node/raft/types.js';
import { CODEC_VERSION, CodecError, decodeMessage, encodeMessage, encodeMessageParts, encodedSize } from '../../../node/transport/codec.js';
import { entry, msg } from './helpers.js';

const MAX = Number.MAX_SAFE_INTEGER;

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

function filled(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function roundTrip(m: Message): Message {
  const encoded = encodeMessage(m);
  assert.equal(encoded.length, encodedSize(m));
  const decoded = decodeMessage(encoded);
  assert.deepEqual(decoded, m);
  return decoded;
}

/** A small deterministic generator, so fuzz failures reproduce. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const ALL_TYPES = Object.values(MessageType).filter((v): v is MessageType => typeof v === 'number');

test('every message type round-trips with every field set', () => {
  assert.equal(ALL_TYPES.length, 17);
  for (const type of ALL_TYPES) {
    roundTrip(
      msg({
        type,
        from: 2 ** 52 + 3,
        to: 7,
        term: 12,
        index: 2 ** 40,
        logTerm: 11,
        commit: 99,
        reject: type % 2 === 0,
        rejectHint: 1234567,
        hintTerm: 10,
        context: filled(16, type),
        entries: [entry(2 ** 40 + 1, filled(64, 1)), entry(2 ** 40 + 2, new Uint8Array(0), 12, EntryType.ConfChange)],
      }),
    );
  }
});

test('an all-zero message and one with every number at 2^53 - 1 round-trip', () => {
  const zero = msg({ type: MessageType.Hup, from: 0, to: 0 });
  assert.equal(encodeMessage(zero).length, 3 + 8 + 1 + 1);
  roundTrip(zero);
  roundTrip(
    msg({ type: MessageType.App, from: MAX, to: MAX, term: MAX, index: MAX, logTerm: MAX, commit: MAX, rejectHint: MAX, hintTerm: MAX, entries: [entry(MAX, bytes(1), MAX)] }),
  );
});

test('empty, large and many entries round-trip', () => {
  roundTrip(msg({ type: MessageType.App, from: 1, to: 2, entries: [entry(1, new Uint8Array(0))] }));
  roundTrip(msg({ type: MessageType.App, from: 1, to: 2, entries: [entry(1, filled(3 * 1024 * 1024, 7))] }));
  const many = Array.from({ length: 5000 }, (_, i) => entry(i + 1, filled(i % 100, i)));
  roundTrip(msg({ type: MessageType.App, from: 1, to: 2, index: 0, entries: many }));
});

test('a snapshot with its conf state and data round-trips', () => {
  const m = msg({
    type: MessageType.Snap,
    from: 1,
    to: 3,
    term: 5,
    snapshot: { meta: { index: 1000, term: 4, conf: { voters: [1, 2, 2 ** 50], learners: [9] } }, data: filled(1 << 20, 3) },
  });
  const decoded = roundTrip(m);
  assert.equal(decoded.snapshot?.data.length, 1 << 20);
  roundTrip(msg({ type: MessageType.Snap, from: 1, to: 3, snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) } }));
});

test('the two-part encoding concatenates to the one-part encoding and leaves snapshot data uncopied', () => {
  const data = filled(1000, 5);
  const snap = msg({ type: MessageType.Snap, from: 1, to: 2, snapshot: { meta: { index: 9, term: 2, conf: { voters: [1], learners: [] } }, data } });
  const [head, tail] = encodeMessageParts(snap);
  assert.equal(tail, data);
  assert.deepEqual(Uint8Array.from([...head, ...tail]), encodeMessage(snap));
  const plain = msg({ type: MessageType.App, from: 1, to: 2, entries: [entry(1, data)] });
  const [whole, none] = encodeMessageParts(plain);
  assert.equal(none.length, 0);
  assert.deepEqual(whole, encodeMessage(plain));
});

test('decoded byte fields are plain Uint8Arrays that do not alias the input', () => {
  const m = msg({ type: MessageType.App, from: 1, to: 2, context: bytes(1, 2), entries: [entry(1, bytes(5, 6, 7))] });
  const wire = Buffer.from(encodeMessage(m));
  const copied = decodeMessage(wire);
  const aliased = decodeMessage(wire, { alias: true });
  wire.fill(0xee);
  assert.deepEqual(copied.entries[0]!.data, bytes(5, 6, 7));
  assert.deepEqual(copied.context, bytes(1, 2));
  assert.equal(Object.getPrototypeOf(copied.entries[0]!.data), Uint8Array.prototype);
  assert.deepEqual(aliased.entries[0]!.data, bytes(0xee, 0xee, 0xee), 'alias shares the input, by request');
});

test('unencodable numbers are refused with CodecError', () => {
  for (const bad of [-1, 1.5, 2 ** 53, NaN, Infinity]) {
    assert.throws(() => encodeMessage(msg({ type: MessageType.App, from: 1, to: 2, term: bad })), CodecError, `term ${bad}`);
  }
  assert.throws(() => encodeMessage(msg({ type: 17 as MessageType, from: 1, to: 2 })), /message type 17/);
  assert.throws(() => encodeMessage(msg({ type: MessageType.App, from: 1, to: 2, entries: [entry(1, bytes(), 1, 5 as EntryType)] })), /entry type 5/);
});

test('malformed frames are refused with a clear CodecError', () => {
  const good = encodeMessage(msg({ type: MessageType.App, from: 1, to: 2, context: bytes(9), entries: [entry(1, bytes(1, 2))] }));
  const mutate = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = Uint8Array.from(good);
    f(b);
    return b;
  };
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /missing version/],
    [mutate((b) => (b[0] = CODEC_VERSION + 1)), /unsupported message encoding version 2/],
    [mutate((b) => (b[1] = 17)), /unknown message type 17/],
    [mutate((b) => (b[2] = 4)), /unknown flag bits 0x4/],
    [Uint8Array.from([...good, 0]), /1 trailing bytes/],
    [good.subarray(0, good.length - 1), /entry data length 2 exceeds the 1 bytes left/],
    [bytes(CODEC_VERSION, 2, 0, 0x80, 0x00), /non-canonical varint in from/],
    [bytes(CODEC_VERSION, 2, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10), /from exceeds 2\^53/],
    [bytes(CODEC_VERSION, 2, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), /from exceeds 2\^53/],
    // A huge entry count must be refused before any allocation.
    [bytes(CODEC_VERSION, 2, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f), /entry count 268435455 exceeds the 0 bytes left/],
  ];
  for (const [input, expected] of cases) {
    assert.throws(
      () => decodeMessage(input),
      (err: unknown) => err instanceof CodecError && expected.test(err.message),
      `expected ${expected} for [${[...input].join(',')}]`,
    );
  }
});

test('fuzz: random bytes, truncations and bit flips only ever raise CodecError, and what decodes re-encodes identically', () => {
  const rand = prng(20261122);
  const samples = [
    encodeMessage(msg({ type: MessageType.App, from: 3, to: 4, term: 2, index: 10, entries: [entry(11, filled(40, 1)), entry(12, filled(3, 2))], context: bytes(1) })),
    encodeMessage(
      msg({ type: MessageType.Snap, from: 1, to: 2, snapshot: { meta: { index: 5, term: 1, conf: { voters: [1, 2], learners: [3] } }, data: filled(50, 9) } }),
    ),
    encodeMessage(msg({ type: MessageType.HeartbeatResp, from: 2 ** 52, to: 1, reject: true, context: filled(8, 4) })),
  ];
  let decoded = 0;
  let refused = 0;
  const check = (input: Uint8Array): void => {
    let m: Message;
    try {
      m = decodeMessage(input);
    } catch (err) {
      assert.ok(err instanceof CodecError, `unexpected ${String(err)} for [${[...input].join(',')}]`);
      refused++;
      return;
    }
    decoded++;
    assert.deepEqual(encodeMessage(m), Uint8Array.from(input));
  };
  for (const sample of samples) {
    for (let cut = 0; cut < sample.length; cut++) check(sample.subarray(0, cut));
    for (let i = 0; i < 3000; i++) {
      const flipped = Uint8Array.from(sample);
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) flipped[Math.floor(rand() * flipped.length)]! ^= 1 << Math.floor(rand() * 8);
      check(flipped);
    }
  }
  for (let i = 0; i < 20000; i++) {
    const input = new Uint8Array(Math.floor(rand() * 64));
    for (let j = 0; j < input.length; j++) input[j] = Math.floor(rand() * 256);
    // Mostly-valid prefixes reach deeper into the decoder than pure noise.
    if (input.length > 0 && rand() < 0.7) input[0] = CODEC_VERSION;
    if (input.length > 1 && rand() < 0.7) input[1]! %= 17;
    if (input.length > 2 && rand() < 0.7) input[2]! &= 3;
    check(input);
  }
  assert.ok(refused > 20000, `refused ${refused}`);
  assert.ok(decoded > 0, 'some mutations still decode (and re-encode identically)');
});

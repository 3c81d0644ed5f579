import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MvccStore } from '../../../node/mvcc/index.js';
import { Driver, bytes, text } from './helpers.js';

/** A store large enough that the encoder needs many slices. */
function loaded(keys: number): Driver {
  const d = new Driver();
  d.grant(7, 60);
  for (let i = 0; i < keys; i++) d.put(`key/${i % (keys / 2)}`, `value-${i}`, i % 9 === 0 ? { lease: 7n } : {});
  d.del(`key/3`);
  return d;
}

/** Runs an encoder with an expired deadline every call, so each call encodes one slice. */
function sliceBySlice(encoder: { encodeUntil(deadline: number): Uint8Array | undefined }, between: () => void = () => {}): { bytes: Uint8Array; slices: number } {
  for (let slices = 1; ; slices++) {
    const bytes = encoder.encodeUntil(0);
    if (bytes !== undefined) return { bytes, slices };
    between();
  }
}

describe('incremental snapshot encoder', () => {
  it('produces the bytes of snapshot() in many slices', () => {
    const d = loaded(4000);
    const whole = d.store.snapshot();
    const { bytes, slices } = sliceBySlice(d.store.snapshotEncoder());
    assert.ok(slices > 3, `expected several slices, got ${slices}`);
    assert.deepEqual(bytes, whole);
  });

  it('encodes the state at capture time even while writes, deletes and new keys continue', () => {
    const d = loaded(4000);
    const atCapture = d.store.snapshot();
    const encoder = d.store.snapshotEncoder();
    let n = 0;
    const { bytes } = sliceBySlice(encoder, () => {
      d.put(`key/${n % 50}`, `later-${n}`);
      d.del(`key/${100 + n}`);
      d.put(`new/${n++}`, 'x');
    });
    assert.ok(n > 0);
    assert.deepEqual(bytes, atCapture);
    assert.notDeepEqual(d.store.snapshot(), atCapture);
  });

  it('refuses to continue after a compaction rewrote histories', () => {
    const d = loaded(4000);
    const encoder = d.store.snapshotEncoder();
    assert.equal(encoder.encodeUntil(0), undefined);
    d.compact(100);
    assert.throws(() => encoder.encodeUntil(Infinity), /compacted or restored/);
  });

  it('measures the size of the captured encoding, prefix included, in slices and while writes continue', () => {
    // Past 16384 keys some ordinals take 3 bytes, so sizing looks at the first 16384 keys, in slices.
    const d = new Driver();
    for (let i = 0; i < 20_000; i++) d.put(`key/${i}`, `value-${i}`);
    const prefix = new Uint8Array([1, 2, 3, 4, 5]);
    const encoder = d.store.snapshotEncoder(prefix);
    let size: number | undefined;
    let slices = 0;
    let n = 0;
    while ((size = encoder.measureUntil(0)) === undefined) {
      slices++;
      d.put(`new/${n++}`, 'written while measuring');
      d.put(`key/${n}`, 'overwritten while measuring');
    }
    assert.ok(slices > 3, `expected several slices, got ${slices}`);
    const bytes = encoder.encodeUntil(Infinity)!;
    assert.equal(size, bytes.length, 'the measured size is the encoded size');
    assert.deepEqual(bytes.subarray(0, prefix.length), prefix);
  });

  it('sizes a store of a few hundred keys without walking them all', () => {
    const d = loaded(4000);
    const encoder = d.store.snapshotEncoder();
    assert.notEqual(encoder.measureUntil(0), undefined, 'sized in one slice: only the first 128 keys are looked at');
  });

  it('measures an empty store', () => {
    const d = new Driver();
    const encoder = d.store.snapshotEncoder();
    assert.equal(encoder.measureUntil(Infinity), d.store.snapshot().length);
  });
});

describe('change log ordinals', () => {
  /** Events of every retained revision, as text. */
  function history(store: MvccStore): string[] {
    const out: string[] = [];
    for (let rev = store.compactRevision + 1; rev <= store.revision; rev++) {
      for (const e of store.eventsAt(rev, null, false)) out.push(`${rev} ${e.type} ${text(e.kv.key)}=${text(e.kv.value)}`);
    }
    return out;
  }

  it('keeps the write order of large revisions: txns in any key order and range deletes', () => {
    const d = new Driver();
    for (let i = 0; i < 300; i++) d.put(`k/${String(i).padStart(3, '0')}`, `v${i}`);
    d.compact(50);
    // A txn writing 60 keys in reverse key order, one in a scattered order, and a range delete of 200 keys.
    d.txn({ success: Array.from({ length: 60 }, (_, i) => ({ requestPut: { key: bytes(`t/${String(59 - i).padStart(2, '0')}`), value: bytes('r') } })) });
    d.txn({ success: Array.from({ length: 60 }, (_, i) => ({ requestPut: { key: bytes(`s/${String((i * 37) % 60).padStart(2, '0')}`), value: bytes('s') } })) });
    d.del('k/050', { rangeEnd: bytes('k/250') });
    d.put('k/100', 'again');
    const encoder = d.store.snapshotEncoder();
    const size = encoder.measureUntil(Infinity);
    const encoded = encoder.encodeUntil(Infinity)!;
    assert.equal(size, encoded.length);
    const restored = MvccStore.restore(encoded);
    assert.deepEqual(history(restored), history(d.store));
    assert.deepEqual(restored.snapshot(), encoded);
  });
});

describe('an encoder that reuses its chunks', () => {
  it('produces the bytes of snapshot() when each slice is copied before the next, from few buffers', () => {
    const d = loaded(4000);
    const whole = d.store.snapshot();
    const encoder = d.store.snapshotEncoder(undefined, 1024, true);
    const copies: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for (;;) {
      const { chunks, done } = encoder.encodeSlice(0);
      for (const c of chunks) {
        copies.push(Buffer.from(c));
        buffers.add(c.buffer);
      }
      if (done) break;
    }
    assert.deepEqual(new Uint8Array(Buffer.concat(copies)), whole);
    assert.ok(copies.length > 20, `expected many chunks, got ${copies.length}`);
    assert.ok(buffers.size * 4 < copies.length, `${copies.length} chunks came from ${buffers.size} buffers`);
  });

  it('refuses to collect the whole encoding', () => {
    assert.throws(() => loaded(10).store.snapshotEncoder(undefined, 1024, true).encodeUntil(Infinity), /reuses its chunks/);
  });
});

describe('measuring again', () => {
  it('gives the same size, also for a store whose change log was compacted away', () => {
    const d = loaded(100);
    d.compact(d.store.revision);
    const encoder = d.store.snapshotEncoder();
    const size = encoder.measureUntil(Infinity);
    assert.equal(encoder.measureUntil(Infinity), size);
    assert.equal(size, encoder.encodeUntil(Infinity)!.length);
  });
});

describe('sizing from running totals', () => {
  /** A deterministic pseudo-random sequence (xorshift), so a failure reproduces. */
  function random(seed: number): () => number {
    let x = seed;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
  }

  /** Asserts that the size the encoder states before encoding is the length it encodes. */
  function sizedExactly(d: Driver, what: string): void {
    const encoder = d.store.snapshotEncoder(new Uint8Array(3));
    const size = encoder.measureUntil(Infinity);
    const encoded = encoder.encodeUntil(Infinity)!;
    assert.equal(size, encoded.length, `${what}: stated size against encoded length`);
    const restored = new Driver(MvccStore.restore(encoded.subarray(3)));
    const again = restored.store.snapshotEncoder();
    assert.equal(again.measureUntil(Infinity), encoded.length - 3, `${what}: a restored store sizes the same bytes`);
  }

  for (const seed of [1, 2, 3]) {
    it(`states the encoded length after random puts, deletes, txns, leases and compactions (seed ${seed})`, () => {
      const next = random(seed * 7919);
      const pick = (n: number): number => Math.floor(next() * n);
      const d = new Driver();
      // Narrow lease IDs, and (from seed 2 on) one only format 2 holds.
      const leases = seed === 1 ? [5n, 300n] : [5n, 300n, -(2n ** 62n)];
      for (const id of leases) d.grant(id);
      const key = (): string => `k/${String(pick(600)).padStart(4, '0')}`;
      for (let step = 0; step < 3000; step++) {
        const op = pick(100);
        if (op < 55) {
          d.put(key(), 'v'.repeat(pick(300)), pick(4) === 0 ? { lease: leases[pick(leases.length)]! } : {});
        } else if (op < 70) {
          d.del(key());
        } else if (op < 75) {
          const from = key();
          d.del(from, { rangeEnd: bytes(`${from}~`) });
        } else if (op < 85) {
          const keys = new Set(Array.from({ length: 1 + pick(8) }, key));
          d.txn({ success: [...keys].map((k, i) => (i % 3 === 2 ? { requestDeleteRange: { key: bytes(k) } } : { requestPut: { key: bytes(k), value: bytes(`t${step}`) } })) });
        } else if (op < 88) {
          const to = d.store.compactRevision + 1 + pick(d.store.revision - d.store.compactRevision);
          if (to > d.store.compactRevision) d.compact(to);
        } else if (op < 89 && leases.length > 1) {
          const id = leases.splice(pick(leases.length), 1)[0]!;
          d.revoke(id);
        } else {
          d.put(`long/${pick(40)}`, `x${step}`);
        }
        if (step % 250 === 0) sizedExactly(d, `step ${step}`);
      }
      sizedExactly(d, 'the end');
      d.compact(d.store.revision);
      sizedExactly(d, 'compacted to the last revision');
    });
  }

  it('states the encoded length past each ordinal width (128 and 16384 keys), changes spread over them', () => {
    const d = new Driver();
    for (let i = 0; i < 17_000; i++) d.put(`k/${String((i * 7919) % 17_000).padStart(5, '0')}`, `v${i}`);
    d.compact(8000);
    d.del('k/00100', { rangeEnd: bytes('k/00200') });
    for (let i = 0; i < 300; i++) d.put(`k/${String((i * 61) % 17_000).padStart(5, '0')}`, 'again');
    sizedExactly(d, '17000 keys');
  });
});

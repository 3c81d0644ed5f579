import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_VALUE, ValueSlabs } from '../../../node/mvcc/values.js';
import { MvccStore } from '../../../node/mvcc/store.js';
import { seededRandom } from './helpers.js';

function bytesOf(length: number, next: () => number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = Math.floor(next() * 256);
  return b;
}

describe('value slabs', () => {
  it('gives back every value stored, across size classes and large values, while others come and go', () => {
    const next = seededRandom(7);
    const values = new ValueSlabs();
    const live = new Map<number, Buffer>();
    // Around each class bound: 8-byte steps to 512, the geometric steps, the largest class, and past it.
    const sizes = [1, 3, 4, 5, 12, 13, 256, 300, 507, 508, 509, 600, 1000, 5000, 32_764, 32_765, 40_000, 200_000];
    let stored = 0;
    for (let step = 0; step < 6000; step++) {
      if (live.size > 0 && next() < 0.45) {
        const refs = [...live.keys()];
        const ref = refs[Math.floor(next() * refs.length)]!;
        values.free(ref);
        stored -= live.get(ref)!.length;
        live.delete(ref);
        continue;
      }
      const length = next() < 0.8 ? sizes[Math.floor(next() * sizes.length)]! : 1 + Math.floor(next() * 2000);
      const bytes = bytesOf(length, next);
      const ref = values.store(bytes);
      assert.ok(!live.has(ref), `ref ${ref} handed out twice`);
      assert.ok(Number.isInteger(ref) && ref < 2 ** 31, `ref ${ref} is not a small integer`);
      bytes[0] ^= 0xff; // the store holds a copy
      bytes[0] ^= 0xff;
      live.set(ref, bytes);
      stored += length;
    }
    for (const [ref, bytes] of live) {
      assert.equal(values.length(ref), bytes.length);
      assert.ok(values.view(ref).equals(bytes), `value of ref ${ref} changed`);
      const target = Buffer.alloc(bytes.length + 3);
      assert.equal(values.copyInto(ref, target, 2), bytes.length);
      assert.ok(target.subarray(2, 2 + bytes.length).equals(bytes), `copy of ref ${ref} differs`);
    }
    assert.equal(values.liveBytes, stored);
  });

  it('copies what it stores, and takes a string as latin1', () => {
    const values = new ValueSlabs();
    const source = Buffer.from([0, 1, 255, 128]);
    const ref = values.store(source);
    source[0] = 9;
    assert.deepEqual([...values.view(ref)], [0, 1, 255, 128]);
    const text = values.store('\u00ff\u0000ab');
    assert.deepEqual([...values.view(text)], [255, 0, 97, 98]);
    assert.equal(values.string(text), '\u00ff\u0000ab');
    assert.equal(values.store(''), EMPTY_VALUE);
    assert.equal(values.store(new Uint8Array(0)), EMPTY_VALUE);
    assert.equal(values.length(EMPTY_VALUE), 0);
    assert.equal(values.view(EMPTY_VALUE).length, 0);
  });

  it('reuses freed slots, and gives back slabs once all their slots are free', () => {
    const values = new ValueSlabs();
    const value = Buffer.alloc(256, 1);
    const first = Array.from({ length: 20_000 }, () => values.store(value));
    const held = values.heldBytes;
    assert.ok(held >= 20_000 * 256 && held < 20_000 * 256 * 1.2, `held ${held} for ${20_000 * 256} bytes of values`);
    for (const ref of first) values.free(ref);
    assert.ok(values.heldBytes <= 4 * 64 * 1024, `held ${values.heldBytes} after every value went`);
    assert.equal(values.liveBytes, 0);
    // Stored again, the same values take no more than the first time.
    const second = Array.from({ length: 20_000 }, () => values.store(value));
    assert.ok(values.heldBytes <= held, `held ${values.heldBytes} the second time, ${held} the first`);
    // Slabs that still hold a value stay (a slab given back too soon would lose it).
    const kept = second.filter((_, i) => i % 200 === 0);
    for (const [i, ref] of second.entries()) if (i % 200 !== 0) values.free(ref);
    for (const ref of kept) assert.ok(values.view(ref).equals(value));
    assert.equal(values.liveBytes, kept.length * 256);
  });
});

describe('values of a store', () => {
  it('compaction frees the values it drops, so overwrites do not grow what is held', () => {
    const store = new MvccStore();
    const value = new Uint8Array(256).fill(7);
    let index = 0;
    const put = (key: string) => store.apply(++index, { put: { key: Buffer.from(key), value } });
    for (let k = 0; k < 5000; k++) put(`key-${k}`);
    const values = (store as unknown as { index: { values: ValueSlabs } }).index.values;
    const once = values.heldBytes;
    for (let round = 0; round < 5; round++) {
      for (let k = 0; k < 5000; k++) put(`key-${k}`);
      store.apply(++index, { compaction: { revision: store.revision } });
    }
    assert.equal(values.liveBytes, 5000 * 256);
    assert.ok(values.heldBytes <= once * 1.1 + 4 * 64 * 1024, `held ${values.heldBytes} after overwrites, ${once} at first`);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeEntry, encodeEntry, type ServerEntry } from '../../../node/server/entry.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function roundTrip(entry: ServerEntry): ServerEntry {
  const decoded = decodeEntry(encodeEntry(entry));
  // Compare plain copies: decoded byte fields are views into the entry.
  return JSON.parse(JSON.stringify(decoded, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))) as ServerEntry;
}

const plain = (entry: ServerEntry): ServerEntry => JSON.parse(JSON.stringify(entry, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))) as ServerEntry;

describe('server entry encoding', () => {
  it('puts use the binary layout and keep every field', () => {
    const entry: ServerEntry = {
      origin: 2 ** 52 + 12345,
      requestId: 987654321,
      request: { mvcc: { put: { key: new Uint8Array([0, 0xff, 7]), value: bytes('v'.repeat(300)), lease: 2 ** 53 - 1, prevKv: true, ignoreLease: true } } },
    };
    const data = encodeEntry(entry);
    assert.equal(data[0], 2);
    assert.deepEqual(roundTrip(entry), plain(entry));
  });

  it('keeps an absent value apart from an empty one, and ignore_value', () => {
    const noValue: ServerEntry = { origin: 1, requestId: 2, request: { mvcc: { put: { key: bytes('k'), ignoreValue: true } } } };
    const empty: ServerEntry = { origin: 1, requestId: 3, request: { mvcc: { put: { key: bytes('k'), value: new Uint8Array() } } } };
    const a = decodeEntry(encodeEntry(noValue)).request as { mvcc: { put: { value?: Uint8Array; ignoreValue?: boolean } } };
    const b = decodeEntry(encodeEntry(empty)).request as { mvcc: { put: { value?: Uint8Array } } };
    assert.equal(a.mvcc.put.value, undefined);
    assert.equal(a.mvcc.put.ignoreValue, true);
    assert.deepEqual(b.mvcc.put.value, new Uint8Array());
  });

  it('other requests still round-trip through the general format', () => {
    const entry: ServerEntry = { origin: 5, requestId: 6, request: { leaseRenewBatch: { ids: [1, 2 ** 50] } } };
    assert.equal(encodeEntry(entry)[0], 1);
    assert.deepEqual(roundTrip(entry), entry);
  });

  it('refuses a truncated put', () => {
    const data = encodeEntry({ origin: 1, requestId: 1, request: { mvcc: { put: { key: bytes('key'), value: bytes('value') } } } });
    assert.throws(() => decodeEntry(data.subarray(0, data.length - 1)), /length mismatch|truncated/);
  });
});

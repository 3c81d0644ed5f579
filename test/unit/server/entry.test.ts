import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeCbor, encodeCbor } from '../../../node/server/cbor.js';
import { decodeEntry, encodeEntry, type ServerEntry } from '../../../node/server/entry.js';
import { ENTRY_FORMAT_AUTH, ENTRY_FORMAT_CBOR, ENTRY_FORMAT_INT64_LEASES, ENTRY_FORMAT_V8, MAX_ENTRY_FORMAT, EntryFormatTooNewError, nextClusterFormat } from '../../../node/server/entry-format.js';
import { ENTRY_SAMPLES } from './entry-samples.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../../../../test/unit/server/fixtures/entries-v1/${name}.bin`, import.meta.url)));

// Compare plain copies: decoded byte fields are views into the entry.
const plain = (entry: ServerEntry): ServerEntry => JSON.parse(JSON.stringify(entry, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : typeof v === 'bigint' ? `${v}n` : v))) as ServerEntry;

function roundTrip(entry: ServerEntry, format = ENTRY_FORMAT_CBOR): ServerEntry {
  return plain(decodeEntry(encodeEntry(entry, format)));
}

describe('server entry encoding', () => {
  it('puts use the binary layout and keep every field', () => {
    const entry: ServerEntry = {
      origin: 2 ** 52 + 12345,
      requestId: 987654321,
      request: { mvcc: { put: { key: new Uint8Array([0, 0xff, 7]), value: bytes('v'.repeat(300)), lease: 2n ** 53n - 1n, prevKv: true, ignoreLease: true } } },
    };
    for (const format of [ENTRY_FORMAT_V8, ENTRY_FORMAT_CBOR]) {
      assert.equal(encodeEntry(entry, format)[0], 2);
      assert.deepEqual(roundTrip(entry, format), plain(entry));
    }
  });

  it('keeps an absent value apart from an empty one, and ignore_value', () => {
    const noValue: ServerEntry = { origin: 1, requestId: 2, request: { mvcc: { put: { key: bytes('k'), ignoreValue: true } } } };
    const empty: ServerEntry = { origin: 1, requestId: 3, request: { mvcc: { put: { key: bytes('k'), value: new Uint8Array() } } } };
    const a = decodeEntry(encodeEntry(noValue, ENTRY_FORMAT_CBOR)).request as { mvcc: { put: { value?: Uint8Array; ignoreValue?: boolean } } };
    const b = decodeEntry(encodeEntry(empty, ENTRY_FORMAT_CBOR)).request as { mvcc: { put: { value?: Uint8Array } } };
    assert.equal(a.mvcc.put.value, undefined);
    assert.equal(a.mvcc.put.ignoreValue, true);
    assert.deepEqual(b.mvcc.put.value, new Uint8Array());
  });

  it('reads every kind of entry exactly as releases up to 0.1.0-pre.230a543 wrote it (fixtures)', () => {
    for (const [name, entry] of Object.entries(ENTRY_SAMPLES)) {
      const data = fixture(name);
      assert.equal(data[0], 'mvcc' in entry.request && 'put' in entry.request.mvcc ? 2 : 1, name);
      assert.deepEqual(plain(decodeEntry(data)), plain(entry), name);
      // Format 1 is still written while the cluster has not moved on. (Not
      // byte for byte: V8 writes a number as an integer or a double depending
      // on how the engine happens to hold it, one more reason to leave it.)
      const again = encodeEntry(entry, ENTRY_FORMAT_V8);
      assert.equal(again[0], data[0], name);
      assert.deepEqual(plain(decodeEntry(again)), plain(entry), name);
    }
  });

  it('writes every kind of entry but puts as CBOR once the cluster format is 2, and reads it back', () => {
    for (const [name, entry] of Object.entries(ENTRY_SAMPLES)) {
      const data = encodeEntry(entry, ENTRY_FORMAT_CBOR);
      if (!('mvcc' in entry.request && 'put' in entry.request.mvcc)) assert.equal(data[0], 3, name);
      assert.deepEqual(plain(decodeEntry(data)), plain(entry), name);
    }
    const raise: ServerEntry = { origin: 7, requestId: 8, request: { entryFormat: { format: 2 } } };
    assert.deepEqual(roundTrip(raise), raise);
  });

  it('finding 8: lease IDs of any int64 round-trip exactly once the cluster format is 3 (put layout 4, CBOR schema 2)', () => {
    const ids = [-1n, -(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, 1n];
    for (const id of ids) {
      const entries: ServerEntry[] = [
        { origin: 1, requestId: 2, request: { mvcc: { put: { key: bytes('k'), value: bytes('v'), lease: id } } } },
        { origin: 1, requestId: 3, request: { mvcc: { leaseGrant: { id, ttl: 5 } } } },
        { origin: 1, requestId: 4, request: { mvcc: { leaseRevoke: { id } } } },
        { origin: 1, requestId: 5, request: { leaseRenewBatch: { ids: [id, 7n] } } },
        {
          origin: 1,
          requestId: 6,
          request: {
            mvcc: {
              txn: {
                compare: [{ result: 'EQUAL', target: 'LEASE', key: bytes('k'), lease: id }],
                success: [{ requestTxn: { success: [{ requestPut: { key: bytes('k'), lease: id } }] } }],
              },
            },
          },
        },
      ];
      for (const entry of entries) {
        const data = encodeEntry(entry, ENTRY_FORMAT_INT64_LEASES);
        assert.equal(data[0], 'mvcc' in entry.request && 'put' in entry.request.mvcc ? 4 : 3);
        assert.deepEqual(plain(decodeEntry(data)), plain(entry), `${id}`);
      }
    }
    // Lease IDs decode as bigints from the older layouts too.
    const legacy = decodeEntry(encodeEntry({ origin: 1, requestId: 2, request: { leaseRenew: { id: 9n } } }, ENTRY_FORMAT_CBOR)).request;
    assert.deepEqual(legacy, { leaseRenew: { id: 9n } });
    // An ID the older layouts cannot hold names no lease there: none can be granted before format 3.
    const wide: ServerEntry = { origin: 1, requestId: 2, request: { mvcc: { put: { key: bytes('k'), lease: 2n ** 60n } } } };
    assert.throws(() => encodeEntry(wide, ENTRY_FORMAT_CBOR), /requested lease not found/);
    assert.throws(() => encodeEntry({ origin: 1, requestId: 2, request: { mvcc: { leaseRevoke: { id: 2n ** 60n } } } }, ENTRY_FORMAT_CBOR), /requested lease not found/);
  });

  it('auth entries round-trip once the cluster format is 4, carry no plain password, and are refused before', () => {
    const entries: ServerEntry[] = [
      { origin: 1, requestId: 2, request: { auth: { authEnable: {} } } },
      { origin: 1, requestId: 3, request: { auth: { userAdd: { name: 'alice', password: 'scrypt$1$1024$8$1$c2FsdA==$aGFzaA==' } } } },
      { origin: 1, requestId: 4, request: { auth: { userAdd: { name: 'cn-only', noPassword: true } } } },
      { origin: 1, requestId: 5, request: { auth: { roleGrantPermission: { name: 'r1', perm: { permType: 'READWRITE', key: new Uint8Array([0, 255]), rangeEnd: new Uint8Array([0]) } } } } },
      { origin: 1, requestId: 6, request: { auth: { roleRevokePermission: { role: 'r1', key: bytes('/a'), rangeEnd: new Uint8Array() } } } },
      { origin: 1, requestId: 7, request: { auth: { userRevokeRole: { name: 'alice', role: 'r1' } } } },
      // A write checked at auth revision 5, with an int64 lease.
      { origin: 1, requestId: 8, request: { asUser: { revision: 5, mvcc: { put: { key: bytes('/a'), value: bytes('v'), lease: 2n ** 60n } } } } },
      { origin: 1, requestId: 9, request: { asUser: { revision: 6, mvcc: { txn: { success: [{ requestDeleteRange: { key: bytes('/a') } }] } } } } },
    ];
    for (const entry of entries) {
      const data = encodeEntry(entry, ENTRY_FORMAT_AUTH);
      assert.equal(data[0], 3);
      assert.deepEqual(plain(decodeEntry(data)), plain(entry));
      assert.throws(() => encodeEntry(entry, ENTRY_FORMAT_INT64_LEASES), /needs every member at entry format 4.*cluster is at 3/);
    }
    assert.throws(() => decodeEntry(encodeCbor([2, 1, 1, { auth: { userRename: {} } }], new Uint8Array([3]))), /auth request kind userRename is unknown/);
    assert.throws(() => decodeEntry(encodeCbor([2, 1, 1, { asUser: { revision: 1, mvcc: { rename: {} } } }], new Uint8Array([3]))), /MVCC request kind rename/);
  });

  it('CBOR entries are [schema, origin, request ID, request] in standard CBOR', () => {
    const data = encodeEntry({ origin: 5, requestId: 6, request: { leaseRenew: { id: 300n } } }, ENTRY_FORMAT_CBOR);
    // 0x84 array(4), 01 schema, 05, 06, 0xa1 map(1) "leaseRenew" -> map(1) "id" -> uint16 300.
    assert.deepEqual([...data.subarray(0, 6)], [3, 0x84, 1, 5, 6, 0xa1]);
    assert.deepEqual(decodeCbor(data.subarray(1)), [1, 5, 6, { leaseRenew: { id: 300 } }]);
  });

  it('refuses entries it cannot read with a clear error', () => {
    assert.throws(() => decodeEntry(new Uint8Array([9, 1, 2])), /unknown entry layout 9/);
    assert.throws(() => decodeEntry(encodeCbor([3, 1, 1, { leaseRenew: { id: 1n } }], new Uint8Array([3]))), /schema 3 is newer/);
    assert.throws(() => decodeEntry(encodeCbor([1, 1, 1, { futureThing: {} }], new Uint8Array([3]))), /kind futureThing is unknown/);
    assert.throws(() => decodeEntry(encodeCbor([1, 1, 1, { mvcc: { rename: {} } }], new Uint8Array([3]))), /MVCC request kind rename/);
    const ok = encodeEntry({ origin: 1, requestId: 1, request: { leaseRenew: { id: 1n } } }, ENTRY_FORMAT_CBOR);
    assert.throws(() => decodeEntry(ok.subarray(0, ok.length - 1)), /truncated/);
    const data = encodeEntry({ origin: 1, requestId: 1, request: { mvcc: { put: { key: bytes('key'), value: bytes('value') } } } }, ENTRY_FORMAT_CBOR);
    assert.throws(() => decodeEntry(data.subarray(0, data.length - 1)), /length mismatch|truncated/);
  });
});

describe('CBOR subset', () => {
  it('round-trips numbers exactly, integers in the shortest form', () => {
    for (const n of [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -24, -25, -(2 ** 53 - 1), 0.5, -0, 2 ** 60, Number.NaN, Infinity]) {
      assert.ok(Object.is(decodeCbor(encodeCbor(n)), n), String(n));
    }
    assert.deepEqual([...encodeCbor(500)], [0x19, 0x01, 0xf4]);
    assert.deepEqual([...encodeCbor(-500)], [0x39, 0x01, 0xf3]);
  });

  it('leaves out undefined properties and refuses malformed input', () => {
    assert.deepEqual(decodeCbor(encodeCbor({ a: 1, b: undefined, c: 'é' })), { a: 1, c: 'é' });
    assert.throws(() => decodeCbor(new Uint8Array([0x01, 0x02])), /1 bytes after/);
    assert.throws(() => decodeCbor(new Uint8Array([0x9f])), /unsupported additional information 31/);
    assert.throws(() => decodeCbor(new Uint8Array([0xc1, 0x00])), /tags/);
    assert.throws(() => decodeCbor(new Uint8Array([0xa1, 0x01, 0x01])), /map key is not a text string/);
    assert.throws(() => decodeCbor(new Uint8Array([0x1b, 0xff, 0, 0, 0, 0, 0, 0, 0])), /beyond 2\^53/);
    assert.throws(() => decodeCbor(new Uint8Array([0x62, 0xff, 0xfe])), /not valid/);
  });
});

describe('cluster entry format', () => {
  it('rises only to what every member reads', () => {
    assert.equal(nextClusterFormat(1, [2, 2, 2]), 2);
    assert.equal(nextClusterFormat(1, [2, undefined, 2]), undefined, 'an older release holds it back');
    assert.equal(nextClusterFormat(2, [2, 2]), undefined);
    assert.equal(nextClusterFormat(1, [5, 5]), MAX_ENTRY_FORMAT, 'never past what this release reads');
    assert.equal(MAX_ENTRY_FORMAT, ENTRY_FORMAT_AUTH, 'this release reads auth entries (format 4)');
    assert.equal(nextClusterFormat(3, [4, 4, 3]), undefined, 'a format-3 member holds auth entries back');
    assert.equal(nextClusterFormat(1, []), undefined);
  });

  it('names the way out when a member cannot read the cluster format', () => {
    assert.match(new EntryFormatTooNewError(5, 'raised at index 9').message, /entry format 5 \(raised at index 9\).*reads formats up to 4.*downgraded/);
  });
});

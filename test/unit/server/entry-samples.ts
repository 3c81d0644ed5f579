// One server entry of every request kind, with the fields each can carry.
// The fixtures in fixtures/entries-v1/ are these entries as the releases up
// to 0.1.0-pre.230a543 wrote them (V8 serializer, binary puts); the entry
// tests decode those files and compare with these values.
import type { ServerEntry } from '../../../node/server/entry.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const ID = 0x1f2e3d4c5b6a7; // a member ID near 2^49, as real ones are

export const ENTRY_SAMPLES: Record<string, ServerEntry> = {
  'put': { origin: ID, requestId: 1, request: { mvcc: { put: { key: bytes('k'), value: bytes('v'), lease: 2n ** 50n + 3n, prevKv: true } } } },
  'put-ignore': { origin: ID, requestId: 2, request: { mvcc: { put: { key: new Uint8Array([0, 255]), ignoreValue: true, ignoreLease: true } } } },
  'delete-range': { origin: ID, requestId: 3, request: { mvcc: { deleteRange: { key: bytes('a'), rangeEnd: bytes('z'), prevKv: true } } } },
  'txn': {
    origin: ID,
    requestId: 4,
    request: {
      mvcc: {
        txn: {
          compare: [
            { result: 'EQUAL', target: 'VALUE', key: bytes('k'), value: bytes('old') },
            { result: 'GREATER', target: 'MOD', key: bytes('a'), rangeEnd: new Uint8Array([0]), modRevision: 7 },
            { result: 'LESS', target: 'LEASE', key: bytes('l'), lease: 12n },
          ],
          success: [
            { requestPut: { key: bytes('k'), value: bytes('new') } },
            { requestRange: { key: bytes('a'), rangeEnd: bytes('b'), limit: 10, revision: 3, sortOrder: 'DESCEND', sortTarget: 'MOD', keysOnly: true } },
            { requestDeleteRange: { key: bytes('d') } },
            { requestTxn: { compare: [], success: [{ requestPut: { key: bytes('n'), value: new Uint8Array() } }], failure: [] } },
          ],
          failure: [{ requestRange: { key: bytes('k'), countOnly: true } }],
        },
      },
    },
  },
  'compaction': { origin: ID, requestId: 5, request: { mvcc: { compaction: { revision: 41, physical: true } } } },
  'lease-grant': { origin: ID, requestId: 6, request: { mvcc: { leaseGrant: { id: 2n ** 52n + 1n, ttl: 30 } } } },
  'lease-revoke': { origin: ID, requestId: 7, request: { mvcc: { leaseRevoke: { id: 2n ** 52n + 1n } } } },
  'lease-checkpoint': { origin: ID, requestId: 8, request: { mvcc: { leaseCheckpoint: { checkpoints: [{ id: 5n, remainingTtl: 17 }, { id: 6n, remainingTtl: 0 }] } } } },
  'lease-renew': { origin: ID, requestId: 9, request: { leaseRenew: { id: 2n ** 52n + 1n } } },
  'lease-renew-batch': { origin: ID, requestId: 10, request: { leaseRenewBatch: { ids: [1n, 2n, 2n ** 53n - 1n] } } },
  'member-attributes': { origin: ID, requestId: 11, request: { memberAttributes: { id: ID, name: 'm1', clientUrls: ['http://127.0.0.1:2379', 'https://10.0.0.1:2379'] } } },
  'member-update': { origin: ID, requestId: 12, request: { memberUpdate: { id: ID, peerUrls: ['http://127.0.0.1:2380'] } } },
  'alarm': { origin: ID, requestId: 13, request: { alarm: { action: 'activate', memberId: ID, alarm: 'NOSPACE' } } },
  'alarm-off': { origin: 0, requestId: 2 ** 53 - 1, request: { alarm: { action: 'deactivate', memberId: ID, alarm: 'CORRUPT' } } },
};

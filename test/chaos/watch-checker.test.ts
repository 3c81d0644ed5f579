// The watch checker finds each kind of broken guarantee in a small recorded
// history and accepts a correct one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWatches, type WatchEventRecord, type WatchSessionRecord } from './watch-checker.js';

const put = (key: string, value: string, rev: number, prev?: { value: string; modRevision: number }): WatchEventRecord => ({
  type: 'PUT',
  key,
  value,
  modRevision: rev,
  ...(prev && { prevKv: prev }),
});
const del = (key: string, rev: number, prev?: { value: string; modRevision: number }): WatchEventRecord => ({ type: 'DELETE', key, value: '', modRevision: rev, ...(prev && { prevKv: prev }) });

function session(id: string, responses: WatchSessionRecord['responses'], extra: Partial<WatchSessionRecord> = {}): WatchSessionRecord {
  return { id, key: 'k', rangeEnd: 'l', startRevision: 2, createdRevision: 1, prevKv: true, responses, ...extra };
}

const good = (): WatchSessionRecord[] => [
  session('a', [
    { headerRevision: 3, events: [put('k1', 'x', 2), put('k2', 'y', 3, undefined)] },
    { headerRevision: 4, events: [put('k1', 'z', 4, { value: 'x', modRevision: 2 })] },
    { headerRevision: 5, events: [del('k1', 5, { value: 'z', modRevision: 4 })] },
    { headerRevision: 5, events: [], progress: true },
  ]),
  // Resumed after revision 3: starts at 4 and continues exactly.
  session('b', [
    { headerRevision: 4, events: [put('k1', 'z', 4)] },
    { headerRevision: 5, events: [del('k1', 5)] },
  ], { startRevision: 4, prevKv: false }),
];

test('a correct history has no violation', () => {
  const r = checkWatches(good(), { lastRevision: 5 });
  assert.deepEqual(r.violations, []);
  assert.equal(r.events, 6);
  assert.equal(r.progressNotifications, 1);
});

test('each broken guarantee is reported by name', () => {
  const cases: [string, (h: WatchSessionRecord[]) => void, number?][] = [
    ['reliable', (h) => h[1]!.responses.splice(0, 1)],
    ['bookmarkable', (h) => h[0]!.responses.splice(2, 0, { headerRevision: 5, events: [], progress: true })],
    ['ordered', (h) => h[0]!.responses.reverse()],
    ['unique', (h) => h[1]!.responses.push({ headerRevision: 5, events: [del('k1', 5)] })],
    ['atomic', (h) => h[0]!.responses.splice(1, 0, { headerRevision: 3, events: [put('k3', 'w', 3)] })],
    ['prev_kv', (h) => (h[0]!.responses[1]!.events[0]!.prevKv = { value: 'old', modRevision: 1 })],
    ['consistent', (h) => (h[1]!.responses[0]!.events[0]!.value = 'other')],
    ['resumable', (h) => h[1]!.responses.unshift({ headerRevision: 3, events: [put('k2', 'y', 3)] })],
    ['no-future-event', () => undefined, 4],
  ];
  for (const [guarantee, breakIt, lastRevision] of cases) {
    const h = good();
    breakIt(h);
    const r = checkWatches(h, { lastRevision: lastRevision ?? 5 });
    assert.ok(
      r.violations.some((v) => v.startsWith(`${guarantee}:`)),
      `${guarantee} not reported; got ${JSON.stringify(r.violations)}`,
    );
  }
});

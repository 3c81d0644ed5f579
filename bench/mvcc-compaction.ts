// What a store holds per key after its keys are overwritten and compacted,
// and how long that compaction takes: one MvccStore in this process, no
// Raft, no server. KEYS keys of 256 B are each written WRITES times, a
// quarter of them once more, then the store compacts at the revision before
// that last quarter. Prints V8's heap in use per key after full collections
// (values in slabs are outside it; see node/mvcc/values.ts) and the
// compaction's wall time.
//   node dist/bench/mvcc-compaction.js [--keys N] [--writes W] [--store DIR]
// --store takes another build's dist/node/mvcc/store.js (a before/after pair
// on one machine).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: { keys: { type: 'string', default: '200000' }, writes: { type: 'string', default: '2' }, store: { type: 'string' } },
});
const keys = Number(args.keys);
const writes = Number(args.writes);
if (!Number.isSafeInteger(keys) || keys < 1 || !Number.isSafeInteger(writes) || writes < 1) throw new Error('--keys and --writes take positive integers');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const storeModule = args.store ? pathToFileURL(resolve(args.store)).href : '../node/mvcc/store.js';
const { MvccStore } = (await import(storeModule)) as typeof import('../node/mvcc/store.js');

gc();
const heapBefore = process.memoryUsage().heapUsed;
const store = new MvccStore();
const value = new Uint8Array(256).fill(7);
let index = 0;
const put = (k: number): void => void store.apply(++index, { put: { key: Buffer.from(`key-${k}`), value } });
for (let w = 0; w < writes; w++) for (let k = 0; k < keys; k++) put(k);
const compactAt = store.revision;
for (let k = 0; k < keys / 4; k++) put(k);
const started = performance.now();
store.apply(++index, { compaction: { revision: compactAt } });
const compactMs = performance.now() - started;
gc();
gc();
const perKey = (process.memoryUsage().heapUsed - heapBefore) / keys;
process.stdout.write(
  `keys=${keys} writes=${writes}: compaction of ${keys} keys took ${compactMs.toFixed(0)} ms; ` +
    `V8 heap in use afterwards ${perKey.toFixed(0)} B/key (values outside it)\n`,
);

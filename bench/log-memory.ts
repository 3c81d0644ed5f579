// What the retained Raft log costs per entry: ENTRIES entries of BYTES of
// payload held the way the log once held them (an Entry object and a
// Uint8Array with its own ArrayBuffer each) or in the packed LogCache
// (node/storage/log-cache.ts), in this process. Prints RSS, V8 heap and
// array-buffer growth per entry after full collections.
//   node dist/bench/log-memory.js [--entries N] [--bytes B] [--as objects|packed]
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { LogCache } from '../node/storage/log-cache.js';
import { EntryType, type Entry } from '../node/raft/types.js';

const { values: args } = parseArgs({
  options: { entries: { type: 'string', default: '200000' }, bytes: { type: 'string', default: '300' }, as: { type: 'string', default: 'packed' } },
});
const count = Number(args.entries);
const bytes = Number(args.bytes);
if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(bytes) || bytes < 0) throw new Error('--entries and --bytes take integers');
if (args.as !== 'objects' && args.as !== 'packed') throw new Error('--as takes objects or packed');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const entryAt = (index: number): Entry => ({ term: 1, index, type: EntryType.Normal, data: new Uint8Array(bytes).fill(index & 0xff) });

gc();
const before = process.memoryUsage();
let held: Entry[] | LogCache;
if (args.as === 'objects') {
  const log: Entry[] = [];
  for (let i = 1; i <= count; i++) log.push(entryAt(i));
  held = log;
} else {
  const log = new LogCache();
  // In batches, as a member appends them.
  for (let i = 1; i <= count; i += 64) log.append(Array.from({ length: Math.min(64, count - i + 1) }, (_, k) => entryAt(i + k)));
  held = log;
}
gc();
gc();
const after = process.memoryUsage();
const per = (a: number, b: number): string => ((a - b) / count).toFixed(0);
process.stdout.write(
  `${args.as}: ${count} entries of ${bytes} B: per entry RSS ${per(after.rss, before.rss)} B, V8 heap ${per(after.heapUsed, before.heapUsed)} B, ` +
    `array buffers ${per(after.arrayBuffers, before.arrayBuffers)} B (${held instanceof LogCache ? held.lastIndex() : held.length} held)\n`,
);

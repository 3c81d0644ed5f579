// `npm run bench:range-pages [-- KEYS [LIMIT]]`: the MVCC store alone, in
// this process. Loads KEYS keys of 1 KiB under one prefix (each written
// twice, as after a round of updates), then walks the prefix page by page the
// way kube-apiserver's paginated LIST reads etcd: [continue key, prefix end)
// with `limit` at one pinned revision. Prints CPU time per page (process CPU,
// so a busy machine moves the figure less than wall time would) and per
// count-only read of the whole prefix. Asserts nothing.
import { MvccStore } from '../node/mvcc/index.js';

const keys = Number(process.argv[2] ?? 10_000);
const limit = Number(process.argv[3] ?? 100);
const WALKS = 5;
const ROUNDS = 3;

const enc = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const prefix = '/registry/configmaps/default/';
const end = enc('/registry/configmaps/default0');
const store = new MvccStore();
const value = new Uint8Array(1024).fill(120);
let index = 0;
for (let round = 0; round < 2; round++) {
  for (let i = 0; i < keys; i++) store.apply(++index, { put: { key: enc(`${prefix}bench-${String(i).padStart(7, '0')}`), value } });
}
const revision = store.revision;

function walk(): number {
  let start = enc(prefix);
  for (let pages = 1; ; pages++) {
    const r = store.range({ key: start, rangeEnd: end, limit, revision });
    if (!r.more) return pages;
    start = enc(`${Buffer.from(r.kvs[r.kvs.length - 1]!.key).toString('latin1')}\0`);
  }
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

process.stdout.write(`${keys} keys, limit ${limit}, revision ${revision}\n`);
for (let round = 1; round <= ROUNDS; round++) {
  const t0 = process.cpuUsage();
  let pages = 0;
  for (let w = 0; w < WALKS; w++) pages += walk();
  const ms = cpuMs(t0);
  process.stdout.write(`round ${round}: ${pages} pages, ${((1000 * ms) / pages).toFixed(0)} us CPU per page\n`);
}
const t1 = process.cpuUsage();
const COUNTS = 50;
for (let i = 0; i < COUNTS; i++) store.range({ key: enc(prefix), rangeEnd: end, countOnly: true, revision });
process.stdout.write(`count-only of the whole prefix: ${((1000 * cpuMs(t1)) / COUNTS).toFixed(0)} us CPU\n`);

// Where a WAL fsync runs: on the event loop's own thread while fsyncs are
// fast, in libuv's thread pool when they are not.
//
// A pool fsync costs two thread wake-ups (the pool thread, then the event
// loop when it completes). On a busy machine each wake-up may wait for a
// core, and that wait, not the disk, is most of a small commit's latency
// and a good part of its CPU. Made on the event loop, the fsync blocks it:
// a good trade for the sub-millisecond flush of a local SSD (requests that
// arrive meanwhile wait in socket buffers and join the next commit), a bad
// one for a disk whose flushes take milliseconds (the event loop could have
// parsed and applied in that time) or that stalls (the member must go on
// sending heartbeats and answering reads). So:
//   - the running average of fsyncs made here decides: above slowAverageMs
//     they move to the pool, and come back once it is under half of that;
//   - in the pool, one fsync in probeEvery is still made here, to notice
//     that the disk got fast again;
//   - a single fsync here slower than stallMs sends every fsync to the pool
//     for stallHoldMs, probes included.
import type { SyncFile } from './durable-fs.js';

export interface AdaptiveSyncOptions {
  /** Blocking fsync on the calling thread. */
  here: SyncFile;
  /** Fsync in the thread pool. */
  pool: SyncFile;
  slowAverageMs?: number;
  stallMs?: number;
  stallHoldMs?: number;
  probeEvery?: number;
  /** Milliseconds, monotonic. */
  now?: () => number;
}

export const ADAPTIVE_SYNC_DEFAULTS = {
  /** A running average above this moves fsyncs to the pool. */
  slowAverageMs: 2,
  /** One fsync above this (a tenth of the default heartbeat) is a stall. */
  stallMs: 10,
  stallHoldMs: 5_000,
  probeEvery: 32,
} as const;

/** Weight of the newest fsync in the running average. */
const AVERAGE_WEIGHT = 1 / 8;

export interface AdaptiveSync {
  sync: SyncFile;
  /** Fsyncs made on the calling thread and in the pool so far. */
  counts(): { here: number; pool: number };
}

export function adaptiveSync(options: AdaptiveSyncOptions): AdaptiveSync {
  const slowAverageMs = options.slowAverageMs ?? ADAPTIVE_SYNC_DEFAULTS.slowAverageMs;
  const stallMs = options.stallMs ?? ADAPTIVE_SYNC_DEFAULTS.stallMs;
  const stallHoldMs = options.stallHoldMs ?? ADAPTIVE_SYNC_DEFAULTS.stallHoldMs;
  const probeEvery = options.probeEvery ?? ADAPTIVE_SYNC_DEFAULTS.probeEvery;
  const now = options.now ?? (() => performance.now());
  let average = 0;
  let inPool = false;
  let heldUntil = -Infinity;
  let sincePoolProbe = 0;
  let here = 0;
  let pool = 0;

  const runHere = async (file: Parameters<SyncFile>[0]): Promise<void> => {
    here += 1;
    const started = now();
    try {
      await options.here(file);
    } finally {
      const took = now() - started;
      average += (took - average) * AVERAGE_WEIGHT;
      if (took > stallMs) heldUntil = now() + stallHoldMs;
      if (average > slowAverageMs) inPool = true;
      else if (average < slowAverageMs / 2) inPool = false;
    }
  };

  const sync: SyncFile = (file) => {
    if (now() >= heldUntil) {
      if (!inPool) return runHere(file);
      if (++sincePoolProbe >= probeEvery) {
        sincePoolProbe = 0;
        return runHere(file);
      }
    }
    pool += 1;
    return options.pool(file);
  };
  return { sync, counts: () => ({ here, pool }) };
}

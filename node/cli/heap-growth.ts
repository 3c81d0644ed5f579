// How far V8 lets a member's heap grow past its live data before the next
// full collection. A member's heap is mostly long-lived (the key index and
// values) and its garbage mostly middle-aged (Raft entries held until the
// next snapshot compacts the log), so under write load V8's own choice, up
// to 4x the live heap after a collection, shows up as resident memory: one
// member grew by about 1.9 kB of RSS per key of 256 B right after 400k
// puts from 200 clients, a 3-member leader by 2 kB after 200k. A fixed
// factor of 2 is the headroom etcd's Go runtime keeps (GOGC=100) and held
// about 1.3 kB in both, for some 5-10% more CPU per write (more full
// collections). bench/RESULTS.md has the runs.
// Set in process, at start: no re-exec, no flag the user has to pass.
import { setFlagsFromString } from 'node:v8';

/** Growth past the live heap, in percent (100: the heap may double before a full collection). */
export const DEFAULT_HEAP_GROWING_PERCENT = 100;

/** The environment variable that overrides it; 0 leaves V8's own heuristic. */
export const HEAP_GROWING_ENV = 'KVORUM_HEAP_GROWING_PERCENT';

/**
 * The percentage to set, or undefined to leave V8 alone: when the env says 0,
 * or node was started with its own --heap-growing-percent (that one wins).
 */
export function heapGrowingPercent(env: NodeJS.ProcessEnv, execArgv: readonly string[]): number | undefined {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent\b/.test(a))) return undefined;
  const raw = env[HEAP_GROWING_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_HEAP_GROWING_PERCENT;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0 || n > 1000) throw new Error(`${HEAP_GROWING_ENV} must be an integer from 0 to 1000, got ${JSON.stringify(raw)}`);
  return n === 0 ? undefined : n;
}

/** Applies heapGrowingPercent(); returns what was set (undefined: V8's own heuristic). */
export function tuneHeapGrowth(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): number | undefined {
  const percent = heapGrowingPercent(env, execArgv);
  // V8 reads the flag each time it sets the next collection's limit, so setting it now applies from the next one.
  if (percent !== undefined) setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}

// Failpoints: faults a test can switch on in a member process, to stall or
// fail its disk, or to turn it into a deliberately broken member that the
// chaos harness must catch. They are read from the environment once, and
// only when KVORUM_TEST_FAILPOINTS=1 is set as well, so a production member
// never honours a stray KVORUM_FAILPOINTS.
//
//   KVORUM_TEST_FAILPOINTS=1 KVORUM_FAILPOINTS='name=action,name=action'
//
// Failpoints and their actions:
//   wal-fsync=delay:MS        every fsync of the WAL or a snapshot takes MS longer (a stalling disk)
//   wal-fsync=fail            every fsync fails with EIO (a failed disk; the member stops)
//   wal-fsync=fail-after:N    the first N fsyncs succeed, then every one fails
//   backend-commit=delay:MS   every apply of committed entries to the store (Kvorum's backend
//                             commit) takes MS longer; the member's one thread sleeps, so its
//                             peers and clients wait too (etcd's stalled commit blocks only applies)
//   ack-before-fsync=delay:MS BROKEN: every member sends its messages (votes, append acks)
//                             and answers clients without waiting for its writes, and each
//                             WAL write reaches the file only MS later: a write a quorum
//                             acknowledged is lost when every member is killed within MS
//   local-read=on             BROKEN: linearizable reads are served from local state without ReadIndex
//   drop-watch-event=N        BROKEN: the Nth event the member's watches deliver live is silently dropped
import type { SyncFile } from './storage/durable-fs.js';

export const FAILPOINTS_ENV = 'KVORUM_FAILPOINTS';
export const FAILPOINTS_ENABLE_ENV = 'KVORUM_TEST_FAILPOINTS';

const KNOWN = ['wal-fsync', 'backend-commit', 'ack-before-fsync', 'local-read', 'drop-watch-event'] as const;
export type FailpointName = (typeof KNOWN)[number];

export class FailpointError extends Error {
  constructor(message: string) {
    super(`${FAILPOINTS_ENV}: ${message}`);
    this.name = 'FailpointError';
  }
}

/** Parses `name=action,...`; an unknown name or an empty action is an error (a typo must not pass silently). */
export function parseFailpoints(text: string): Map<FailpointName, string> {
  const out = new Map<FailpointName, string>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    const action = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!(KNOWN as readonly string[]).includes(name)) throw new FailpointError(`unknown failpoint ${JSON.stringify(name)} (known: ${KNOWN.join(', ')})`);
    if (action === '') throw new FailpointError(`failpoint ${name} needs an action (${name}=...)`);
    out.set(name as FailpointName, action);
  }
  return out;
}

/** The failpoints this process honours: none unless both variables are set. */
export function failpointsFromEnv(env: NodeJS.ProcessEnv): Map<FailpointName, string> {
  if (env[FAILPOINTS_ENABLE_ENV] !== '1') return new Map();
  return parseFailpoints(env[FAILPOINTS_ENV] ?? '');
}

let active: Map<FailpointName, string> | undefined;

function current(): Map<FailpointName, string> {
  active ??= failpointsFromEnv(process.env);
  return active;
}

/** For tests in one process: replaces the active failpoints (undefined: read the environment again). */
export function setFailpoints(points: Map<FailpointName, string> | undefined): void {
  active = points;
}

function numberAction(name: FailpointName, action: string, prefix: string): number | undefined {
  if (!action.startsWith(prefix)) return undefined;
  const n = Number(action.slice(prefix.length));
  if (!Number.isFinite(n) || n < 0) throw new FailpointError(`${name}=${action}: ${prefix.replace(/:$/, '')} needs a non-negative number`);
  return n;
}

/** Wraps an fsync with the wal-fsync failpoint; returns `sync` itself when it is off. */
export function withFsyncFailpoint(sync: SyncFile): SyncFile {
  const action = current().get('wal-fsync');
  if (action === undefined) return sync;
  const delay = numberAction('wal-fsync', action, 'delay:');
  const failAfter = action === 'fail' ? 0 : numberAction('wal-fsync', action, 'fail-after:');
  if (delay === undefined && failAfter === undefined) throw new FailpointError(`wal-fsync=${action}: expected delay:MS, fail or fail-after:N`);
  let calls = 0;
  return async (file) => {
    if (delay !== undefined) await new Promise((r) => setTimeout(r, delay));
    if (failAfter !== undefined && ++calls > failAfter) {
      throw Object.assign(new Error('EIO: i/o error, fsync (failpoint wal-fsync)'), { code: 'EIO' });
    }
    await sync(file);
  };
}

/**
 * The backend-commit failpoint: a function that holds the caller MS (the
 * thread sleeps, as a commit stuck on a slow disk would); undefined when off.
 */
export function backendCommitStall(): (() => void) | undefined {
  const action = current().get('backend-commit');
  if (action === undefined) return undefined;
  const delay = numberAction('backend-commit', action, 'delay:');
  if (delay === undefined) throw new FailpointError(`backend-commit=${action}: expected delay:MS`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return () => {
    Atomics.wait(cell, 0, 0, delay);
  };
}

/** BROKEN on purpose when set: milliseconds persisting waits after the messages went out; undefined when off. */
export function ackBeforeFsyncDelayMs(): number | undefined {
  const action = current().get('ack-before-fsync');
  if (action === undefined) return undefined;
  const delay = numberAction('ack-before-fsync', action, 'delay:');
  if (delay === undefined) throw new FailpointError(`ack-before-fsync=${action}: expected delay:MS`);
  return delay;
}

/**
 * BROKEN on purpose with ack-before-fsync: the WAL's `beforeWrite` hook that
 * holds each write back MS (the bytes are not even in the page cache, so a
 * kill -9 loses them as a power cut loses unsynced ones); {} when off.
 */
export function walWriteHold(): { beforeWrite?: () => Promise<void> } {
  const ms = ackBeforeFsyncDelayMs();
  if (ms === undefined) return {};
  return { beforeWrite: () => new Promise((r) => setTimeout(r, ms)) };
}

/** BROKEN on purpose when set: linearizable reads skip the ReadIndex barrier. */
export function localReads(): boolean {
  return current().get('local-read') === 'on';
}

/** BROKEN on purpose when set: a counter that says, for each live event, whether to drop it (exactly the Nth). */
export function watchEventDropper(): (() => boolean) | undefined {
  const action = current().get('drop-watch-event');
  if (action === undefined) return undefined;
  const nth = Number(action);
  if (!Number.isInteger(nth) || nth < 1) throw new FailpointError(`drop-watch-event=${action}: expected a positive event number`);
  let seen = 0;
  return () => ++seen === nth;
}

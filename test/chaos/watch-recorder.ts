// Turns a WatchResponse as @grpc/grpc-js decodes it into the record the
// watch checker reads; shared by every chaos client that watches.
import type { Pb } from './calls.js';
import type { WatchEventRecord, WatchSessionRecord } from './watch-checker.js';

/**
 * Records `res` on `session`: the created response registers the session in
 * `sessions`, a cancel (compaction) is recorded as such. Returns what the
 * response was, and for events the revision of the last one (to resume from).
 */
export function recordWatchResponse(res: Pb, session: WatchSessionRecord, sessions: WatchSessionRecord[]): { kind: 'created' | 'canceled' | 'events'; lastRevision?: number } {
  const headerRevision = Number((res.header as { revision: string } | undefined)?.revision ?? 0);
  if (res.created === true) {
    session.createdRevision = headerRevision;
    sessions.push(session);
    return { kind: 'created' };
  }
  const events: WatchEventRecord[] = (res.events as Pb[]).map((e) => {
    const kv = e.kv as { key: Buffer; value: Buffer; mod_revision: string };
    const prev = e.prev_kv as { value: Buffer; mod_revision: string } | null | undefined;
    return {
      type: e.type === 'DELETE' ? ('DELETE' as const) : ('PUT' as const),
      key: kv.key.toString(),
      value: e.type === 'DELETE' ? '' : kv.value.toString(),
      modRevision: Number(kv.mod_revision),
      ...(prev && { prevKv: { value: prev.value.toString(), modRevision: Number(prev.mod_revision) } }),
    };
  });
  if (res.canceled === true) {
    session.responses.push({ headerRevision, events, canceled: true, compactRevision: Number(res.compact_revision ?? 0) });
    return { kind: 'canceled' };
  }
  session.responses.push({ headerRevision, events, ...(events.length === 0 && { progress: true }) });
  return { kind: 'events', ...(events.length > 0 && { lastRevision: events[events.length - 1]!.modRevision }) };
}

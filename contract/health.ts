// What a member tells about its own health, as the operator and probes read it.

/** HTTP paths a member serves on its client and metrics ports (as etcd 3.5 does). */
export const PROBE_PATHS = {
  /** 200 while the member knows a leader and no alarm but NOSPACE is raised: a full member still serves reads, deletes and compaction. */
  readiness: '/readyz',
  /** 200 unless the member's Raft loop failed for good. */
  liveness: '/livez',
  /** etcd's /health: false under any alarm. */
  health: '/health',
} as const;

/** etcd's alarm names, as AlarmList and Maintenance.Status spell them. */
export const ALARMS = { noSpace: 'NOSPACE', corrupt: 'CORRUPT' } as const;

/** The server's text for a write refused by a raised NOSPACE alarm. */
export const NOSPACE_ERROR_TEXT = 'etcdserver: mvcc: database space exceeded';

/** --quota-backend-bytes when the flag is absent or 0 (etcd's 2 GiB). */
export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * The alarm names in a Maintenance.Status `errors` list. A member reports each
 * raised alarm as `memberID:<hex> alarm:<NAME>` (etcd's spelling); other
 * entries are not alarms and are left out.
 */
export function alarmsInStatusErrors(errors: readonly string[]): string[] {
  const names = new Set<string>();
  for (const e of errors) {
    const m = /(?:^|\s)alarm:([A-Z_]+)\b/.exec(e);
    if (m) names.add(m[1]!);
  }
  return [...names].sort();
}

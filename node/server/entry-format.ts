// The cluster's entry format, like etcd's cluster version: which encoding of
// Raft entries every member of the cluster can read. Each member publishes
// the highest format it reads with its attributes; the leader raises the
// cluster's format through a replicated entry once every member of the
// configuration reads the higher one, so all members switch at the same log
// index, and a member that cannot read the cluster's format stops instead of
// misreading the log (a downgrade below it is refused).

/** Entries other than puts through Node's V8 serializer (releases up to 0.1.0-pre.230a543). */
export const ENTRY_FORMAT_V8 = 1;
/** Entries other than puts as CBOR with a schema number (entry.ts). */
export const ENTRY_FORMAT_CBOR = 2;
/**
 * Lease IDs as any int64 (bigints): puts in layout 4, other entries in CBOR
 * schema 2 (entry.ts). Until the cluster is at this format, members grant
 * only the IDs older releases grant (1 to 2^53-1), so every member applies
 * the same.
 */
export const ENTRY_FORMAT_INT64_LEASES = 3;
/**
 * Auth entries (CBOR schema 2, request kind `auth`: users, roles,
 * permissions, the enabled flag). Until the cluster is at this format the
 * Auth API's writes are refused, since an older member could not apply them.
 */
export const ENTRY_FORMAT_AUTH = 4;
/** The highest entry format this release reads (and advertises). */
export const MAX_ENTRY_FORMAT = ENTRY_FORMAT_AUTH;

/** The error a member stops with when the cluster's entries are in a format it cannot read. */
export class EntryFormatTooNewError extends Error {
  constructor(readonly clusterFormat: number, where: string) {
    super(
      `the cluster writes entry format ${clusterFormat} (${where}) but this release reads formats up to ${MAX_ENTRY_FORMAT}: ` +
        'a member cannot be downgraded below the cluster\'s entry format; run a release that reads it, or restore an older backup into a new cluster',
    );
    this.name = 'EntryFormatTooNewError';
  }
}

/** The format the leader may move the cluster to, given what each member advertises (absent: 1); undefined when it stays. */
export function nextClusterFormat(current: number, advertised: readonly (number | undefined)[]): number | undefined {
  if (advertised.length === 0) return undefined;
  const common = Math.min(...advertised.map((f) => f ?? ENTRY_FORMAT_V8), MAX_ENTRY_FORMAT);
  return common > current ? common : undefined;
}

// Whether a set of key permissions covers a request's key or range, as
// etcd's auth store decides it: a permission with no range end is one key,
// a range end of "\0" means every key from `key` on, anything else is
// [key, range_end). A single key needs one permission holding it; a range
// needs the permissions of that kind, taken together, to cover it without
// a gap (several adjacent grants may cover one range).

export type PermType = 'READ' | 'WRITE' | 'READWRITE';

export interface KeyPermission {
  permType: PermType;
  key: Uint8Array;
  rangeEnd: Uint8Array;
}

/** What a request needs: read or write on a key or range (range end as in a RangeRequest). */
export interface KeyAccess {
  kind: 'read' | 'write';
  key: Uint8Array;
  rangeEnd?: Uint8Array;
}

/** [begin, end); end null: no upper bound. */
interface Interval {
  begin: Buffer;
  end: Buffer | null;
}

const ZERO = Buffer.from([0]);

function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** The smallest key after `key`: a single key as an interval. */
function pointEnd(key: Buffer): Buffer {
  return Buffer.concat([key, ZERO]);
}

function permInterval(p: KeyPermission): Interval {
  const key = buf(p.key);
  if (p.rangeEnd.length === 0) return { begin: key, end: pointEnd(key) };
  if (p.rangeEnd.length === 1 && p.rangeEnd[0] === 0) return { begin: key, end: null };
  return { begin: key, end: buf(p.rangeEnd) };
}

function grants(p: KeyPermission, kind: KeyAccess['kind']): boolean {
  return p.permType === 'READWRITE' || (kind === 'read' ? p.permType === 'READ' : p.permType === 'WRITE');
}

/** end a is at or past end b (null is unbounded). */
function endCovers(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  return Buffer.compare(a, b) >= 0;
}

export function permits(perms: readonly KeyPermission[], access: KeyAccess): boolean {
  const key = buf(access.key);
  const rangeEnd = access.rangeEnd && access.rangeEnd.length > 0 ? buf(access.rangeEnd) : undefined;
  const want: Interval =
    rangeEnd === undefined ? { begin: key, end: pointEnd(key) } : rangeEnd.length === 1 && rangeEnd[0] === 0 ? { begin: key, end: null } : { begin: key, end: rangeEnd };
  const have = perms
    .filter((p) => grants(p, access.kind))
    .map(permInterval)
    .sort((a, b) => Buffer.compare(a.begin, b.begin));
  // Sweep from the start of the wanted range; a gap before its end refuses it.
  let reached: Buffer | null = want.begin;
  for (const ivl of have) {
    if (reached === null) break;
    if (Buffer.compare(ivl.begin, reached) > 0) break;
    if (!endCovers(reached, ivl.end)) reached = ivl.end;
    if (endCovers(reached, want.end)) return true;
  }
  return endCovers(reached, want.end) && (reached === null || Buffer.compare(reached, want.begin) > 0);
}

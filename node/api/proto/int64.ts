// 64-bit integers in etcd messages.
//
// The loader hands every int64/uint64 field over as a decimal string (the
// `longs: String` option): JavaScript numbers are exact only up to 2^53, and
// etcd's IDs (cluster, member and lease IDs) routinely use all 64 bits.
// Decimal strings are also what etcd's JSON gateway prints, so the same value
// can go to gRPC and to JSON unchanged. These helpers convert between those
// strings and numbers or bigints, refusing anything that would lose precision
// or does not fit the field's range.

/** An int64 field as the loader represents it: a decimal string. */
export type Int64 = string;
/** A uint64 field as the loader represents it: a decimal string of a non-negative number. */
export type Uint64 = string;
/** What the conversion helpers accept as a 64-bit integer. */
export type Int64Like = string | number | bigint;

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;

const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

/** Parses a value as an integer bigint without any range check. Throws a TypeError on non-integers. */
function toBigIntLoose(value: Int64Like, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`${what}: ${value} is not an integer`);
    if (!Number.isSafeInteger(value)) throw new RangeError(`${what}: ${value} is beyond 2^53 and may have lost precision; pass a string or bigint`);
    return BigInt(value);
  }
  if (typeof value === 'string') {
    // Leading zeros and "-0" are tolerated; signs other than '-', spaces,
    // fractions, exponents and hex are not.
    if (!/^-?[0-9]+$/.test(value)) throw new TypeError(`${what}: ${JSON.stringify(value)} is not a decimal integer`);
    return BigInt(value);
  }
  throw new TypeError(`${what}: expected a string, number or bigint, got ${value === null ? 'null' : typeof value}`);
}

/** Converts to a bigint in the signed 64-bit range. */
export function int64ToBigInt(value: Int64Like, what = 'int64'): bigint {
  const n = toBigIntLoose(value, what);
  if (n < INT64_MIN || n > INT64_MAX) throw new RangeError(`${what}: ${n} does not fit in a signed 64-bit integer`);
  return n;
}

/** Converts to a bigint in the unsigned 64-bit range. */
export function uint64ToBigInt(value: Int64Like, what = 'uint64'): bigint {
  const n = toBigIntLoose(value, what);
  if (n < 0n || n > UINT64_MAX) throw new RangeError(`${what}: ${n} does not fit in an unsigned 64-bit integer`);
  return n;
}

/** Canonical decimal string of a signed 64-bit value (what to put in an int64 field). */
export function int64ToString(value: Int64Like, what = 'int64'): Int64 {
  return int64ToBigInt(value, what).toString();
}

/** Canonical decimal string of an unsigned 64-bit value (what to put in a uint64 field). */
export function uint64ToString(value: Int64Like, what = 'uint64'): Uint64 {
  return uint64ToBigInt(value, what).toString();
}

/**
 * Converts an int64/uint64 field to a JavaScript number. Throws a RangeError
 * if the value is beyond Number.MAX_SAFE_INTEGER (use a bigint then).
 */
export function int64ToNumber(value: Int64Like, what = 'int64'): number {
  const n = toBigIntLoose(value, what);
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${what}: ${n} cannot be represented exactly as a number; use int64ToBigInt`);
  }
  return Number(n);
}

/** True when the string is a canonical decimal (no sign on zero, no leading zeros) within the signed 64-bit range. */
export function isInt64String(value: unknown): value is Int64 {
  if (typeof value !== 'string' || !DECIMAL.test(value) || value === '-0') return false;
  const n = BigInt(value);
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** True when the string is a canonical decimal within the unsigned 64-bit range. */
export function isUint64String(value: unknown): value is Uint64 {
  if (typeof value !== 'string' || !DECIMAL.test(value) || value.startsWith('-')) return false;
  return BigInt(value) <= UINT64_MAX;
}

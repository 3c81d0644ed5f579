// Password hashes: node:crypto's scrypt with a random salt per password,
// stored as one self-describing, versioned string
//   scrypt$1$<N>$<r>$<p>$<salt, base64>$<hash, base64>
// so the cost can rise in a later release while older hashes still verify.
// Hashing is done on the member that takes the request, before proposing:
// the plain password never reaches the log, a snapshot or a log line.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const SCHEME = 'scrypt';
const VERSION = '1';
/** 2^15 with r=8: about 32 MiB and tens of milliseconds per hash, off the event loop (libuv's pool). */
export const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const opts: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r };
  return new Promise((resolve, reject) => scrypt(password, salt, HASH_BYTES, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, cost);
  return [SCHEME, VERSION, cost.N, cost.r, cost.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Whether `password` matches `stored`; false for a hash this release cannot read. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 7 || parts[0] !== SCHEME || parts[1] !== VERSION) return false;
  const [N, r, p] = parts.slice(2, 5).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return false;
  const salt = Buffer.from(parts[5]!, 'base64');
  const expected = Buffer.from(parts[6]!, 'base64');
  if (expected.length !== HASH_BYTES) return false;
  const actual = await derive(password, salt, { N, r, p });
  return timingSafeEqual(actual, expected);
}

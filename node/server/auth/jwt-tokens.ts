// JWT tokens (etcd's --auth-token jwt,pub-key=...,priv-key=...,sign-method=...,ttl=...):
// a compact JWS whose claims are etcd's (`username`, `revision`, `exp`),
// signed with the member's private key and accepted by any member holding
// the public key, with nothing kept in memory or sent through the log.
// node:crypto signs and verifies: RS*, PS* (RSA) and ES* (ECDSA, the
// signature as r||s as JWS wants it).
import { constants, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TokenProvider } from './token-provider.js';
import { ServerError } from '../errors.js';

export const JWT_SIGN_METHODS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;
export type JwtSignMethod = (typeof JWT_SIGN_METHODS)[number];

/** etcd's default JWT lifetime. */
export const DEFAULT_JWT_TTL_MS = 5 * 60_000;

export interface JwtOptions {
  signMethod: JwtSignMethod;
  publicKey: KeyObject;
  /** Without it this member verifies tokens but cannot issue them (as etcd with only pub-key). */
  privateKey?: KeyObject;
  ttlMs: number;
}

/** The --auth-token jwt settings as read from the command line. */
export interface JwtFiles {
  signMethod: JwtSignMethod;
  pubKeyFile: string;
  privKeyFile?: string;
  ttlMs: number;
}

export function jwtOptionsFromFiles(files: JwtFiles): JwtOptions {
  const publicKey = createPublicKey(readFileSync(files.pubKeyFile));
  const privateKey = files.privKeyFile ? createPrivateKey(readFileSync(files.privKeyFile)) : undefined;
  const family = files.signMethod.startsWith('ES') ? 'ec' : 'rsa';
  for (const key of [publicKey, privateKey]) {
    if (key && key.asymmetricKeyType !== family && !(family === 'rsa' && key.asymmetricKeyType === 'rsa-pss')) {
      throw new Error(`--auth-token: sign-method ${files.signMethod} needs ${family.toUpperCase()} keys, not ${String(key.asymmetricKeyType)}`);
    }
  }
  return { signMethod: files.signMethod, publicKey, ...(privateKey && { privateKey }), ttlMs: files.ttlMs };
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

function digest(method: JwtSignMethod): string {
  return `sha${method.slice(2)}`;
}

function keyFor(method: JwtSignMethod, key: KeyObject): KeyObject | { key: KeyObject; dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number } {
  if (method.startsWith('ES')) return { key, dsaEncoding: 'ieee-p1363' };
  if (method.startsWith('PS')) return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  return key;
}

export class JwtTokens implements TokenProvider {
  readonly replicated = false;
  private readonly header: string;

  constructor(
    private readonly opts: JwtOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.header = b64url(JSON.stringify({ alg: opts.signMethod, typ: 'JWT' }));
  }

  generate(user: string, revision: number): string {
    if (!this.opts.privateKey) throw new ServerError('FAILED_PRECONDITION', 'etcdserver: this member has no JWT private key (--auth-token priv-key=...) and cannot issue tokens');
    const claims = b64url(JSON.stringify({ username: user, revision, exp: Math.floor((this.now() + this.opts.ttlMs) / 1000) }));
    const signed = `${this.header}.${claims}`;
    const signature = sign(digest(this.opts.signMethod), Buffer.from(signed), keyFor(this.opts.signMethod, this.opts.privateKey));
    return `${signed}.${b64url(signature)}`;
  }

  assign(): void {}

  user(token: string): string | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [header, claims, signature] = parts as [string, string, string];
    try {
      // The algorithm is this member's, never the token's choice.
      const alg = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
      if (alg !== this.opts.signMethod) return undefined;
      const ok = verify(digest(this.opts.signMethod), Buffer.from(`${header}.${claims}`), keyFor(this.opts.signMethod, this.opts.publicKey), Buffer.from(signature, 'base64url'));
      if (!ok) return undefined;
      const body = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { username?: unknown; exp?: unknown };
      if (typeof body.username !== 'string' || typeof body.exp !== 'number') return undefined;
      if (body.exp * 1000 <= this.now()) return undefined;
      return body.username;
    } catch {
      return undefined;
    }
  }

  // A JWT lives until it expires; the gate still refuses a deleted user, and everyone while auth is off.
  forgetUser(): void {}

  clear(): void {}
}

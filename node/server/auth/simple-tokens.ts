// etcd's "simple" tokens: random strings handed out by Authenticate, held in
// memory, each valid for a TTL (etcd's --auth-token-ttl, 300 s by default)
// that every use of it on a member renews there. As in etcd, the member
// that checked the password puts the token (never the password) in the log
// and every member holds it from that entry on, so a client may use any
// member. A restart forgets them and clients authenticate again (as they
// do on "invalid auth token").
import { randomBytes } from 'node:crypto';
import type { TokenProvider } from './token-provider.js';

export const DEFAULT_TOKEN_TTL_MS = 300_000;

interface Held {
  user: string;
  expiresAt: number;
}

export class SimpleTokens implements TokenProvider {
  readonly replicated = true;
  private readonly tokens = new Map<string, Held>();
  private issued = 0;

  constructor(
    private readonly ttlMs: number = DEFAULT_TOKEN_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A fresh token (not yet held): random letters, then a counter that keeps this member's apart. */
  generate(_user?: string, _revision?: number): string {
    return `${randomBytes(12).toString('base64url')}.${++this.issued}`;
  }

  /** Holds `token` for `user`, unless it was issued a TTL ago already (a log replayed after a restart). */
  assign(token: string, user: string, issuedAt: number = this.now()): void {
    this.sweep();
    const now = this.now();
    if (issuedAt + this.ttlMs <= now) return;
    this.tokens.set(token, { user, expiresAt: now + this.ttlMs });
  }

  /** generate() and assign() at once (tests, single-member use). */
  issue(user: string): string {
    const token = this.generate();
    this.assign(token, user);
    return token;
  }

  /** The user a live token names (its TTL starts over), or undefined. */
  user(token: string): string | undefined {
    const held = this.tokens.get(token);
    if (!held) return undefined;
    const now = this.now();
    if (held.expiresAt <= now) {
      this.tokens.delete(token);
      return undefined;
    }
    held.expiresAt = now + this.ttlMs;
    return held.user;
  }

  /** A deleted user's tokens stop working at once. */
  forgetUser(user: string): void {
    for (const [token, held] of this.tokens) if (held.user === user) this.tokens.delete(token);
  }

  /** Auth disabled: every token goes. */
  clear(): void {
    this.tokens.clear();
  }

  get size(): number {
    return this.tokens.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [token, held] of this.tokens) if (held.expiresAt <= now) this.tokens.delete(token);
  }
}

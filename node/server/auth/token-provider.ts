// What the auth gate and Authenticate need from a kind of token (etcd's
// --auth-token): simple tokens (simple-tokens.ts), random strings that every
// member learns through the log, or JWTs (jwt-tokens.ts), signed and
// checked by signature alone.

export interface TokenProvider {
  /** Whether a token must go through the log before members accept it (simple tokens). */
  readonly replicated: boolean;
  /** A fresh token for `user` at auth revision `revision` (a JWT is complete; a simple one still needs assign()). */
  generate(user: string, revision: number): string;
  /** Makes a replicated token valid on this member (simple tokens only). */
  assign(token: string, user: string, issuedAt: number): void;
  /** The user a valid token names, or undefined. */
  user(token: string): string | undefined;
  /** A deleted user's tokens stop working (where the provider holds them). */
  forgetUser(user: string): void;
  /** Auth disabled: every held token goes. */
  clear(): void;
}

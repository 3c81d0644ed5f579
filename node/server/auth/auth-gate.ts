// Who is calling and whether they may: the identity of a request (a simple
// token from the gRPC metadata or the gateway's Authorization header, else
// the client certificate's CN under --client-cert-auth), and etcd 3.4's
// checks of it against the replicated auth store. With auth disabled every
// check passes; the root role passes every check.
import { errInvalidAuthToken, errPermissionDenied, errUserEmpty, errUserNotFound } from './auth-errors.js';
import { ROOT_ROLE, type AuthStore } from './auth-store.js';
import { permits, type KeyAccess } from './key-permissions.js';
import type { TokenProvider } from './token-provider.js';

/** What a request brings to identify its caller. */
export interface Credentials {
  token?: string;
  /** The verified client certificate's subject CN (only under --client-cert-auth). */
  commonName?: string;
}

export class AuthGate {
  constructor(
    private readonly store: AuthStore,
    private readonly tokens: TokenProvider,
  ) {}

  get enabled(): boolean {
    return this.store.enabled;
  }

  /**
   * The user a request acts as: undefined when auth is off or nobody is
   * named. A token that names nobody is refused ("invalid auth token"), so
   * the client authenticates again.
   */
  identify(creds: Credentials): string | undefined {
    if (!this.store.enabled) return undefined;
    if (creds.token !== undefined && creds.token !== '') {
      const user = this.tokens.user(creds.token);
      if (user === undefined) throw errInvalidAuthToken();
      return user;
    }
    return creds.commonName !== undefined && creds.commonName !== '' ? creds.commonName : undefined;
  }

  /**
   * Throws etcd's error unless `user` may do all of `needs`; returns the
   * auth revision the check held at (undefined while auth is off), which a
   * write carries into the log to be applied only if nothing changed since.
   */
  checkAccess(user: string | undefined, needs: readonly KeyAccess[]): number | undefined {
    if (!this.store.enabled) return undefined;
    if (user === undefined) throw errUserEmpty();
    // A user deleted since its token was issued may do nothing.
    if (!this.store.user(user)) throw errPermissionDenied();
    if (this.store.hasRootRole(user)) return this.store.revision;
    const perms = this.store.permissionsOf(user);
    for (const need of needs) if (!permits(perms, need)) throw errPermissionDenied();
    return this.store.revision;
  }

  /** Whether `user` may read `needs` (a watch's range): the same check, as a verdict. */
  allows(user: string | undefined, needs: readonly KeyAccess[]): boolean {
    try {
      this.checkAccess(user, needs);
      return true;
    } catch {
      return false;
    }
  }

  /** Admin calls (Auth management, member changes, most of Maintenance) need the root role. */
  checkAdmin(user: string | undefined): void {
    if (!this.store.enabled) return;
    if (user === undefined) throw errUserEmpty();
    if (!this.store.user(user)) throw errUserNotFound();
    if (!this.store.user(user)!.roles.includes(ROOT_ROLE)) throw errPermissionDenied();
  }
}

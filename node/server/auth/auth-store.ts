// The replicated auth store: users (name, password hash, roles), roles
// (key permissions), whether auth is enabled, and the auth revision that
// every change of users, roles or permissions raises. It changes only when
// an auth entry applies or a snapshot is installed, so every member holds
// the same; the rules and errors are etcd 3.4's.
import { errAuthFailed, errAuthNotEnabled, errInvalidAuthMgmt, errPermissionNotGranted, errRoleAlreadyExist, errRoleEmpty, errRoleNotFound, errRoleNotGranted, errRootRoleNotExist, errRootUserNotExist, errUserAlreadyExist, errUserEmpty, errUserNotFound } from './auth-errors.js';
import type { KeyPermission, PermType } from './key-permissions.js';

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

export interface AuthUser {
  name: string;
  /** A password hash (password.ts); absent for a user created without one (certificate-only). */
  password?: string;
  /** Sorted. */
  roles: string[];
  noPassword?: boolean;
}

export interface AuthRole {
  name: string;
  /** Sorted by key, then range end. */
  permissions: KeyPermission[];
}

/** An auth change as a Raft entry carries it. Passwords are hashes, never plain text. */
export type AuthRequest =
  | { authEnable: Record<string, never> }
  | { authDisable: Record<string, never> }
  | { userAdd: { name: string; password?: string; noPassword?: boolean } }
  | { userDelete: { name: string } }
  | { userChangePassword: { name: string; password: string } }
  | { userGrantRole: { user: string; role: string } }
  | { userRevokeRole: { name: string; role: string } }
  | { roleAdd: { name: string } }
  | { roleDelete: { role: string } }
  | { roleGrantPermission: { name: string; perm: KeyPermission } }
  | { roleRevokePermission: { role: string; key: Uint8Array; rangeEnd: Uint8Array } }
  /**
   * A simple token handed out after the proposing member checked the
   * password (which stays there): every member holds the token from this
   * index on, as etcd assigns its simple tokens through the log, so any
   * member accepts it. `issuedAt` (ms since the epoch) keeps a replay after
   * a restart from reviving a token past its TTL.
   */
  | { authenticate: { name: string; token: string; issuedAt: number } };

export const AUTH_REQUEST_KINDS: ReadonlySet<string> = new Set([
  'authEnable',
  'authDisable',
  'userAdd',
  'userDelete',
  'userChangePassword',
  'userGrantRole',
  'userRevokeRole',
  'roleAdd',
  'roleDelete',
  'roleGrantPermission',
  'roleRevokePermission',
  'authenticate',
]);

/** The snapshot form (version 1): plain JSON, keys base64. */
export interface AuthStoreData {
  version: 1;
  enabled: boolean;
  revision: number;
  users: { name: string; password?: string; roles: string[]; noPassword?: boolean }[];
  roles: { name: string; permissions: { permType: PermType; key: string; rangeEnd: string }[] }[];
}

/** What an applied change means beyond the store (tokens to drop on this member). */
export interface AuthEffects {
  onDisabled?(): void;
  onAuthenticated?(name: string, token: string, issuedAt: number): void;
  onUserGone?(name: string): void;
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function comparePerm(a: KeyPermission, b: KeyPermission): number {
  return Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)) || Buffer.compare(Buffer.from(a.rangeEnd), Buffer.from(b.rangeEnd));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

export class AuthStore {
  private enabledFlag = false;
  /** etcd starts its auth revision at 1. */
  private rev = 1;
  private readonly users = new Map<string, AuthUser>();
  private readonly roles = new Map<string, AuthRole>();

  constructor(private readonly effects: AuthEffects = {}) {}

  get enabled(): boolean {
    return this.enabledFlag;
  }

  get revision(): number {
    return this.rev;
  }

  user(name: string): AuthUser | undefined {
    return this.users.get(name);
  }

  role(name: string): AuthRole | undefined {
    return this.roles.get(name);
  }

  userNames(): string[] {
    return [...this.users.keys()].sort();
  }

  roleNames(): string[] {
    return [...this.roles.keys()].sort();
  }

  hasRootRole(name: string): boolean {
    return this.users.get(name)?.roles.includes(ROOT_ROLE) ?? false;
  }

  /** Every permission the user's roles grant (the root role's are implicit: see AuthGate). */
  permissionsOf(name: string): KeyPermission[] {
    const user = this.users.get(name);
    if (!user) return [];
    return user.roles.flatMap((r) => this.roles.get(r)?.permissions ?? []);
  }

  /** Applies one replicated change; throws etcd's error (and changes nothing) when it is refused. */
  apply(req: AuthRequest): void {
    if ('authEnable' in req) return this.enable();
    if ('authenticate' in req) {
      const { name, token, issuedAt } = req.authenticate;
      // Auth turned off, or the user deleted, since the password was checked.
      if (!this.enabledFlag) throw errAuthNotEnabled();
      if (!this.users.has(name)) throw errAuthFailed();
      this.effects.onAuthenticated?.(name, token, issuedAt);
      return;
    }
    if ('authDisable' in req) {
      if (this.enabledFlag) {
        this.enabledFlag = false;
        this.effects.onDisabled?.();
      }
      return;
    }
    if ('userAdd' in req) {
      const { name, password, noPassword } = req.userAdd;
      if (name.length === 0) throw errUserEmpty();
      if (this.users.has(name)) throw errUserAlreadyExist();
      this.users.set(name, { name, ...(password !== undefined && !noPassword && { password }), roles: [], ...(noPassword && { noPassword: true }) });
      return this.bump();
    }
    if ('userDelete' in req) {
      const { name } = req.userDelete;
      if (this.enabledFlag && name === ROOT_USER) throw errInvalidAuthMgmt();
      if (!this.users.delete(name)) throw errUserNotFound();
      this.effects.onUserGone?.(name);
      return this.bump();
    }
    if ('userChangePassword' in req) {
      const user = this.mustUser(req.userChangePassword.name);
      user.password = req.userChangePassword.password;
      delete user.noPassword;
      return this.bump();
    }
    if ('userGrantRole' in req) {
      const { user: name, role } = req.userGrantRole;
      const user = this.mustUser(name);
      if (role !== ROOT_ROLE && !this.roles.has(role)) throw errRoleNotFound();
      // Granting a role the user already has succeeds and changes nothing, as in etcd.
      if (user.roles.includes(role)) return;
      user.roles = [...user.roles, role].sort();
      return this.bump();
    }
    if ('userRevokeRole' in req) {
      const { name, role } = req.userRevokeRole;
      if (this.enabledFlag && name === ROOT_USER && role === ROOT_ROLE) throw errInvalidAuthMgmt();
      const user = this.mustUser(name);
      if (!user.roles.includes(role)) throw errRoleNotGranted();
      user.roles = user.roles.filter((r) => r !== role);
      return this.bump();
    }
    if ('roleAdd' in req) {
      const { name } = req.roleAdd;
      if (name.length === 0) throw errRoleEmpty();
      if (this.roles.has(name)) throw errRoleAlreadyExist();
      this.roles.set(name, { name, permissions: [] });
      return this.bump();
    }
    if ('roleDelete' in req) {
      const { role } = req.roleDelete;
      if (this.enabledFlag && role === ROOT_ROLE) throw errInvalidAuthMgmt();
      if (!this.roles.delete(role)) throw errRoleNotFound();
      // The role leaves every user that had it.
      for (const user of this.users.values()) user.roles = user.roles.filter((r) => r !== role);
      return this.bump();
    }
    if ('roleGrantPermission' in req) {
      const { name, perm } = req.roleGrantPermission;
      const role = this.roles.get(name);
      if (!role) throw errRoleNotFound();
      const same = role.permissions.find((p) => sameBytes(p.key, perm.key) && sameBytes(p.rangeEnd, perm.rangeEnd));
      // The same key range granted again changes its type.
      if (same) same.permType = perm.permType;
      else role.permissions = [...role.permissions, { permType: perm.permType, key: Uint8Array.from(perm.key), rangeEnd: Uint8Array.from(perm.rangeEnd) }].sort(comparePerm);
      return this.bump();
    }
    if ('roleRevokePermission' in req) {
      const { role: name, key, rangeEnd } = req.roleRevokePermission;
      const role = this.roles.get(name);
      if (!role) throw errRoleNotFound();
      const kept = role.permissions.filter((p) => !(sameBytes(p.key, key) && sameBytes(p.rangeEnd, rangeEnd)));
      if (kept.length === role.permissions.length) throw errPermissionNotGranted();
      role.permissions = kept;
      return this.bump();
    }
  }

  toJSON(): AuthStoreData {
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
    return {
      version: 1,
      enabled: this.enabledFlag,
      revision: this.rev,
      users: [...this.users.values()].sort(byName).map((u) => ({ ...u, roles: [...u.roles] })),
      roles: [...this.roles.values()].sort(byName).map((r) => ({ name: r.name, permissions: r.permissions.map((p) => ({ permType: p.permType, key: b64(p.key), rangeEnd: b64(p.rangeEnd) })) })),
    };
  }

  /** Replaces the store with a snapshot's; undefined (a snapshot from before auth): the empty store. */
  restore(data: AuthStoreData | undefined): void {
    if (data !== undefined && data.version !== 1) throw new Error(`auth store snapshot version ${String(data.version)} is newer than this release reads (1)`);
    const wasEnabled = this.enabledFlag;
    const before = new Set(this.users.keys());
    this.users.clear();
    this.roles.clear();
    this.enabledFlag = data?.enabled ?? false;
    this.rev = data?.revision ?? 1;
    for (const u of data?.users ?? []) this.users.set(u.name, { ...u, roles: [...u.roles].sort() });
    for (const r of data?.roles ?? []) {
      const permissions = r.permissions.map((p) => ({ permType: p.permType, key: new Uint8Array(Buffer.from(p.key, 'base64')), rangeEnd: new Uint8Array(Buffer.from(p.rangeEnd, 'base64')) }));
      this.roles.set(r.name, { name: r.name, permissions });
    }
    if (wasEnabled && !this.enabledFlag) this.effects.onDisabled?.();
    for (const name of before) if (!this.users.has(name)) this.effects.onUserGone?.(name);
  }

  private enable(): void {
    if (this.enabledFlag) return;
    const root = this.users.get(ROOT_USER);
    if (!root) throw errRootUserNotExist();
    if (!root.roles.includes(ROOT_ROLE)) throw errRootRoleNotExist();
    this.enabledFlag = true;
  }

  private mustUser(name: string): AuthUser {
    const user = this.users.get(name);
    if (!user) throw errUserNotFound();
    return user;
  }

  private bump(): void {
    this.rev++;
  }
}

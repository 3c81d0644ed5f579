// The Auth API's operations on one member: management calls become auth
// entries in the log (passwords hashed here first, so the plain text never
// leaves this member), reads answer from the replicated store after a read
// barrier, and Authenticate checks a password here and puts a fresh simple
// token (not the password) in the log, so every member accepts it.
// Who may call what is etcd 3.4's: management needs the root role once auth
// is enabled, except that a user may read itself and its own roles.
import { errAuthFailed, errAuthNotEnabled, errAuthNotReady, errRoleNotFound, errUserNotFound } from './auth-errors.js';
import type { AuthGate } from './auth-gate.js';
import type { AuthRequest, AuthStore } from './auth-store.js';
import type { KeyPermission } from './key-permissions.js';
import { DEFAULT_COST, hashPassword, verifyPassword, type ScryptCost } from './password.js';
import type { TokenProvider } from './token-provider.js';
import { ENTRY_FORMAT_AUTH } from '../entry-format.js';
import { ServerError } from '../errors.js';

export interface AuthAdminOptions {
  store: AuthStore;
  gate: AuthGate;
  tokens: TokenProvider;
  /** Proposes an auth change; resolves once it applied here (rejects with the store's error). */
  propose(req: AuthRequest): Promise<unknown>;
  /** Resolves once local state is at least as new as any write acknowledged before the call. */
  readBarrier(): Promise<unknown>;
  /** The cluster's entry format now. */
  entryFormat(): number;
  hashCost?: ScryptCost;
}

export interface AuthStatus {
  enabled: boolean;
  revision: number;
}

export class AuthAdmin {
  constructor(private readonly opts: AuthAdminOptions) {}

  async enable(caller: string | undefined): Promise<void> {
    await this.change(caller, { authEnable: {} });
  }

  async disable(caller: string | undefined): Promise<void> {
    await this.change(caller, { authDisable: {} });
  }

  async status(): Promise<AuthStatus> {
    await this.opts.readBarrier();
    return { enabled: this.opts.store.enabled, revision: this.opts.store.revision };
  }

  /** A token for `name` if `password` is theirs (etcd's Authenticate with simple tokens). */
  async authenticate(name: string, password: string): Promise<string> {
    const { store } = this.opts;
    await this.opts.readBarrier();
    if (!store.enabled) throw errAuthNotEnabled();
    const user = store.user(name);
    // The same answer for an unknown user and a wrong password.
    if (!user || user.noPassword || user.password === undefined || !(await verifyPassword(password, user.password))) throw errAuthFailed();
    this.requireFormat();
    const token = this.opts.tokens.generate(name, store.revision);
    // A simple token is valid once every member holds it; a JWT needs nothing more.
    if (this.opts.tokens.replicated) await this.opts.propose({ authenticate: { name, token, issuedAt: Date.now() } });
    return token;
  }

  /**
   * A token for a user this member has already identified (by its client
   * certificate), so a call it passes on to the leader names the same user.
   */
  async tokenFor(name: string): Promise<string> {
    const token = this.opts.tokens.generate(name, this.opts.store.revision);
    if (this.opts.tokens.replicated) await this.opts.propose({ authenticate: { name, token, issuedAt: Date.now() } });
    return token;
  }

  async userAdd(caller: string | undefined, name: string, password: string, opts: { noPassword?: boolean; hashedPassword?: string } = {}): Promise<void> {
    this.opts.gate.checkAdmin(caller);
    this.requireFormat();
    if (opts.hashedPassword) throw new ServerError('INVALID_ARGUMENT', 'etcdserver: hashedPassword is not supported by this server; send the password');
    const hash = opts.noPassword ? undefined : await hashPassword(password, this.opts.hashCost ?? DEFAULT_COST);
    await this.change(caller, { userAdd: { name, ...(hash !== undefined && { password: hash }), ...(opts.noPassword && { noPassword: true }) } });
  }

  async userChangePassword(caller: string | undefined, name: string, password: string): Promise<void> {
    this.opts.gate.checkAdmin(caller);
    this.requireFormat();
    // Refused before the slow hash when there is nobody to change.
    if (!this.opts.store.user(name)) throw errUserNotFound();
    await this.change(caller, { userChangePassword: { name, password: await hashPassword(password, this.opts.hashCost ?? DEFAULT_COST) } });
  }

  async userDelete(caller: string | undefined, name: string): Promise<void> {
    await this.change(caller, { userDelete: { name } });
  }

  async userGrantRole(caller: string | undefined, user: string, role: string): Promise<void> {
    await this.change(caller, { userGrantRole: { user, role } });
  }

  async userRevokeRole(caller: string | undefined, name: string, role: string): Promise<void> {
    await this.change(caller, { userRevokeRole: { name, role } });
  }

  /** A user's roles: the root role may read anyone, a user itself. */
  async userGet(caller: string | undefined, name: string): Promise<string[]> {
    if (caller !== name || caller === undefined) this.opts.gate.checkAdmin(caller);
    await this.opts.readBarrier();
    const user = this.opts.store.user(name);
    if (!user) throw errUserNotFound();
    return [...user.roles];
  }

  async userList(caller: string | undefined): Promise<string[]> {
    this.opts.gate.checkAdmin(caller);
    await this.opts.readBarrier();
    return this.opts.store.userNames();
  }

  async roleAdd(caller: string | undefined, name: string): Promise<void> {
    await this.change(caller, { roleAdd: { name } });
  }

  async roleDelete(caller: string | undefined, role: string): Promise<void> {
    await this.change(caller, { roleDelete: { role } });
  }

  /** A role's permissions: the root role may read any, a user the roles it has. */
  async roleGet(caller: string | undefined, role: string): Promise<KeyPermission[]> {
    const own = caller !== undefined && (this.opts.store.user(caller)?.roles.includes(role) ?? false);
    if (!own) this.opts.gate.checkAdmin(caller);
    await this.opts.readBarrier();
    const found = this.opts.store.role(role);
    if (!found) throw errRoleNotFound();
    return found.permissions.map((p) => ({ ...p }));
  }

  async roleList(caller: string | undefined): Promise<string[]> {
    this.opts.gate.checkAdmin(caller);
    await this.opts.readBarrier();
    return this.opts.store.roleNames();
  }

  async roleGrantPermission(caller: string | undefined, name: string, perm: KeyPermission): Promise<void> {
    await this.change(caller, { roleGrantPermission: { name, perm } });
  }

  async roleRevokePermission(caller: string | undefined, role: string, key: Uint8Array, rangeEnd: Uint8Array): Promise<void> {
    await this.change(caller, { roleRevokePermission: { role, key, rangeEnd } });
  }

  private async change(caller: string | undefined, req: AuthRequest): Promise<void> {
    this.opts.gate.checkAdmin(caller);
    this.requireFormat();
    await this.opts.propose(req);
  }

  /** Auth entries exist from entry format 4 on: older members could not apply them. */
  private requireFormat(): void {
    const format = this.opts.entryFormat();
    if (format < ENTRY_FORMAT_AUTH) throw errAuthNotReady(format);
  }
}

// A small Kubernetes REST client for the e2e environment: JSON requests and
// watches over HTTPS with client certificates read from a kubeconfig file.
// It deliberately covers only what the process kubelet and the tests use.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { load as loadYaml } from 'js-yaml';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    finalizers?: string[];
    ownerReferences?: unknown[];
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  status?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [k: string]: any;
}

export interface KubeList<T = KubeObject> {
  metadata: { resourceVersion: string };
  items: T[];
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: string, what: string) {
    super(`${what}: HTTP ${status}: ${body.slice(0, 400)}`);
  }
}

export interface Credentials {
  server: string;
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function fromData(entry: any, dataKey: string, fileKey: string): Buffer | undefined {
  if (entry?.[dataKey]) return Buffer.from(entry[dataKey], 'base64');
  if (entry?.[fileKey]) return readFileSync(entry[fileKey]);
  return undefined;
}

export function loadKubeconfig(path: string): Credentials {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const cfg = loadYaml(readFileSync(path, 'utf8')) as any;
  const ctxName = cfg['current-context'];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ctx = (cfg.contexts as any[]).find((c) => c.name === ctxName)?.context ?? cfg.contexts[0].context;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const cluster = (cfg.clusters as any[]).find((c) => c.name === ctx.cluster).cluster;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const user = (cfg.users as any[]).find((u) => u.name === ctx.user).user;
  const ca = fromData(cluster, 'certificate-authority-data', 'certificate-authority');
  if (!ca) throw new Error(`kubeconfig ${path}: no certificate authority`);
  return {
    server: cluster.server,
    ca,
    cert: fromData(user, 'client-certificate-data', 'client-certificate'),
    key: fromData(user, 'client-key-data', 'client-key'),
    token: user.token,
  };
}

export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export class KubeClient {
  private readonly agent: https.Agent;
  private readonly base: URL;

  constructor(readonly creds: Credentials) {
    this.base = new URL(creds.server);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 32, ca: creds.ca, cert: creds.cert, key: creds.key });
  }

  static fromKubeconfig(path: string): KubeClient {
    return new KubeClient(loadKubeconfig(path));
  }

  close(): void {
    this.agent.destroy();
  }

  private raw(method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = 30_000): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (payload !== undefined) {
        headers['Content-Type'] = contentType;
        headers['Content-Length'] = String(Buffer.byteLength(payload));
      }
      if (this.creds.token) headers.Authorization = `Bearer ${this.creds.token}`;
      const req = https.request(
        { host: this.base.hostname, port: this.base.port || 443, path, method, agent: this.agent, headers, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async request<T = KubeObject>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const { status, text } = await this.raw(method, path, body, contentType);
    if (status < 200 || status >= 300) throw new ApiError(status, text, `${method} ${path}`);
    if (!text) return {} as T;
    // Health endpoints answer plain text.
    return (text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text) as T;
  }

  get<T = KubeObject>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** GET that maps 404 to undefined. */
  async find<T = KubeObject>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  create<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** POST that tolerates 409 AlreadyExists. */
  async ensure(path: string, body: KubeObject): Promise<void> {
    try {
      await this.create(path, body);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) throw e;
    }
  }

  put<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  mergePatch<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body, 'application/merge-patch+json');
  }

  /** DELETE that maps 404 to false. */
  async delete(path: string, options?: unknown): Promise<boolean> {
    try {
      await this.request('DELETE', path, options);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  }

  /**
   * Streams watch events until the server closes the stream or `signal`
   * aborts. Resolves when the stream ends; rejects on HTTP errors.
   */
  watch(path: string, resourceVersion: string, onEvent: (ev: WatchEvent) => void, signal?: AbortSignal): Promise<void> {
    const sep = path.includes('?') ? '&' : '?';
    const full = `${path}${sep}watch=true&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (this.creds.token) headers.Authorization = `Bearer ${this.creds.token}`;
      const req = https.request(
        { host: this.base.hostname, port: this.base.port || 443, path: full, method: 'GET', agent: this.agent, headers, signal },
        (res) => {
          if (res.statusCode !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => reject(new ApiError(res.statusCode ?? 0, Buffer.concat(chunks).toString(), `WATCH ${path}`)));
            return;
          }
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (line) onEvent(JSON.parse(line) as WatchEvent);
            }
          });
          res.on('end', () => resolve());
          res.on('error', (e) => (signal?.aborted ? resolve() : reject(e)));
        },
      );
      req.on('error', (e) => (signal?.aborted ? resolve() : reject(e)));
      req.end();
    });
  }
}

/** Keeps a local cache of a resource collection current: list, then watch, re-list on expiry. */
export class Informer {
  readonly items = new Map<string, KubeObject>();
  private readonly abort = new AbortController();
  private synced = false;
  private syncWaiters: (() => void)[] = [];

  constructor(
    private readonly client: KubeClient,
    private readonly path: string,
    private readonly onChange: (type: WatchEvent['type'], obj: KubeObject, old: KubeObject | undefined) => void,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  static key(obj: KubeObject): string {
    return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
  }

  start(): this {
    void this.run();
    return this;
  }

  stop(): void {
    this.abort.abort();
  }

  hasSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  private async run(): Promise<void> {
    let rv = '';
    while (!this.abort.signal.aborted) {
      try {
        if (!rv) {
          const list = await this.client.get<KubeList>(this.path);
          const seen = new Set<string>();
          for (const item of list.items) {
            const k = Informer.key(item);
            seen.add(k);
            const old = this.items.get(k);
            this.items.set(k, item);
            if (!old) this.onChange('ADDED', item, undefined);
            else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.onChange('MODIFIED', item, old);
          }
          for (const [k, old] of [...this.items]) {
            if (!seen.has(k)) {
              this.items.delete(k);
              this.onChange('DELETED', old, old);
            }
          }
          rv = list.metadata.resourceVersion;
          if (!this.synced) {
            this.synced = true;
            for (const w of this.syncWaiters.splice(0)) w();
          }
        }
        await this.client.watch(
          this.path,
          rv,
          (ev) => {
            if (ev.type === 'ERROR') {
              rv = ''; // usually 410 Gone: list again
              return;
            }
            if (ev.object.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
            if (ev.type === 'BOOKMARK') return;
            const k = Informer.key(ev.object);
            const old = this.items.get(k);
            if (ev.type === 'DELETED') this.items.delete(k);
            else this.items.set(k, ev.object);
            this.onChange(ev.type, ev.object, old);
          },
          this.abort.signal,
        );
      } catch (e) {
        if (this.abort.signal.aborted) return;
        this.log(`informer ${this.path}: ${(e as Error).message}`);
        rv = '';
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}

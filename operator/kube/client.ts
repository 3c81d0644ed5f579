// A small typed client for the Kubernetes REST API: get, list, watch,
// create, update, JSON merge patch, server-side apply (also on the status
// subresource) and delete. Authentication comes from a KubeConfig
// (@kubernetes/client-node); requests are plain node:http(s) so watches can be
// streamed line by line and cancelled with an AbortSignal.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ObjectMeta } from '../api/index.js';
import { resourcePath, type ResourceType } from './resources.js';

/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectList<T> {
  items: T[];
  resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

/** The field manager of every server-side apply the operator makes. */
export const FIELD_MANAGER = 'kvorum-operator';
const REQUEST_TIMEOUT_MS = 30_000;

/** A non-2xx answer of the API server (its Status object, when there is one). */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.statusCode === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.statusCode === 409;
export const isGone = (e: unknown): boolean => e instanceof KubeApiError && e.statusCode === 410;
export const isAlreadyExists = (e: unknown): boolean => e instanceof KubeApiError && e.statusCode === 409 && e.reason === 'AlreadyExists';

function apiError(statusCode: number, body: string): KubeApiError {
  try {
    const status = JSON.parse(body) as { reason?: string; message?: string; code?: number };
    return new KubeApiError(status.code ?? statusCode, status.reason ?? '', status.message ?? body);
  } catch {
    return new KubeApiError(statusCode, '', body.slice(0, 500) || `HTTP ${statusCode}`);
  }
}

export interface ListOptions {
  labelSelector?: string;
  resourceVersion?: string;
}

export interface WatchOptions {
  labelSelector?: string;
  resourceVersion?: string;
  /** The server ends the watch after this long (a watch is restarted by the caller). */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  /** Only delete the object with this UID (guards against deleting a re-created namesake). */
  uid?: string;
}

type RequestSpec = {
  method: string;
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
};

export class KubeClient {
  private readonly server: URL;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('KubeClient: the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  async get<T extends KubeObject>(r: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return (await this.json('GET', resourcePath(r, namespace, name))) as T;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(r: ResourceType, namespace?: string, opts: ListOptions = {}): Promise<ObjectList<T>> {
    const body = (await this.json('GET', resourcePath(r, namespace), {
      query: { labelSelector: opts.labelSelector, resourceVersion: opts.resourceVersion },
    })) as { items: T[]; metadata: { resourceVersion: string } };
    // Items of a list carry no apiVersion/kind; fill them in so callers can treat them like single objects.
    const apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
    for (const item of body.items) {
      item.apiVersion ??= apiVersion;
      item.kind ??= r.kind;
    }
    return { items: body.items, resourceVersion: body.metadata.resourceVersion };
  }

  async create<T extends KubeObject>(r: ResourceType, obj: T): Promise<T> {
    return (await this.json('POST', resourcePath(r, obj.metadata.namespace), { body: obj })) as T;
  }

  /** PUT with the object's resourceVersion: fails with 409 Conflict if someone changed it meanwhile. */
  async update<T extends KubeObject>(r: ResourceType, obj: T): Promise<T> {
    return (await this.json('PUT', resourcePath(r, obj.metadata.namespace, obj.metadata.name), { body: obj })) as T;
  }

  async mergePatch<T extends KubeObject>(r: ResourceType, namespace: string | undefined, name: string, patch: unknown, subresource?: string): Promise<T> {
    return (await this.json('PATCH', resourcePath(r, namespace, name, subresource), {
      body: patch,
      contentType: 'application/merge-patch+json',
      // The same manager as our applies, so an apply that sends the same value does not fight this patch.
      query: { fieldManager: FIELD_MANAGER },
    })) as T;
  }

  /**
   * Server-side apply: the object becomes what we send for the fields we own,
   * creating it if needed. Idempotent; `force` takes over fields another
   * manager (for example `kubectl edit`) changed.
   */
  async apply<T extends KubeObject>(r: ResourceType, obj: KubeObject, subresource?: string): Promise<T> {
    const { namespace, name } = obj.metadata;
    if (!name) throw new Error('apply: the object needs metadata.name');
    return (await this.json('PATCH', resourcePath(r, namespace, name, subresource), {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: FIELD_MANAGER, force: 'true' },
    })) as T;
  }

  /** Server-side apply of `status` through the status subresource. */
  async applyStatus<T extends KubeObject>(r: ResourceType, obj: KubeObject): Promise<T> {
    return this.apply<T>(r, obj, 'status');
  }

  /** Deletes; a missing object is not an error (returns false). */
  async delete(r: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<boolean> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.uid) body.preconditions = { uid: opts.uid };
    try {
      await this.json('DELETE', resourcePath(r, namespace, name), { body });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * Streams watch events until the server closes the stream (resolves), the
   * signal aborts (resolves) or an error arrives (rejects; an expired
   * resourceVersion rejects with a 410 KubeApiError, see isGone).
   */
  async watch<T extends KubeObject>(r: ResourceType, namespace: string | undefined, opts: WatchOptions, onEvent: (e: WatchEvent<T>) => void): Promise<void> {
    const res = await this.send({
      method: 'GET',
      path: resourcePath(r, namespace),
      query: {
        watch: 'true',
        allowWatchBookmarks: 'true',
        resourceVersion: opts.resourceVersion,
        labelSelector: opts.labelSelector,
        timeoutSeconds: opts.timeoutSeconds === undefined ? undefined : String(opts.timeoutSeconds),
      },
      signal: opts.signal,
      timeoutMs: 0,
    });
    if ((res.statusCode ?? 0) >= 300) throw apiError(res.statusCode ?? 0, await readBody(res));
    res.setEncoding('utf8'); // decodes characters split across chunks
    let buffered = '';
    try {
      for await (const chunk of res) {
        buffered += chunk as string;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          const event = JSON.parse(line) as { type: string; object: unknown };
          if (event.type === 'ERROR') {
            const status = event.object as { code?: number; reason?: string; message?: string };
            throw new KubeApiError(status.code ?? 500, status.reason ?? '', status.message ?? 'watch error');
          }
          onEvent(event as WatchEvent<T>);
        }
      }
    } catch (e) {
      if (opts.signal?.aborted) return;
      throw e;
    } finally {
      res.destroy();
    }
  }

  private async json(method: string, path: string, spec: Omit<RequestSpec, 'method' | 'path'> = {}): Promise<unknown> {
    const res = await this.send({ method, path, ...spec });
    const body = await readBody(res);
    if ((res.statusCode ?? 0) >= 300) throw apiError(res.statusCode ?? 0, body);
    return body ? JSON.parse(body) : undefined;
  }

  private async send(spec: RequestSpec): Promise<http.IncomingMessage> {
    const url = new URL(spec.path, this.server);
    // A server URL with a path prefix (rare, e.g. behind a proxy) keeps it.
    if (this.server.pathname !== '/') url.pathname = this.server.pathname.replace(/\/$/, '') + spec.path;
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const opts: https.RequestOptions = { method: spec.method, headers: { Accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(opts);
    const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const headers = opts.headers as Record<string, string | number>;
    if (payload) {
      headers['Content-Type'] = spec.contentType ?? 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { ...opts, signal: spec.signal }, resolve);
      const timeoutMs = spec.timeoutMs ?? REQUEST_TIMEOUT_MS;
      if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`${spec.method} ${spec.path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

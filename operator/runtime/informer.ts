// An informer: keeps a local cache of one resource type (optionally one
// namespace and label selector) current by list + watch from the listed
// resourceVersion, re-listing when the server says the version is gone (410)
// or the watch fails, and calls handlers on every change. A periodic resync
// calls onUpdate for every cached object so level-triggered reconcilers see
// each object now and then even when nothing changes.
import type { Logger } from 'pino';
import { isGone, type KubeClient, type KubeObject } from '../kube/client.js';
import type { ResourceType } from '../kube/resources.js';

export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(obj: T, old: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  resyncMs?: number;
  /** Server-side watch timeout; the informer then re-watches from the last version. */
  watchTimeoutSeconds?: number;
}

export const objectKey = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

const RETRY_DELAY_MS = 1000;

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private resourceVersion = '';
  private hasSynced = false;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: KubeClient,
    readonly resource: ResourceType,
    private readonly log: Logger,
    private readonly options: InformerOptions = {},
  ) {}

  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  list(filter?: (o: T) => boolean): T[] {
    const all = [...this.cache.values()];
    return filter ? all.filter(filter) : all;
  }

  start(): void {
    if (this.running) return;
    this.running = this.run();
    if (this.options.resyncMs) {
      this.resyncTimer = setInterval(() => {
        for (const o of this.cache.values()) this.emit('update', o, o);
      }, this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.running;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        await this.client.watch<T>(
          this.resource,
          this.options.namespace,
          {
            resourceVersion: this.resourceVersion,
            labelSelector: this.options.labelSelector,
            timeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
            signal,
          },
          (e) => this.apply(e.type, e.object),
        );
      } catch (err) {
        if (signal.aborted) break;
        needList = true;
        if (isGone(err)) this.log.debug({ resource: this.resource.plural }, 'watch version expired; re-listing');
        else this.log.warn({ err, resource: this.resource.plural }, 'list/watch failed; retrying');
        await sleep(RETRY_DELAY_MS, signal);
      }
    }
  }

  private async relist(): Promise<void> {
    const list = await this.client.list<T>(this.resource, this.options.namespace, { labelSelector: this.options.labelSelector });
    const seen = new Set<string>();
    for (const item of list.items) {
      const key = objectKey(item);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, item);
      if (!old) this.emit('add', item);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.emit('update', item, old);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = list.resourceVersion;
    this.hasSynced = true;
  }

  private apply(type: string, obj: T): void {
    if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (type === 'BOOKMARK') return;
    obj.apiVersion ??= this.resource.group ? `${this.resource.group}/${this.resource.version}` : this.resource.version;
    obj.kind ??= this.resource.kind;
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', obj);
      return;
    }
    this.cache.set(key, obj);
    if (old) this.emit('update', obj, old);
    else this.emit('add', obj);
  }

  private emit(kind: 'add' | 'update' | 'delete', obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        if (kind === 'add') h.onAdd?.(obj);
        else if (kind === 'update') h.onUpdate?.(obj, old as T);
        else h.onDelete?.(obj);
      } catch (err) {
        this.log.error({ err }, 'informer handler threw');
      }
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

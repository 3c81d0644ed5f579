// Kubernetes Events (events.k8s.io/v1) about the objects the operator
// manages. The same event repeated within a short window is sent once, so a
// reconcile loop that keeps refusing a step does not flood the namespace.
import type { Logger } from 'pino';
import type { KubeClient, KubeObject } from './client.js';
import { RESOURCES } from './resources.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(regarding: KubeObject, type: EventType, reason: string, note: string, action?: string): Promise<void>;
}

const REPEAT_WINDOW_MS = 5 * 60_000;
const MAX_REMEMBERED = 1000;
/** Kubernetes limits an event's note to 1 kB. */
const MAX_NOTE = 1024;

export class KubeEventRecorder implements EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly instance: string,
    private readonly now: () => number = Date.now,
  ) {}

  async record(regarding: KubeObject, type: EventType, reason: string, note: string, action = reason): Promise<void> {
    const { namespace, name, uid } = regarding.metadata;
    const key = `${uid}/${type}/${reason}/${note}`;
    const t = this.now();
    const last = this.recent.get(key);
    if (last !== undefined && t - last < REPEAT_WINDOW_MS) return;
    this.remember(key, t);
    const event: KubeObject = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { generateName: `${name}-`, namespace } as KubeObject['metadata'],
      eventTime: new Date(t).toISOString().replace('Z', '000Z'),
      reportingController: 'kvorum.io/operator',
      reportingInstance: this.instance,
      action,
      reason,
      note: note.slice(0, MAX_NOTE),
      type,
      regarding: { apiVersion: regarding.apiVersion, kind: regarding.kind, name, namespace, uid },
    };
    try {
      await this.client.create(RESOURCES.event, event);
      this.log.info({ kvcluster: `${namespace}/${name}`, type, reason, note }, 'event');
    } catch (err) {
      // An event that cannot be written is not worth failing a reconcile for.
      this.log.warn({ err, reason }, 'could not record an event');
    }
  }

  private remember(key: string, t: number): void {
    if (this.recent.size >= MAX_REMEMBERED) {
      for (const [k, at] of this.recent) if (t - at >= REPEAT_WINDOW_MS) this.recent.delete(k);
      if (this.recent.size >= MAX_REMEMBERED) this.recent.clear();
    }
    this.recent.set(key, t);
  }
}

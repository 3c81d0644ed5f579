// Linearizable reads by ReadIndex: the leader notes its commit index when a
// read arrives, then confirms it still leads by a round of heartbeats carrying
// the request's context. Once a quorum answers, that read and every read
// queued before it may be served at the noted index.
import type { NodeId } from './types.js';

export interface ReadRequest {
  /** Opaque request context chosen by the application; unique per request. */
  context: Uint8Array;
  /** Who asked: the leader itself or a follower that forwarded the request. */
  from: NodeId;
  index: number;
  acks: Set<NodeId>;
}

export function contextKey(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += b.toString(16).padStart(2, '0');
  return s;
}

export class ReadOnlyQueue {
  private readonly byKey = new Map<string, ReadRequest>();
  private queue: string[] = [];

  add(context: Uint8Array, from: NodeId, index: number, self: NodeId): void {
    const key = contextKey(context);
    if (this.byKey.has(key)) return;
    this.byKey.set(key, { context, from, index, acks: new Set([self]) });
    this.queue.push(key);
  }

  /** Records a heartbeat acknowledgement; returns the acks so far, if the context is pending. */
  ack(context: Uint8Array, from: NodeId): Set<NodeId> | undefined {
    const req = this.byKey.get(contextKey(context));
    if (!req) return undefined;
    req.acks.add(from);
    return req.acks;
  }

  /** Removes and returns every request queued up to and including `context`. */
  releaseThrough(context: Uint8Array): ReadRequest[] {
    const key = contextKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1).map((k) => this.byKey.get(k)!);
    for (const k of this.queue.slice(0, at + 1)) this.byKey.delete(k);
    this.queue = this.queue.slice(at + 1);
    return done;
  }

  /** The context of the newest pending request, sent with heartbeats. */
  lastContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.byKey.get(key)!.context;
  }

  clear(): void {
    this.byKey.clear();
    this.queue = [];
  }

  size(): number {
    return this.queue.length;
  }
}

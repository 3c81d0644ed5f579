// Fills a cluster with many keys fast: transactions of `batch` puts (one
// revision each, at most the member's max-txn-ops) sent by a few concurrent
// lanes to one member, so a 200k-key cluster is ready in well under a minute.
import { MemberClient, memberEndpoints, type ClientTLS } from './etcd-client.js';
import type { KubeClient } from '../kube/client.js';

export interface LoadOptions {
  kube: KubeClient;
  namespace: string;
  cluster: string;
  tls: ClientTLS | undefined;
  /** Keys are `<prefix><zero-padded index>`. */
  prefix: string;
  count: number;
  valueBytes: number;
  /** Puts per transaction (etcd's default max-txn-ops is 128). */
  batch?: number;
  lanes?: number;
}

/** The value stored under key number `i`: its index, padded to the size asked for. */
export const loadedValue = (i: number, bytes: number): string => `v${i}-`.padEnd(bytes, 'x');

export const loadedKey = (prefix: string, i: number): string => `${prefix}${String(i).padStart(7, '0')}`;

/** Puts `count` keys; returns how long it took. A failed transaction is retried a few times, then the load fails. */
export async function loadKeys(o: LoadOptions): Promise<{ seconds: number }> {
  const batch = o.batch ?? 128;
  const eps = await memberEndpoints(o.kube, o.namespace, o.cluster);
  if (eps.length === 0) throw new Error(`no member of ${o.cluster} to load`);
  const clients = eps.map((ep) => new MemberClient(ep, o.tls));
  const started = Date.now();
  let next = 0;
  const lane = async (n: number): Promise<void> => {
    for (;;) {
      const from = next;
      if (from >= o.count) return;
      const to = Math.min(o.count, from + batch);
      next = to;
      const pairs: [string, string][] = [];
      for (let i = from; i < to; i++) pairs.push([loadedKey(o.prefix, i), loadedValue(i, o.valueBytes)]);
      for (let attempt = 1; ; attempt++) {
        try {
          // Followers forward proposals; spreading the lanes spreads the decoding work.
          await clients[(n + attempt) % clients.length]!.putMany(pairs, 20_000);
          break;
        } catch (e) {
          if (attempt >= 5) throw new Error(`loading keys ${from}..${to - 1}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.lanes ?? 8 }, (_, i) => lane(i)));
  } finally {
    for (const c of clients) c.close();
  }
  return { seconds: (Date.now() - started) / 1000 };
}

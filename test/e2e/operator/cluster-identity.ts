// Records which cluster every member says it belongs to, and at which
// revision, while something rebuilds the cluster (a restore). A half-restored
// cluster shows up as members answering with different cluster IDs, or a
// member of the new cluster at a revision below the backup's (it started
// empty instead of from the backup).
import type { KubeClient } from '../kube/client.js';
import { memberEndpoints, MemberClients, type ClientTLS } from './etcd-client.js';
import { sleep } from './util.js';

export interface Sighting {
  at: number;
  member: string;
  clusterId: string;
  revision: number;
}

export class ClusterIdentityWatch {
  readonly sightings: Sighting[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly clients: MemberClients;

  constructor(
    private readonly kube: KubeClient,
    private readonly namespace: string,
    private readonly cluster: string,
    tls: ClientTLS | undefined,
    private readonly intervalMs = 300,
  ) {
    this.clients = new MemberClients(tls);
  }

  start(): this {
    this.loop = (async () => {
      while (!this.stopped) {
        const eps = await memberEndpoints(this.kube, this.namespace, this.cluster).catch(() => []);
        await Promise.all(
          eps.map(async (ep) => {
            const st = await this.clients.get(ep).status(1000).catch(() => undefined);
            if (st) this.sightings.push({ at: Date.now(), member: ep.name, clusterId: st.clusterId, revision: Number(st.revision) });
          }),
        );
        await sleep(this.intervalMs);
      }
    })();
    return this;
  }

  async stop(): Promise<Sighting[]> {
    this.stopped = true;
    await this.loop;
    this.clients.close();
    return this.sightings;
  }
}

/** The cluster IDs seen, in order of first sighting, with how many answers each. */
export function clusterIdsSeen(sightings: Sighting[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const s of sightings) seen.set(s.clusterId, (seen.get(s.clusterId) ?? 0) + 1);
  return seen;
}

// Every port a member serves, bound before it joins Raft (etcd binds its
// client, peer and metrics listeners before it starts its Raft node and
// exits when one fails). Either all are bound or none stays open.
import { BoundPort } from '../bound-port.js';

export interface MemberPorts {
  client: { url: URL; port: BoundPort }[];
  peer: { url: URL; port: BoundPort };
  metrics: { url: URL; port: BoundPort }[];
  /** Closes every port (those already served are closed by their servers too; closing twice is harmless). */
  close(): Promise<void>;
}

/** etcd's default ports, for URLs that name none. */
const DEFAULT_PORT = { client: 2379, peer: 2380, metrics: 2381 } as const;

/** `handOffClients`: client connections go to other processes (client workers), so none is read here. */
export async function bindMemberPorts(urls: { client: readonly URL[]; peer: URL; metrics: readonly URL[] }, handOffClients = false): Promise<MemberPorts> {
  const bound: BoundPort[] = [];
  const bind = async (url: URL, what: string, defaultPort: number): Promise<{ url: URL; port: BoundPort }> => {
    const port = await BoundPort.bind(url, what, defaultPort, { pauseOnConnect: handOffClients && what === 'client requests' });
    bound.push(port);
    return { url, port };
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(bound.map((p) => p.close()));
  };
  try {
    const client = [];
    for (const url of urls.client) client.push(await bind(url, 'client requests', DEFAULT_PORT.client));
    const peer = await bind(urls.peer, 'peers', DEFAULT_PORT.peer);
    const metrics = [];
    for (const url of urls.metrics) metrics.push(await bind(url, 'metrics', DEFAULT_PORT.metrics));
    return { client, peer, metrics, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

// A fault-injecting TCP proxy in front of one member's peer port, so the
// chaos harness can cut, slow and break the links between members without
// network namespaces or root.
//
// Wiring: the member listens on its real peer URL and advertises the
// proxy's (--listen-peer-urls=<real> --initial-advertise-peer-urls=<proxy>),
// so every peer connection to it passes through here. The peer transport
// opens each stream with an HTTP request whose `x-kvorum-from` header names
// the sending member (node/transport/protocol.ts); the proxy reads it, so a
// fault applies to one direction of one link: (from -> this member).
//
// Faults, per sender or for every sender ('*'):
//   drop       partition: connections are closed and new ones refused
//   lossRate   each chunk sent towards the member resets the connection with
//              this probability (the stream's in-flight messages are lost
//              and the sender redials)
//   delayMs, jitterMs
//              each chunk towards the member is held delayMs plus up to
//              jitterMs more, keeping their order
// The answer direction (member -> sender on the same connection) passes
// unchanged: a one-way fault.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { HEADER_FROM } from '../../node/transport/protocol.js';
import { Rng } from '../sim/rng.js';

export interface LinkFault {
  drop?: boolean;
  lossRate?: number;
  delayMs?: number;
  jitterMs?: number;
}

/** Any sender (also connections that carry no sender header, such as GET /members). */
export const ANY_SENDER = '*';

const MAX_HEADER_BYTES = 16 * 1024;

interface Link {
  from: string;
  client: Socket;
  upstream?: Socket;
}

export class PeerProxy {
  private server?: Server;
  private readonly faults = new Map<string, LinkFault>();
  private readonly links = new Set<Link>();
  private readonly rng: Rng;
  /** Connections reset or refused by a fault, for the harness's figures. */
  interrupted = 0;

  constructor(
    private readonly target: { host: string; port: number },
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  /** Starts listening on a free loopback port; returns it. */
  async listen(port = 0): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return (server.address() as { port: number }).port;
  }

  /** Sets (or with undefined clears) the fault on the link from `from` (a member ID in hex, or ANY_SENDER). */
  setFault(from: string, fault: LinkFault | undefined): void {
    const key = from.toLowerCase();
    if (fault === undefined) this.faults.delete(key);
    else this.faults.set(key, fault);
    for (const link of this.links) if (this.faultFor(link.from)?.drop) this.cut(link);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  async close(): Promise<void> {
    for (const link of this.links) this.cut(link);
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private faultFor(from: string): LinkFault | undefined {
    return this.faults.get(from) ?? this.faults.get(ANY_SENDER);
  }

  private cut(link: Link): void {
    link.client.destroy();
    link.upstream?.destroy();
    this.links.delete(link);
  }

  private accept(client: Socket): void {
    let head = Buffer.alloc(0);
    client.on('error', () => client.destroy());
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0 && head.length < MAX_HEADER_BYTES) return;
      client.off('data', onData);
      client.pause();
      this.open(client, senderOf(head.subarray(0, end < 0 ? head.length : end).toString('latin1')), head);
    };
    client.on('data', onData);
  }

  private open(client: Socket, from: string, head: Buffer): void {
    if (this.faultFor(from)?.drop) {
      this.interrupted++;
      client.destroy();
      return;
    }
    const link: Link = { from, client };
    this.links.add(link);
    const upstream = connect(this.target.port, this.target.host);
    link.upstream = upstream;
    const done = (): void => this.cut(link);
    upstream.on('error', done);
    upstream.on('close', done);
    client.on('close', done);
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    // Towards the member: each chunk waits for its fault's delay, in order.
    let due = 0;
    const forward = (chunk: Buffer): void => {
      const fault = this.faultFor(from);
      if (fault?.drop || (fault?.lossRate !== undefined && this.rng.next() < fault.lossRate)) {
        this.interrupted++;
        done();
        return;
      }
      const delay = (fault?.delayMs ?? 0) + (fault?.jitterMs ? this.rng.next() * fault.jitterMs : 0);
      if (delay <= 0 && due <= Date.now()) {
        upstream.write(chunk);
        return;
      }
      due = Math.max(due, Date.now() + delay);
      setTimeout(() => {
        if (!upstream.destroyed) upstream.write(chunk);
      }, due - Date.now());
    };
    upstream.once('connect', () => {
      forward(head);
      client.on('data', forward);
      client.resume();
    });
  }
}

/** The sender's member ID (lower-case hex) from a request head, or ANY_SENDER when it names none. */
export function senderOf(head: string): string {
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === HEADER_FROM) return line.slice(colon + 1).trim().toLowerCase();
  }
  return ANY_SENDER;
}

// Raw gRPC calls of the chaos clients, shared by the harness and the
// traffic profiles.
import { Metadata, status, type Client, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';

export type Pb = Record<string, unknown>;
export type WatchClient = Client & { Watch(): ClientDuplexStream<Pb, Pb> };
export type KvClient = Client & Record<string, (req: Pb, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Pb) => void) => void>;
export type LeaseClient = KvClient & { LeaseKeepAlive(): ClientDuplexStream<Pb, Pb> };

export const CALL_TIMEOUT_MS = 3000;

export function call(client: KvClient, method: string, req: Pb, timeoutMs = CALL_TIMEOUT_MS): Promise<Pb> {
  return new Promise((resolve, reject) => {
    client[method]!(req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/**
 * True for a call that grpc-js failed before sending it: the channel had no
 * connection to the member (it was down or not yet listening).
 */
export function neverSent(err: unknown): boolean {
  const e = err as Partial<ServiceError>;
  return e.code === status.UNAVAILABLE && typeof e.details === 'string' && e.details.startsWith('No connection established');
}

/** True for etcd's "requested lease not found". */
export function leaseNotFound(err: unknown): boolean {
  const e = err as Partial<ServiceError>;
  return e.code === status.NOT_FOUND && typeof e.details === 'string' && e.details.includes('lease not found');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

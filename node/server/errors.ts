// Errors the server reports to clients: an etcd-compatible message (clients
// match on these strings) and the gRPC status code etcd uses for it. Modules
// of the server hand these to each other as they are, so no caller has to
// recognise an error by its text.
import type { ProposalDroppedError } from '../raft/raft.js';

export type StatusCode =
  | 'INVALID_ARGUMENT'
  | 'OUT_OF_RANGE'
  | 'NOT_FOUND'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'UNIMPLEMENTED'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'INTERNAL';

export class ServerError extends Error {
  override readonly name = 'ServerError';

  constructor(
    readonly code: StatusCode,
    message: string,
  ) {
    super(message);
  }
}

/** etcd's errors that more than one module of the server raises. */
export const errNoLeader = (): ServerError => new ServerError('UNAVAILABLE', 'etcdserver: no leader');
export const errLeaderChanged = (): ServerError => new ServerError('UNAVAILABLE', 'etcdserver: leader changed');
export const errStopped = (): ServerError => new ServerError('UNAVAILABLE', 'etcdserver: server stopped');
export const errTimeout = (): ServerError => new ServerError('DEADLINE_EXCEEDED', 'etcdserver: request timed out');
export const errLeaseNotFound = (): ServerError => new ServerError('NOT_FOUND', 'etcdserver: requested lease not found');
export const errNoSpace = (): ServerError => new ServerError('RESOURCE_EXHAUSTED', 'etcdserver: mvcc: database space exceeded');

/** A proposal the member refused before it reached the log (stopped, or its storage failed). */
export const errProposalRefused = (why: string): ServerError => new ServerError('UNAVAILABLE', `etcdserver: proposal dropped: ${why}`);

/** What a client is told when the Raft core refused its proposal. */
export function droppedProposalError(err: ProposalDroppedError): ServerError {
  return err.reason === 'no leader' || err.reason === 'no leader to confirm the read' ? errNoLeader() : errProposalRefused(err.reason);
}

// Errors the server reports to clients: an etcd-compatible message (clients
// match on these strings) and the gRPC status code etcd uses for it.

export type StatusCode =
  | 'INVALID_ARGUMENT'
  | 'OUT_OF_RANGE'
  | 'NOT_FOUND'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'UNIMPLEMENTED'
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

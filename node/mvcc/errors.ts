// Errors the state machine reports, with etcd's client-visible messages and
// the gRPC status each maps to, so the API layer can pass them through as-is.

export type GrpcCode =
  | 'INVALID_ARGUMENT'
  | 'OUT_OF_RANGE'
  | 'NOT_FOUND'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED';

export class MvccError extends Error {
  override readonly name = 'MvccError';

  constructor(
    readonly code: GrpcCode,
    message: string,
  ) {
    super(message);
  }
}

export const errors = {
  emptyKey: () => new MvccError('INVALID_ARGUMENT', 'etcdserver: key is not provided'),
  keyNotFound: () => new MvccError('INVALID_ARGUMENT', 'etcdserver: key not found'),
  valueProvided: () => new MvccError('INVALID_ARGUMENT', 'etcdserver: value is provided'),
  leaseProvided: () => new MvccError('INVALID_ARGUMENT', 'etcdserver: lease is provided'),
  tooManyOps: () => new MvccError('INVALID_ARGUMENT', 'etcdserver: too many operations in txn request'),
  duplicateKey: () => new MvccError('INVALID_ARGUMENT', 'etcdserver: duplicate key given in txn request'),
  compacted: () => new MvccError('OUT_OF_RANGE', 'etcdserver: mvcc: required revision has been compacted'),
  futureRevision: () => new MvccError('OUT_OF_RANGE', 'etcdserver: mvcc: required revision is a future revision'),
  leaseNotFound: () => new MvccError('NOT_FOUND', 'etcdserver: requested lease not found'),
  leaseExists: () => new MvccError('FAILED_PRECONDITION', 'etcdserver: lease already exists'),
  leaseTtlTooLarge: () => new MvccError('OUT_OF_RANGE', 'etcdserver: too large lease TTL'),
  /** Not an etcd message: etcd's int64 fields cannot carry a fraction, our numbers can. */
  notAnInteger: (field: string) => new MvccError('INVALID_ARGUMENT', `etcdserver: ${field} must be an integer`),
  noSpace: () => new MvccError('RESOURCE_EXHAUSTED', 'etcdserver: mvcc: database space exceeded'),
} as const;

// The MVCC state machine's public surface.

export { MvccStore } from './store.js';
export type { MvccStoreOptions, CommitListener, CompactListener } from './store.js';
export { WatchHub } from './watch.js';
export type { Watch, WatchBatch, WatchCallback, WatchFilter, WatchHubOptions, WatchRequest } from './watch.js';
export { MvccError, errors } from './errors.js';
export type { GrpcCode } from './errors.js';
export { MAX_LEASE_TTL } from './lease.js';
export {
  DEFAULT_MAX_TXN_OPS,
  isReadOnlyTxn,
  validateDeleteRange,
  validatePut,
  validateRange,
  validateTxn,
} from './validate.js';
export type * from './types.js';
export { NO_LEASE } from './types.js';

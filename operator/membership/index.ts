// Membership management of a KVCluster: the cluster API client, the pure
// planner and the one-step reconciler (see each module).
export * from './client.js';
export * from './planner.js';
export * from './reconcile.js';
export * from './dial-errors.js';

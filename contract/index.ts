// The contract between a member (`kvorum node`) and everything that runs or
// drives it (`kvorum operator`, test tools): names and ports of a cluster's
// members, health paths and alarms, the join protocol, and the etcd v3 wire
// definitions. Both sides import these; neither reaches into the other.
export * from './cluster.js';
export * from './data-corruption.js';
export * from './etcd-proto.js';
export * from './health.js';
export * from './join.js';

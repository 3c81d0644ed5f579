// Kvorum's etcd v3 wire definitions as the server registers them. Loading
// the .proto files (and the loader options) is part of the contract shared
// with the operator: contract/etcd-proto.ts.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadEtcdProtos } from '../../../contract/etcd-proto.js';
import { withPreEncodedResponses } from '../grpc/pre-encoded.js';

export { PROTO_FILES, PROTO_LOADER_OPTIONS, loadEtcdProtos, protoDirectory, type EtcdProtos } from '../../../contract/etcd-proto.js';

/** The six services of etcd's client API, by their short names. */
export type EtcdServiceName = 'KV' | 'Watch' | 'Lease' | 'Cluster' | 'Maintenance' | 'Auth';

export const ETCD_SERVICE_NAMES: readonly EtcdServiceName[] = ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth'];

/** The definition of one service, ready for `grpc.Server.addService`. */
export function serviceDefinition(name: EtcdServiceName): ServiceDefinition {
  const def = loadEtcdProtos().packageDefinition[`etcdserverpb.${name}`];
  if (!def || typeof def !== 'object' || 'format' in def) throw new Error(`etcdserverpb.${name} is not a service`);
  // Handlers may answer with bytes they encoded themselves (the hot Watch and Snapshot streams).
  return withPreEncodedResponses(def as unknown as ServiceDefinition);
}

export const kvService: ServiceDefinition = serviceDefinition('KV');
export const watchService: ServiceDefinition = serviceDefinition('Watch');
export const leaseService: ServiceDefinition = serviceDefinition('Lease');
export const clusterService: ServiceDefinition = serviceDefinition('Cluster');
export const maintenanceService: ServiceDefinition = serviceDefinition('Maintenance');
export const authService: ServiceDefinition = serviceDefinition('Auth');

/** All six, keyed by short name. */
export const etcdServices: Readonly<Record<EtcdServiceName, ServiceDefinition>> = Object.freeze({
  KV: kvService,
  Watch: watchService,
  Lease: leaseService,
  Cluster: clusterService,
  Maintenance: maintenanceService,
  Auth: authService,
});

// The definitions a member serves beside etcd's client API: etcd's lock and
// election services (v3lock.proto, v3election.proto) and the standard gRPC
// health service (health.proto). They are loaded like the client API's
// files (same loader options, same directory) but apart from them, so the
// client API's definitions stay exactly etcd's rpc.proto set (the parity
// tests compare that set with the etcd3 package's copy).
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS, protoDirectory, type EtcdProtos } from './load.js';
import { buildSchema, type Schema } from './schema.js';

export const EXTRA_PROTO_FILES = ['v3lock.proto', 'v3election.proto', 'health.proto'] as const;

/** The extra services by their full names. */
export type ExtraServiceName = 'v3lockpb.Lock' | 'v3electionpb.Election' | 'grpc.health.v1.Health';

let cached: (EtcdProtos & { schema: Schema }) | undefined;

/** Loads (once) the extra definitions; they include the client API's messages they import. */
export function loadExtraProtos(): EtcdProtos & { schema: Schema } {
  if (cached) return cached;
  const packageDefinition = loadSync([...EXTRA_PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDirectory()] });
  cached = { packageDefinition, grpcObject: loadPackageDefinition(packageDefinition), schema: buildSchema(packageDefinition) };
  return cached;
}

/** The definition of one extra service, ready for `grpc.Server.addService`. */
export function extraServiceDefinition(name: ExtraServiceName): ServiceDefinition {
  const def = loadExtraProtos().packageDefinition[name];
  if (!def || typeof def !== 'object' || 'format' in def) throw new Error(`${name} is not a service`);
  return def as unknown as ServiceDefinition;
}

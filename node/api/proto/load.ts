// Loads Kvorum's etcd v3 wire definitions (the .proto files next to this
// module's source) with @grpc/proto-loader and hands out the gRPC service
// definitions the server registers.
//
// Loader options, chosen once for every user of these messages:
//
// - keepCase: true — field names stay exactly as written in the .proto files
//   (snake_case such as `range_end`, and etcd's few mixed-case names such as
//   `ID`, `TTL`, `isLearner`). These are also the names etcd's JSON gateway
//   prints, so the gateway needs no renaming table.
// - longs: String — int64/uint64 fields arrive as decimal strings. IDs use all
//   64 bits, which a JS number cannot hold; see int64.ts for conversions.
//   On the way out the serializer accepts strings or (safe) numbers.
// - enums: String — enum fields arrive as their names (`'PUT'`, `'DESCEND'`),
//   which read well in code and are what the JSON gateway prints. The
//   serializer accepts names or numbers on the way out.
// - bytes: (left unset) — bytes fields arrive as Node.js Buffers.
// - defaults: true, arrays: true — every field is present on a decoded
//   message: scalars hold their zero value, repeated fields an empty array,
//   and unset sub-messages `null`.
// - oneofs: true — a decoded message with a oneof carries a virtual property
//   named after the oneof (`request`, `target_union`, `request_union`, ...)
//   whose value is the name of the member that is set. Members that are not
//   set are absent (they do not get defaults).
import { existsSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** The options every Kvorum component uses to load the etcd protos. */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
});

/** The .proto files, relative to the proto directory; rpc.proto imports the other two. */
export const PROTO_FILES = ['rpc.proto', 'kv.proto', 'auth.proto'] as const;

/** Where the .proto files live inside the source tree. */
const PROTO_SUBDIR = join('node', 'api', 'proto');

/**
 * Finds the directory that holds rpc.proto. The compiled module may run from
 * the source tree, from dist/, or from a private build directory, so instead
 * of a fixed relative path it looks next to the module first and then walks
 * up the directory tree until a directory containing `node/api/proto/rpc.proto`
 * is found. `KVORUM_PROTO_DIR` overrides the search (for packaged layouts).
 */
export function protoDirectory(): string {
  const override = process.env.KVORUM_PROTO_DIR;
  if (override) {
    if (!existsSync(join(override, 'rpc.proto'))) throw new Error(`KVORUM_PROTO_DIR=${override} does not contain rpc.proto`);
    return override;
  }
  const start = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(start, 'rpc.proto'))) return start;
  let dir = start;
  for (;;) {
    const candidate = join(dir, PROTO_SUBDIR);
    if (existsSync(join(candidate, 'rpc.proto')) && existsSync(join(dir, 'package.json'))) return candidate;
    if (dir === parse(dir).root) break;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the etcd .proto files: no ${PROTO_SUBDIR}/rpc.proto above ${start}`);
}

export interface EtcdProtos {
  /** proto-loader's flat map from fully qualified names to definitions. */
  packageDefinition: PackageDefinition;
  /** The same, nested by package, as @grpc/grpc-js exposes it (clients and servers). */
  grpcObject: GrpcObject;
}

let cached: EtcdProtos | undefined;

/** Loads (once, synchronously) and returns the etcd definitions. */
export function loadEtcdProtos(): EtcdProtos {
  if (cached) return cached;
  const dir = protoDirectory();
  const packageDefinition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [dir] });
  cached = { packageDefinition, grpcObject: loadPackageDefinition(packageDefinition) };
  return cached;
}

/** The six services of etcd's client API, by their short names. */
export type EtcdServiceName = 'KV' | 'Watch' | 'Lease' | 'Cluster' | 'Maintenance' | 'Auth';

export const ETCD_SERVICE_NAMES: readonly EtcdServiceName[] = ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth'];

/** The definition of one service, ready for `grpc.Server.addService`. */
export function serviceDefinition(name: EtcdServiceName): ServiceDefinition {
  const def = loadEtcdProtos().packageDefinition[`etcdserverpb.${name}`];
  if (!def || typeof def !== 'object' || 'format' in def) throw new Error(`etcdserverpb.${name} is not a service`);
  return def as unknown as ServiceDefinition;
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

// Loads Kvorum's etcd v3 wire definitions (the .proto files under
// node/api/proto/) with @grpc/proto-loader: the members serve these messages
// and the operator and tools call them, so both load them here, the same way.
//
// Loader options, chosen once for every user of these messages:
//
// - keepCase: true — field names stay exactly as written in the .proto files
//   (snake_case such as `range_end`, and etcd's few mixed-case names such as
//   `ID`, `TTL`, `isLearner`). These are also the names etcd's JSON gateway
//   prints, so the gateway needs no renaming table.
// - longs: String — int64/uint64 fields arrive as decimal strings. IDs use all
//   64 bits, which a JS number cannot hold; see node/api/proto/int64.ts.
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
import { loadPackageDefinition, type GrpcObject } from '@grpc/grpc-js';
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
 * dist/ or from a private build directory, so instead of a fixed relative
 * path it walks up from the module's directory until a directory containing
 * `node/api/proto/rpc.proto` is found. `KVORUM_PROTO_DIR` overrides the
 * search (for packaged layouts).
 */
export function protoDirectory(): string {
  const override = process.env.KVORUM_PROTO_DIR;
  if (override) {
    if (!existsSync(join(override, 'rpc.proto'))) throw new Error(`KVORUM_PROTO_DIR=${override} does not contain rpc.proto`);
    return override;
  }
  const start = dirname(fileURLToPath(import.meta.url));
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

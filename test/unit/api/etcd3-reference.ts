// Test helper: loads the .proto files that the `etcd3` npm client ships (a
// devDependency) straight from node_modules, read-only. They are etcd's own
// definitions as a real client uses them, so they serve as the reference our
// definitions must match on the wire.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { PROTO_FILES, PROTO_LOADER_OPTIONS, protoDirectory } from '../../../node/api/proto/load.js';

const require = createRequire(import.meta.url);

/** node_modules/etcd3/proto, found through module resolution. */
export function etcd3ProtoDir(): string {
  const dir = join(dirname(require.resolve('etcd3')), '..', 'proto');
  if (!existsSync(join(dir, 'rpc.proto'))) throw new Error(`etcd3's rpc.proto not found in ${dir}`);
  return dir;
}

/** etcd3's definitions, loaded with our loader options plus any overrides. */
export function loadReference(overrides: Partial<Options> = {}): PackageDefinition {
  return loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, ...overrides, includeDirs: [etcd3ProtoDir()] });
}

/** Our definitions, loaded with our loader options plus any overrides (a separate instance from loadEtcdProtos's). */
export function loadOurs(overrides: Partial<Options> = {}): PackageDefinition {
  return loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, ...overrides, includeDirs: [protoDirectory()] });
}

/** A method definition as proto-loader describes it. */
export interface MethodDef {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  originalName?: string;
  requestSerialize: (value: unknown) => Buffer;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: unknown) => Buffer;
  responseDeserialize: (bytes: Buffer) => unknown;
  requestType: { type: { name: string } };
  responseType: { type: { name: string } };
}

export function method(def: PackageDefinition, service: string, name: string): MethodDef {
  const svc = def[`etcdserverpb.${service}`] as unknown as Record<string, MethodDef> | undefined;
  const m = svc?.[name];
  if (!m) throw new Error(`no method etcdserverpb.${service}/${name}`);
  return m;
}

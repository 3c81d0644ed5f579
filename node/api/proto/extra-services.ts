// The extra services (extra-protos.ts) as a member serves them: request
// bytes checked against the schema before decoding, as the client API's are.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { refuseCompressedIdentityMessages } from '../grpc/compressed-flag.js';
import { extraServiceDefinition, loadExtraProtos, type ExtraServiceName } from './extra-protos.js';
import { strictService } from './strict-wire.js';

export { EXTRA_PROTO_FILES, extraServiceDefinition, loadExtraProtos, type ExtraServiceName } from './extra-protos.js';

export function strictExtraService(name: ExtraServiceName): ServiceDefinition {
  refuseCompressedIdentityMessages();
  const pkg = name.slice(0, name.lastIndexOf('.'));
  return strictService(extraServiceDefinition(name), loadExtraProtos().schema, pkg);
}

// gRPC's compressed flag on a message whose call declared no grpc-encoding
// (identity) is a protocol error: grpc-go (so etcd) answers INTERNAL and the
// handler never runs. grpc-js instead reads the bytes as if uncompressed, so a
// frame flagged compressed was written as a plain request. grpc-js offers no
// hook below decompression, so its server call's decompressMessage is wrapped
// here, once; a grpc-js whose internals no longer match fails loudly at
// startup rather than silently losing the check.
import { status } from '@grpc/grpc-js';
import { grpcServerCallPrototype } from './grpc-internals.js';

interface InterceptingCallPrototype {
  decompressMessage(message: Buffer, encoding: string): Buffer | Promise<Buffer>;
}

let installed = false;

export function refuseCompressedIdentityMessages(): void {
  if (installed) return;
  const proto = grpcServerCallPrototype<InterceptingCallPrototype>();
  if (!proto || typeof proto.decompressMessage !== 'function') {
    throw new Error('this @grpc/grpc-js has no BaseServerInterceptingCall.decompressMessage; the compressed-flag check needs updating');
  }
  const original = proto.decompressMessage;
  proto.decompressMessage = function (this: InterceptingCallPrototype, message: Buffer, encoding: string) {
    if (encoding === 'identity' && message.length > 0 && message[0] === 1) {
      return Promise.reject({ code: status.INTERNAL, details: 'grpc: compressed flag set with identity or empty encoding' });
    }
    return original.call(this, message, encoding);
  };
  installed = true;
}

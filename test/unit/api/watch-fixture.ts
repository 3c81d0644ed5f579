// A Watch service of an in-process member on a real gRPC port, and a
// client for it, closed when the test ends: the setup the Watch tests share.
import type { TestContext } from 'node:test';
import { credentials, Server, ServerCredentials, type ChannelOptions, type ClientDuplexStream, type ServiceClientConstructor } from '@grpc/grpc-js';
import { pino } from 'pino';
import { watchService } from '../../../node/api/grpc/services.js';
import { etcdServices, loadEtcdProtos } from '../../../node/api/proto/load.js';
import type { EtcdServer } from '../../../node/server/etcd-server.js';

/** Opens Watch streams to `server` over gRPC on loopback. */
export async function watchClient(t: TestContext, server: EtcdServer, options: ChannelOptions = {}): Promise<() => ClientDuplexStream<unknown, unknown>> {
  const grpc = new Server();
  grpc.addService(etcdServices.Watch, watchService({ server, logger: pino({ level: 'silent' }), version: 'test', maxRequestBytes: 1.5 * 1024 * 1024 }));
  const port = await new Promise<number>((resolve, reject) =>
    grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  t.after(() => grpc.forceShutdown());
  const Watch = (loadEtcdProtos().grpcObject.etcdserverpb as Record<string, ServiceClientConstructor>).Watch!;
  const client = new Watch(`127.0.0.1:${port}`, credentials.createInsecure(), options) as InstanceType<ServiceClientConstructor> & { Watch(): ClientDuplexStream<unknown, unknown> };
  t.after(() => client.close());
  return () => client.Watch();
}

// `kvorum node`: one member, configured with etcd's flags (or ETCD_* env).
// Binds every port first (a port that is taken ends the process, naming its
// URL, before the member joins Raft), then wires the peer transport, the member (storage, Raft, state machine), the
// gRPC services and HTTP endpoints on every client URL, and the metrics URL.
// SIGTERM/SIGINT stop it gracefully; kill -9 is survivable by design (every
// acknowledged write is durable on a quorum).
import { Server as GrpcServer, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { hotMethods } from '../api/grpc/hot-unary.js';
import { pino, type Logger } from 'pino';
import { ConfigError, nodeHelp, parseNodeConfig, type NodeConfig } from '../config.js';
import { logRejectedTlsClient, readClientTls, serveClients, type ClientTls } from '../api/client-listener.js';
import { serveClientsFromWorkers } from '../api/workers/client-workers.js';
import { healthApp } from '../api/http.js';
import { healthRoutes } from '../api/health-routes.js';
import { memberHealthSource } from '../api/health.js';
import { serveHttp } from '../api/http-listener.js';
import { ListenError } from '../bound-port.js';
import { CORRUPT_DATA_EXIT_CODE, CORRUPT_DATA_TEXT } from '../../contract/data-corruption.js';
import { SnapshotCorruptionError, WalCorruptionError } from '../storage/errors.js';
import { writeTerminationMessage } from '../server/join.js';
import { bindMemberPorts, type MemberPorts } from './member-ports.js';
import { createNodeMetrics } from '../api/metrics.js';
import { createGrpcMetrics } from '../api/grpc-metrics.js';
import { authService, clusterService, kvService, leaseService, maintenanceService, watchService, type ServiceContext } from '../api/grpc/services.js';
import { strictEtcdService } from '../api/proto/strict-wire.js';
import { strictExtraService, type ExtraServiceName } from '../api/proto/extra-services.js';
import { lockService } from '../api/grpc/lock-service.js';
import { electionService } from '../api/grpc/election-service.js';
import { healthService } from '../api/grpc/health-service.js';
import { mountGateway } from '../api/gateway.js';
import { forwardTlsFromFiles, LeaderForwarder } from '../api/grpc/forward.js';
import { PeerTransport } from '../transport/transport.js';
import { peerTlsFromFiles, type PeerTlsOptions } from '../transport/tls.js';
import type { Message } from '../raft/types.js';
import { startMember, type RunningMember } from '../server/member.js';
import { discoverJoinIdentity } from '../server/join.js';
import { ETCD_API_VERSION } from '../version.js';
import { jwtOptionsFromFiles } from '../server/auth/jwt-tokens.js';
import { tuneHeapGrowth } from './heap-growth.js';

/** How long a graceful stop waits, after the drain, for drained gRPC connections to end by themselves. */
const SETTLE_MS = 1000;

/** How long a member stopping after a fatal error may take before it exits anyway. */
const FATAL_STOP_MS = 10_000;

export async function runNode(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(nodeHelp());
    return 0;
  }
  let cfg: NodeConfig;
  try {
    cfg = parseNodeConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kvorum node: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = pino({ level: cfg.logLevel, base: { member: cfg.name } });
  for (const warning of cfg.warnings) logger.warn(warning);
  try {
    const heapGrowingPercent = tuneHeapGrowth();
    logger.debug({ heapGrowingPercent: heapGrowingPercent ?? 'v8 default' }, 'heap growth set');
  } catch (err) {
    process.stderr.write(`kvorum node: ${(err as Error).message}\n`);
    return 2;
  }
  // A member that failed for good exits non-zero, so its supervisor (the
  // kubelet, systemd) restarts it from its data dir instead of leaving a
  // process that answers but never makes progress.
  let onFatal = (): void => {};
  const failed = new Promise<number>((resolve) => {
    onFatal = () => resolve(1);
  });
  let member: StartedNode;
  try {
    member = await startNode(cfg, logger, onFatal);
  } catch (err) {
    // A port that cannot be bound ends the member before it joins Raft, as etcd exits.
    if (err instanceof ListenError) {
      logger.error({ url: err.url, code: err.code }, err.message);
      process.stderr.write(`kvorum node: ${err.message}\n`);
      setTimeout(() => process.exit(1), 2000).unref();
      return 1;
    }
    // Damaged data is never repaired by guessing: one fatal line naming the
    // file and offset, and an exit status of its own for the supervisor.
    const corruption = dataCorruption(err);
    if (corruption) {
      const message = `${CORRUPT_DATA_TEXT}: ${corruption.message}`;
      logger.fatal({ file: corruption.file, ...(corruption instanceof WalCorruptionError && { offset: corruption.offset }) }, message);
      process.stderr.write(`kvorum node: ${message}\n`);
      writeTerminationMessage(message);
      setTimeout(() => process.exit(CORRUPT_DATA_EXIT_CODE), 2000).unref();
      return CORRUPT_DATA_EXIT_CODE;
    }
    throw err;
  }
  const code = await Promise.race([
    failed,
    new Promise<number>((resolve) => {
      process.once('SIGTERM', () => resolve(0));
      process.once('SIGINT', () => resolve(0));
    }),
  ]);
  logger.info({ exitCode: code, graceMs: code === 0 ? cfg.stopGraceMs : 0 }, code === 0 ? 'stopping' : 'stopping after a fatal error');
  // Whatever happens in the graceful part, the process ends within the grace period (and a little).
  // (After a fatal error the stop is not graceful, so it gets a short while.)
  setTimeout(() => process.exit(code), code === 0 ? cfg.stopGraceMs + 3000 : FATAL_STOP_MS).unref();
  await member.stop(code === 0 ? cfg.stopGraceMs : 0).catch((err: unknown) => logger.error({ err }, 'error while stopping'));
  // Whatever still holds the event loop must not keep a failed member alive.
  if (code !== 0) setTimeout(() => process.exit(code), 2000).unref();
  return code;
}

/** The WAL or snapshot corruption behind `err` (also when wrapped as a cause), if any. */
export function dataCorruption(err: unknown): WalCorruptionError | SnapshotCorruptionError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof WalCorruptionError || e instanceof SnapshotCorruptionError) return e;
  }
  return undefined;
}

export interface StartedNode {
  member: RunningMember;
  /**
   * Stops the member. With `graceMs` > 0 (SIGTERM), gracefully first: a
   * leader hands leadership to its most caught-up voter, gRPC clients are
   * sent elsewhere (GOAWAY), new requests are refused with "server stopped",
   * and requests in flight are answered, all within `graceMs`.
   */
  stop(graceMs?: number): Promise<void>;
}

export async function startNode(cfg: NodeConfig, logger: Logger, onFatal?: (err: Error) => void): Promise<StartedNode> {
  // Certificates first, then every port, then Raft: a bad certificate path or
  // a taken port stops the member before it can vote in elections it cannot
  // serve. Connections that arrive meanwhile wait on their bound port.
  const clientTls = cfg.clientTls ? readClientTls(cfg.clientTls) : undefined;
  const peerTls = cfg.peerTls ? peerTlsFromFiles(cfg.peerTls) : undefined;
  const ports = await bindMemberPorts({ client: cfg.listenClientUrls, peer: cfg.listenPeerUrls[0]!, metrics: cfg.listenMetricsUrls }, cfg.clientWorkers > 0);
  try {
    return await startOnPorts(cfg, logger, ports, clientTls, peerTls, onFatal);
  } catch (err) {
    await ports.close();
    throw err;
  }
}

async function startOnPorts(
  cfg: NodeConfig,
  logger: Logger,
  ports: MemberPorts,
  clientTls: ClientTls | undefined,
  peerTls: PeerTlsOptions | undefined,
  onFatal?: (err: Error) => void,
): Promise<StartedNode> {
  const metrics = createNodeMetrics();
  let deliver: (m: Message) => void = () => {};
  let transport: PeerTransport | undefined;

  const joinIdentity =
    cfg.initialClusterState === 'existing'
      ? await discoverJoinIdentity(cfg.dataDir, cfg.initialCluster, cfg.initialAdvertisePeerUrls, cfg.peerTls, logger)
      : undefined;

  const running: RunningMember = await startMember(
    {
      name: cfg.name,
      dataDir: cfg.dataDir,
      initialCluster: cfg.initialCluster,
      initialClusterState: cfg.initialClusterState,
      clusterToken: cfg.initialClusterToken,
      advertisePeerUrls: cfg.initialAdvertisePeerUrls,
      advertiseClientUrls: cfg.advertiseClientUrls,
      tickMs: cfg.heartbeatMs,
      electionMs: cfg.electionMs,
      snapshotCount: cfg.snapshotCount,
      snapshotCatchUpEntries: cfg.snapshotCatchUpEntries,
      maxSnapshots: cfg.maxSnapshots,
      // KVORUM_WAL_SYNC=pool makes every WAL fsync in the thread pool (for comparison).
      walSync: process.env.KVORUM_WAL_SYNC === 'pool' ? 'pool' : 'adaptive',
      limits: {
        quotaBytes: cfg.quotaBackendBytes,
        requestTimeoutMs: cfg.requestTimeoutMs,
        maxTxnOps: cfg.maxTxnOps,
        ...(cfg.autoCompaction && { autoCompaction: cfg.autoCompaction }),
        auth: { tokenTtlMs: cfg.auth.tokenTtlMs, ...(cfg.auth.token.kind === 'jwt' && { jwt: jwtOptionsFromFiles(cfg.auth.token) }) },
      },
      logger,
      registry: metrics.registry,
      hooks: metrics.hooks,
      ...(joinIdentity && { joinIdentity }),
      ...(onFatal && { onFatal }),
    },
    ({ memberId, clusterId }) => {
      transport = new PeerTransport({
        selfId: memberId,
        clusterId,
        listenUrl: ports.peer.url.href,
        bound: ports.peer.port,
        ...(peerTls && { tls: peerTls }),
        logger,
        registry: metrics.registry,
        onMessage: (m) => deliver(m),
        onUnreachable: (id) => running.node.reportUnreachable(id),
        onSnapshotStatus: (id, ok) => running.node.reportSnapshot(id, ok),
        // GET /members on the peer port: how a member added with MemberAdd
        // learns its ID before its first start.
        members: () => running.server.membership.list().map((m) => ({ id: m.id, name: m.name, peerUrls: m.peerUrls, isLearner: m.isLearner })),
      });
      const t = transport;
      return {
        send: (messages) => t.send(messages),
        addPeer: (id, urls) => t.addPeer(id, urls),
        removePeer: (id) => t.removePeer(id),
        updatePeer: (id, urls) => t.updatePeer(id, urls),
        onReceive: (d) => {
          deliver = d;
        },
      };
    },
  );
  await transport!.start();
  metrics.bind(running.server, running.storage);
  logger.info({ member: running.memberId.toString(16), cluster: running.clusterId.toString(16), peer: cfg.listenPeerUrls.map((u) => u.href) }, 'member started');

  const forwarder = new LeaderForwarder(running.server, cfg.requestTimeoutMs, forwardTlsFromFiles(cfg.clientTls, cfg.peerTls));
  const ctx: ServiceContext = {
    server: running.server,
    forwarder,
    logger,
    version: ETCD_API_VERSION,
    maxRequestBytes: cfg.maxRequestBytes,
    // Client workers verify certificates and pass the CN on (api/workers).
    clientCertAuth: cfg.clientTls?.clientCertAuth === true ? (cfg.clientWorkers > 0 ? 'worker' : true) : false,
  };
  // gRPC's own frame limit sits above the request limit, so an oversized
  // put gets etcd's "request is too large" rather than a transport error.
  const grpcMaxReceiveBytes = cfg.maxRequestBytes + 512 * 1024;
  const grpc = new GrpcServer({
    'grpc.max_receive_message_length': grpcMaxReceiveBytes,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    // Channelz bookkeeping costs ~2% of a busy member's CPU and nothing reads it.
    'grpc.enable_channelz': 0,
  });
  const grpcMetrics = createGrpcMetrics(metrics.registry);
  // Strict decoding of each service (malformed protobuf is refused), then per-call gRPC metrics.
  const serve = (name: Parameters<typeof strictEtcdService>[0], impl: UntypedServiceImplementation): { def: ServiceDefinition; impl: UntypedServiceImplementation } => {
    const def = strictEtcdService(name);
    const instrumented = grpcMetrics.instrument(def, impl);
    grpc.addService(def, instrumented);
    return { def, impl: instrumented };
  };
  const kv = serve('KV', kvService(ctx));
  // KVORUM_GRPC_HOT_PATH=0 sends every call through grpc-js (for comparison).
  const hotUnary = process.env.KVORUM_GRPC_HOT_PATH === '0'
    ? undefined
    : { methods: hotMethods(kv.def, kv.impl, ['Range', 'Put', 'DeleteRange', 'Txn']), maxReceiveBytes: grpcMaxReceiveBytes };
  serve('Watch', watchService(ctx));
  serve('Lease', leaseService(ctx));
  serve('Cluster', clusterService(ctx));
  serve('Maintenance', maintenanceService(ctx));
  serve('Auth', authService(ctx));
  const serveExtra = (name: ExtraServiceName, impl: UntypedServiceImplementation): void => {
    const def = strictExtraService(name);
    grpc.addService(def, grpcMetrics.instrument(def, impl));
  };
  serveExtra('v3lockpb.Lock', lockService(ctx));
  serveExtra('v3electionpb.Election', electionService(ctx));
  serveExtra('grpc.health.v1.Health', healthService(memberHealthSource(running.server)));

  // Progress notifications for watchers that asked for them (etcd's
  // --experimental-watch-progress-notify-interval).
  const progressTimer = setInterval(() => running.server.watchHub.notifyProgress(), cfg.watchProgressNotifyMs);
  progressTimer.unref();

  const health = healthRoutes(memberHealthSource(running.server), metrics.registry, logger);
  const app = healthApp(health, metrics.registry, (a) => mountGateway(a, ctx));
  const listeners: { close(): Promise<void> }[] = [];
  const clientListeners: { drain(graceMs: number): void; settle(timeoutMs: number): Promise<void> }[] = [];
  for (const { url, port } of ports.client) {
    const listener =
      cfg.clientWorkers > 0
        ? await serveClientsFromWorkers(port, url, grpc, app, {
            count: cfg.clientWorkers,
            ...(clientTls && { tls: clientTls }),
            hotUnary: hotUnary ?? { methods: [], maxReceiveBytes: grpcMaxReceiveBytes },
            logger,
            logLevel: cfg.logLevel,
            member: cfg.name,
            // Workers hold no state: the member stops, and its supervisor starts it whole.
            onWorkerLost: (err) => {
              logger.fatal({ err }, 'a client worker was lost; stopping the member');
              onFatal?.(err);
            },
          })
        : serveClients(port, url, grpc, app, {
            ...(clientTls && { tls: clientTls }),
            ...(hotUnary && { hotUnary }),
            onTlsClientError: logRejectedTlsClient(logger),
          });
    listeners.push(listener);
    clientListeners.push(listener);
    logger.info({ url: url.href }, 'serving client requests (gRPC and HTTP)');
  }
  const metricsApp = healthApp(health, metrics.registry);
  for (const { url, port } of ports.metrics) {
    listeners.push(serveHttp(port, url, metricsApp, clientTls));
    logger.info({ url: url.href }, 'serving metrics and health');
  }

  return {
    member: running,
    async stop(graceMs = 0) {
      clearInterval(progressTimer);
      if (graceMs > 0 && !running.node.fatalError) {
        const started = Date.now();
        const deadline = started + graceMs;
        // The handover needs an election round at most; past that, stop anyway.
        const handOffMs = Math.min(graceMs / 2, cfg.electionMs * 3);
        const drained = running.server.drain(handOffMs, deadline, {
          // Peers that have not heard of the new leader still pass their
          // clients' proposals here; the member stays until none came for an
          // election timeout. (Three heartbeats were too short for a peer
          // whose loop stalled through the handover, under CPU starvation:
          // it forwarded to a member already gone, and its clients got
          // "leader changed". A peer silent for a whole election timeout
          // has heard from the new leader or will start an election itself.)
          quietMs: Math.max(cfg.heartbeatMs * 3, cfg.electionMs),
          refusing: () => {
            for (const l of clientListeners) l.drain(Math.max(0, deadline - Date.now()));
          },
        });
        const { handedTo, unanswered } = await drained;
        // Answers just given must reach their clients before the sockets close. A
        // connection held open by a watch or keep-alive stream does not end by
        // itself, so this wait is short.
        await Promise.all(clientListeners.map((l) => l.settle(Math.min(SETTLE_MS, Math.max(0, deadline - Date.now())))));
        logger.info(
          { handedTo: handedTo?.toString(16), unanswered, tookMs: Date.now() - started },
          unanswered === 0 ? 'requests in flight answered; stopping' : 'grace period over with requests unanswered; stopping',
        );
      }
      for (const l of listeners) await l.close();
      grpc.forceShutdown();
      forwarder.close();
      await transport!.stop();
      await running.stop();
    },
  };
}

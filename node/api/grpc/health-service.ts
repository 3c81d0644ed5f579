// grpc.health.v1.Health, the standard gRPC health service (what
// grpc_health_probe and Kubernetes' gRPC probes call).
//
// What "SERVING" means here: the member knows a leader and no NOSPACE or
// CORRUPT alarm is raised; otherwise NOT_SERVING. etcd 3.4 answers SERVING
// for as long as it serves at all, which tells a probe nothing about a
// member that cannot take a write. We report what /health reports (its
// alarm and leader checks, without its read, so a Check never waits on
// Raft), so the gRPC and HTTP probes of one member agree.
//
// Names: "" is the server as a whole, as etcd registers it; the services
// this member serves answer the same status (etcd registers only "" and
// answers them NOT_FOUND; a client asking for them means these). Any other
// name is NOT_FOUND "unknown service" in Check and SERVICE_UNKNOWN in
// Watch, as grpc-go's health server answers.
import { status, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { HealthSource } from '../health.js';
import type { Pb } from './convert.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** The services a member serves, by their full names (health checks may name any of them). */
export const SERVED_SERVICES: readonly string[] = [
  'etcdserverpb.KV',
  'etcdserverpb.Watch',
  'etcdserverpb.Lease',
  'etcdserverpb.Cluster',
  'etcdserverpb.Maintenance',
  'etcdserverpb.Auth',
  'v3lockpb.Lock',
  'v3electionpb.Election',
];

/** How often a Watch stream looks again (leader and alarms are in memory; this is cheap). */
const WATCH_POLL_MS = 250;

/** The member's status: SERVING with a leader and no NOSPACE/CORRUPT alarm. */
export function servingStatus(source: Pick<HealthSource, 'leader' | 'alarms'>): 'SERVING' | 'NOT_SERVING' {
  if (source.leader() === 0) return 'NOT_SERVING';
  if (source.alarms().some((a) => a.alarm === 'NOSPACE' || a.alarm === 'CORRUPT')) return 'NOT_SERVING';
  return 'SERVING';
}

function known(service: string): boolean {
  return service === '' || SERVED_SERVICES.includes(service);
}

export function healthService(source: Pick<HealthSource, 'leader' | 'alarms'>, pollMs = WATCH_POLL_MS): UntypedServiceImplementation {
  const statusOf = (service: string): ServingStatus => (known(service) ? servingStatus(source) : 'SERVICE_UNKNOWN');
  return {
    Check: (call: ServerUnaryCall<Pb, Pb>, callback: sendUnaryData<Pb>) => {
      const service = String(call.request.service ?? '');
      if (!known(service)) callback({ code: status.NOT_FOUND, details: 'unknown service' });
      else callback(null, { status: servingStatus(source) });
    },
    // The current status at once, then each change, until the client leaves.
    Watch: (call: ServerWritableStream<Pb, Pb>) => {
      const service = String(call.request.service ?? '');
      let last = statusOf(service);
      call.write({ status: last });
      const timer = setInterval(() => {
        const now = statusOf(service);
        if (now === last) return;
        last = now;
        call.write({ status: now });
      }, pollMs);
      const stop = (): void => clearInterval(timer);
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    },
  };
}

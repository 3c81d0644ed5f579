// Peer network metrics under etcd's names and labels, so etcd dashboards
// (peer traffic, RTT, failures) read a Kvorum cluster unchanged.
import { Counter, Gauge, Histogram, Registry, exponentialBuckets } from 'prom-client';

export interface TransportMetrics {
  sentBytes: Counter<'To'>;
  receivedBytes: Counter<'From'>;
  sentFailures: Counter<'To'>;
  receivedFailures: Counter<'From'>;
  roundTrip: Histogram<'To'>;
  snapshotSendSuccess: Counter<'To'>;
  snapshotSendFailures: Counter<'To'>;
  snapshotSendSeconds: Histogram<'To'>;
  activePeers: Gauge<'Local' | 'Remote'>;
  disconnectedPeers: Counter<'Local' | 'Remote'>;
}

export function createTransportMetrics(registry: Registry): TransportMetrics {
  const registers = [registry];
  return {
    sentBytes: new Counter({ name: 'etcd_network_peer_sent_bytes_total', help: 'The total number of bytes sent to peers.', labelNames: ['To'], registers }),
    receivedBytes: new Counter({
      name: 'etcd_network_peer_received_bytes_total',
      help: 'The total number of bytes received from peers.',
      labelNames: ['From'],
      registers,
    }),
    sentFailures: new Counter({ name: 'etcd_network_peer_sent_failures_total', help: 'The total number of send failures from peers.', labelNames: ['To'], registers }),
    receivedFailures: new Counter({
      name: 'etcd_network_peer_received_failures_total',
      help: 'The total number of receive failures from peers.',
      labelNames: ['From'],
      registers,
    }),
    roundTrip: new Histogram({
      name: 'etcd_network_peer_round_trip_time_seconds',
      help: 'Round-Trip-Time histogram between peers',
      labelNames: ['To'],
      // etcd's buckets: 0.1 ms doubling to about 3.3 s.
      buckets: exponentialBuckets(0.0001, 2, 16),
      registers,
    }),
    snapshotSendSuccess: new Counter({
      name: 'etcd_network_snapshot_send_success',
      help: 'Total number of successful snapshot sends',
      labelNames: ['To'],
      registers,
    }),
    snapshotSendFailures: new Counter({
      name: 'etcd_network_snapshot_send_failures',
      help: 'Total number of snapshot send failures',
      labelNames: ['To'],
      registers,
    }),
    snapshotSendSeconds: new Histogram({
      name: 'etcd_network_snapshot_send_total_duration_seconds',
      help: 'Total latency distributions of v3 snapshot sends',
      labelNames: ['To'],
      buckets: exponentialBuckets(0.1, 2, 14),
      registers,
    }),
    activePeers: new Gauge({ name: 'etcd_network_active_peers', help: 'The current number of active peer connections.', labelNames: ['Local', 'Remote'], registers }),
    disconnectedPeers: new Counter({
      name: 'etcd_network_disconnected_peers_total',
      help: 'The total number of disconnected peers.',
      labelNames: ['Local', 'Remote'],
      registers,
    }),
  };
}

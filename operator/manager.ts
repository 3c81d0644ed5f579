// Wires the operator process together: informers on KVClusters and the
// objects they own, the work queue and workers running the cluster
// reconciler, leader election (only the leader reconciles; standbys keep warm
// caches so they take over quickly), the health/metrics server and graceful
// shutdown.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { LABELS, MANAGED_BY, type KVCluster } from './api/index.js';
import { ClusterReconciler, type ClusterCaches, type ReconcilerOptions } from './cluster/reconciler.js';
import { membershipRunner, type MembershipRunner } from './cluster/membership-port.js';
import { loadKubeConfig } from './kube/config.js';
import { KubeClient, type KubeObject } from './kube/client.js';
import { KubeEventRecorder } from './kube/events.js';
import { RESOURCES, type ResourceType } from './kube/resources.js';
import { Controller } from './runtime/controller.js';
import { Informer, objectKey } from './runtime/informer.js';
import { LeaderElector } from './runtime/leader.js';
import { OperatorMetrics } from './runtime/metrics.js';
import { OperatorHttpServer } from './runtime/server.js';
import { WorkQueue } from './runtime/workqueue.js';

export interface OperatorOptions {
  kubeconfig?: string;
  /** Namespaces to watch; empty means all. */
  namespaces: string[];
  metricsAddress: string;
  leaderElect: boolean;
  leaseName: string;
  leaseNamespace: string;
  identity?: string;
  reconciler: ReconcilerOptions;
  workers?: number;
  resyncMs?: number;
  membership?: MembershipRunner;
}

const OWNED = { pod: RESOURCES.pod, pvc: RESOURCES.pvc, secret: RESOURCES.secret, statefulSet: RESOURCES.statefulSet, service: RESOURCES.service, configMap: RESOURCES.configMap, pdb: RESOURCES.pdb } as const;
type OwnedKind = keyof typeof OWNED;

export class Operator {
  readonly metrics = new OperatorMetrics();
  private readonly client: KubeClient;
  private readonly queue = new WorkQueue();
  private readonly clusterInformers: Informer<KVCluster & KubeObject>[] = [];
  private readonly ownedInformers = new Map<OwnedKind, Informer<KubeObject>[]>();
  private readonly reconciler: ClusterReconciler;
  private readonly controller: Controller;
  private readonly elector: LeaderElector | undefined;
  private readonly http: OperatorHttpServer;
  private controllerStarted = false;
  private stopping: Promise<void> | undefined;
  readonly identity: string;

  constructor(
    private readonly opts: OperatorOptions,
    private readonly log: Logger,
    private readonly onFatal: (why: string) => void,
  ) {
    this.client = new KubeClient(loadKubeConfig({ kubeconfig: opts.kubeconfig }));
    this.identity = opts.identity || `${hostname()}-${randomBytes(4).toString('hex')}`;
    const scopes = opts.namespaces.length > 0 ? opts.namespaces : [undefined];
    const resyncMs = opts.resyncMs ?? 5 * 60_000;
    for (const namespace of scopes) {
      this.clusterInformers.push(new Informer(this.client, RESOURCES.kvCluster, log, { namespace, resyncMs }));
      for (const [kind, r] of Object.entries(OWNED) as [OwnedKind, ResourceType][]) {
        const list = this.ownedInformers.get(kind) ?? [];
        list.push(new Informer(this.client, r, log, { namespace, labelSelector: `${LABELS.managedBy}=${MANAGED_BY}` }));
        this.ownedInformers.set(kind, list);
      }
    }
    for (const inf of this.clusterInformers) {
      inf.addHandlers({
        onAdd: (c) => this.queue.add(objectKey(c)),
        onUpdate: (c, old) => {
          // Status-only writes (ours) change neither generation nor metadata we act on.
          const changed = c === old || c.metadata.generation !== old.metadata.generation || JSON.stringify(c.metadata.annotations) !== JSON.stringify(old.metadata.annotations) || c.metadata.deletionTimestamp !== old.metadata.deletionTimestamp;
          if (changed) this.queue.add(objectKey(c));
        },
        onDelete: (c) => this.queue.add(objectKey(c)),
      });
    }
    const enqueueOwner = (o: KubeObject): void => {
      const owner = o.metadata.labels?.[LABELS.cluster];
      if (owner && o.metadata.namespace) this.queue.add(`${o.metadata.namespace}/${owner}`);
    };
    for (const list of this.ownedInformers.values()) {
      for (const inf of list) inf.addHandlers({ onAdd: enqueueOwner, onUpdate: enqueueOwner, onDelete: enqueueOwner });
    }
    const caches: ClusterCaches = {
      getCluster: (ns, name) => this.clusterInformers.map((i) => i.get(ns, name)).find((c) => c !== undefined),
      owned: (kind, ns, name) =>
        (this.ownedInformers.get(kind) ?? []).flatMap((i) => i.list((o) => o.metadata.namespace === ns && o.metadata.labels?.[LABELS.cluster] === name)),
    };
    const events = new KubeEventRecorder(this.client, log, this.identity);
    this.reconciler = new ClusterReconciler({
      client: this.client,
      caches,
      events,
      log,
      metrics: this.metrics,
      options: opts.reconciler,
      membership: opts.membership ?? membershipRunner(this.client, events),
    });
    this.controller = new Controller(this.queue, (key) => this.reconciler.reconcile(key), log, this.metrics, opts.workers ?? 2);
    if (opts.leaderElect) {
      this.elector = new LeaderElector(this.client, log, { namespace: opts.leaseNamespace, name: opts.leaseName, identity: this.identity });
    }
    this.http = new OperatorHttpServer({ live: () => true, ready: () => this.synced() }, this.metrics.registry);
  }

  synced(): boolean {
    return [...this.clusterInformers, ...[...this.ownedInformers.values()].flat()].every((i) => i.synced);
  }

  async start(): Promise<void> {
    const addr = await this.http.listen(this.opts.metricsAddress);
    this.log.info({ address: `${addr.address}:${addr.port}`, identity: this.identity, namespaces: this.opts.namespaces.length ? this.opts.namespaces : 'all', leaderElect: this.opts.leaderElect }, 'operator starting');
    for (const inf of [...this.clusterInformers, ...[...this.ownedInformers.values()].flat()]) inf.start();
    if (this.elector) {
      this.metrics.isLeader.set(0);
      this.elector.start({
        onStartedLeading: () => void this.startController(),
        onStoppedLeading: () => this.onFatal('lost the leader lease'),
      });
    } else {
      await this.startController();
    }
  }

  private async startController(): Promise<void> {
    if (this.controllerStarted || this.stopping) return;
    this.controllerStarted = true;
    this.metrics.isLeader.set(1);
    // Reconcile from complete caches only: a half-listed cache looks like missing objects.
    while (!this.synced() && !this.stopping) await new Promise((r) => setTimeout(r, 100));
    if (this.stopping) return;
    this.controller.start();
    for (const inf of this.clusterInformers) for (const c of inf.list()) this.queue.add(objectKey(c));
    this.log.info('reconcilers running');
  }

  /** Graceful stop: finish reconciles in progress, give the Lease up, stop watching, close the server. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('operator stopping');
      await this.controller.stop();
      this.metrics.isLeader.set(0);
      await this.elector?.release();
      await Promise.all([...this.clusterInformers, ...[...this.ownedInformers.values()].flat()].map((i) => i.stop()));
      this.reconciler.close();
      await this.http.close();
      this.log.info('operator stopped');
    })();
    return this.stopping;
  }
}

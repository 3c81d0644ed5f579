// Wires the operator process together: informers on KVClusters and the
// objects they own, the work queue and workers running the cluster
// reconciler, leader election (only the leader reconciles; standbys keep warm
// caches so they take over quickly), the health/metrics server and graceful
// shutdown.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { LABELS, MANAGED_BY, type CredentialsSecretRef, type KVBackup, type KVBackupSchedule, type KVCluster, type KVRestore, type ObjectStoreDestination } from './api/index.js';
import { RestoreController } from './backup/restore-controller.js';
import { BackupController } from './backup/backup-controller.js';
import { readCredentials } from './backup/credentials.js';
import { s3ObjectStore, type S3Credentials } from './backup/object-store.js';
import { ScheduleController } from './backup/schedule-controller.js';
import { ClusterClient } from './membership/client.js';
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
  private readonly backupInformers: Informer<KVBackup & KubeObject>[] = [];
  private readonly scheduleInformers: Informer<KVBackupSchedule & KubeObject>[] = [];
  private readonly restoreInformers: Informer<KVRestore & KubeObject>[] = [];
  private readonly restoreQueue = new WorkQueue();
  private readonly restoreController: Controller;
  private readonly backupQueue = new WorkQueue();
  private readonly scheduleQueue = new WorkQueue();
  private readonly backups: BackupController;
  private readonly backupController: Controller;
  private readonly scheduleController: Controller;
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
      this.backupInformers.push(new Informer(this.client, RESOURCES.kvBackup, log, { namespace, resyncMs }));
      this.scheduleInformers.push(new Informer(this.client, RESOURCES.kvBackupSchedule, log, { namespace, resyncMs }));
      this.restoreInformers.push(new Informer(this.client, RESOURCES.kvRestore, log, { namespace, resyncMs }));
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
      backupsOf: (ns, cluster) => this.backupInformers.flatMap((i) => i.list((b) => b.metadata.namespace === ns && b.spec.cluster === cluster)),
      restoresOf: (ns, cluster) => this.restoreInformers.flatMap((i) => i.list((r) => r.metadata.namespace === ns && r.spec.cluster === cluster)),
      schedulesOf: (ns, cluster) => this.scheduleInformers.flatMap((i) => i.list((s) => s.metadata.namespace === ns && s.spec.cluster === cluster)),
      getCluster: (ns, name) => this.clusterInformers.map((i) => i.get(ns, name)).find((c) => c !== undefined),
      owned: (kind, ns, name) =>
        (this.ownedInformers.get(kind) ?? []).flatMap((i) => i.list((o) => o.metadata.namespace === ns && o.metadata.labels?.[LABELS.cluster] === name)),
    };
    const events = new KubeEventRecorder(this.client, log, this.identity);
    const restoreSources = {
      getBackup: (ns: string, name: string) => this.backupInformers.map((i) => i.get(ns, name)).find((b) => b !== undefined),
      credentials: (ns: string, ref: CredentialsSecretRef | undefined) => readCredentials(this.client, ns, ref),
      objectStore: (destination: ObjectStoreDestination, credentials: S3Credentials) => s3ObjectStore(destination, credentials),
    };
    this.reconciler = new ClusterReconciler({
      client: this.client,
      caches,
      events,
      log,
      metrics: this.metrics,
      options: opts.reconciler,
      membership: opts.membership ?? membershipRunner(this.client, events),
      restoreSources,
    });
    this.controller = new Controller(this.queue, (key) => this.reconciler.reconcile(key), log, this.metrics, opts.workers ?? 2);

    const backupsIn = (ns: string): KVBackup[] => this.backupInformers.flatMap((i) => i.list((b) => b.metadata.namespace === ns));
    this.backups = new BackupController({
      client: this.client,
      getCluster: caches.getCluster,
      backupsOf: (ns, cluster) => backupsIn(ns).filter((b) => b.spec.cluster === cluster),
      access: (ns, cluster) => {
        const options = this.reconciler.clientOptions(`${ns}/${cluster}`);
        if (!options) return undefined;
        const source = new ClusterClient({ ...options, callTimeoutMs: 10_000 });
        return { endpoints: options.endpoints, source, close: () => source.close() };
      },
      objectStore: (destination, credentials) => s3ObjectStore(destination, credentials),
      requeue: (key, ms) => this.backupQueue.addAfter(key, ms),
      events,
      metrics: this.metrics,
      log: log.child({ controller: 'kvbackup' }),
    });
    const restores = new RestoreController({
      client: this.client,
      getCluster: caches.getCluster,
      restoresOf: (ns, cluster) => caches.restoresOf!(ns, cluster),
      memberPods: (ns, cluster) => caches.owned('pod', ns, cluster),
      sources: restoreSources,
      nudgeCluster: (ns, cluster) => this.queue.add(`${ns}/${cluster}`),
      events,
      log: log.child({ controller: 'kvrestore' }),
    });
    this.restoreController = new Controller(this.restoreQueue, (key) => restores.reconcile(key), log, this.metrics, 1);
    for (const inf of this.restoreInformers) {
      inf.addHandlers({
        onAdd: (r) => this.restoreQueue.add(objectKey(r)),
        onUpdate: (r) => {
          this.restoreQueue.add(objectKey(r));
          this.queue.add(`${r.metadata.namespace ?? ''}/${r.spec.cluster}`);
        },
        onDelete: () => undefined,
      });
    }
    const schedules = new ScheduleController({ client: this.client, backupsIn, events, log: log.child({ controller: 'kvbackupschedule' }) });
    this.backupController = new Controller(this.backupQueue, (key) => this.backups.reconcile(key), log, this.metrics, 2);
    this.scheduleController = new Controller(this.scheduleQueue, (key) => schedules.reconcile(key), log, this.metrics, 1);
    for (const inf of this.backupInformers) {
      inf.addHandlers({
        onAdd: (b) => this.backupQueue.add(objectKey(b)),
        onUpdate: (b) => {
          this.backupQueue.add(objectKey(b));
          // A backup finishing may free its cluster for a waiting backup or let a schedule prune.
          for (const other of backupsIn(b.metadata.namespace ?? '')) if (other.spec.cluster === b.spec.cluster && other !== b) this.backupQueue.add(`${other.metadata.namespace ?? ""}/${other.metadata.name ?? ""}`);
          if (b.status?.phase === 'Completed' || b.status?.phase === 'Failed') this.queue.add(`${b.metadata.namespace ?? ''}/${b.spec.cluster}`);
          const schedule = b.metadata.labels?.[LABELS.schedule];
          if (schedule) this.scheduleQueue.add(`${b.metadata.namespace ?? ''}/${schedule}`);
        },
        onDelete: (b) => this.backupQueue.add(objectKey(b)),
      });
    }
    for (const inf of this.scheduleInformers) {
      inf.addHandlers({ onAdd: (s) => this.scheduleQueue.add(objectKey(s)), onUpdate: (s) => this.scheduleQueue.add(objectKey(s)), onDelete: () => undefined });
    }
    if (opts.leaderElect) {
      this.elector = new LeaderElector(this.client, log, { namespace: opts.leaseNamespace, name: opts.leaseName, identity: this.identity });
    }
    this.http = new OperatorHttpServer({ live: () => true, ready: () => this.synced() }, this.metrics.registry);
  }

  synced(): boolean {
    return this.allInformers().every((i) => i.synced);
  }

  private allInformers(): { synced: boolean; start(): void; stop(): Promise<void> }[] {
    return [...this.clusterInformers, ...this.backupInformers, ...this.scheduleInformers, ...this.restoreInformers, ...[...this.ownedInformers.values()].flat()];
  }

  async start(): Promise<void> {
    const addr = await this.http.listen(this.opts.metricsAddress);
    this.log.info({ address: `${addr.address}:${addr.port}`, identity: this.identity, namespaces: this.opts.namespaces.length ? this.opts.namespaces : 'all', leaderElect: this.opts.leaderElect }, 'operator starting');
    for (const inf of this.allInformers()) inf.start();
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
    this.backupController.start();
    this.scheduleController.start();
    this.restoreController.start();
    for (const inf of this.clusterInformers) for (const c of inf.list()) this.queue.add(objectKey(c));
    for (const inf of this.backupInformers) for (const b of inf.list()) this.backupQueue.add(objectKey(b));
    for (const inf of this.scheduleInformers) for (const s of inf.list()) this.scheduleQueue.add(objectKey(s));
    for (const inf of this.restoreInformers) for (const r of inf.list()) this.restoreQueue.add(objectKey(r));
    this.log.info('reconcilers running');
  }

  /** Graceful stop: finish reconciles in progress, give the Lease up, stop watching, close the server. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('operator stopping');
      this.backups.stop();
      await Promise.all([this.controller.stop(), this.backupController.stop(), this.scheduleController.stop(), this.restoreController.stop()]);
      this.metrics.isLeader.set(0);
      await this.elector?.release();
      await Promise.all(this.allInformers().map((i) => i.stop()));
      this.reconciler.close();
      await this.http.close();
      this.log.info('operator stopped');
    })();
    return this.stopping;
  }
}

// A hostPath provisioner for the e2e StorageClass: each PersistentVolumeClaim
// of that class gets a PersistentVolume backed by a directory under the state
// directory. The kube-controller-manager's PV controller binds them; when a
// claim is deleted its volume becomes Released and is removed here together
// with its directory (reclaim policy Delete). A bound claim whose request
// grew beyond its capacity (possible only on a class that allows expansion:
// the API server refuses it otherwise) is expanded here: a directory has no
// size, so the volume's and the claim's capacity are set to the request.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, Informer, type KubeClient, type KubeObject } from '../kube/client.js';
import { paths, provisionerName, storageClass } from '../env/config.js';

const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';

export class Provisioner {
  private readonly pvcs: Informer;
  private readonly pvs: Informer;
  private readonly busy = new Set<string>();

  constructor(private readonly client: KubeClient, private readonly log: (m: string) => void) {
    this.pvcs = new Informer(client, '/api/v1/persistentvolumeclaims', (type, pvc) => {
      if (type !== 'DELETED') {
        void this.provision(pvc);
        void this.expand(pvc);
      }
    }, log);
    this.pvs = new Informer(client, '/api/v1/persistentvolumes', (type, pv) => {
      if (type !== 'DELETED') void this.reclaim(pv);
    }, log);
  }

  start(): void {
    this.pvcs.start();
    this.pvs.start();
    // Level-triggered safety net for events that raced with our own writes.
    setInterval(() => {
      for (const pvc of this.pvcs.items.values()) {
        void this.provision(pvc);
        void this.expand(pvc);
      }
      for (const pv of this.pvs.items.values()) void this.reclaim(pv);
    }, 5000);
  }

  private wants(pvc: KubeObject): boolean {
    const a = pvc.metadata.annotations ?? {};
    return (
      pvc.spec?.storageClassName === storageClass ||
      a['volume.kubernetes.io/storage-provisioner'] === provisionerName ||
      a['volume.beta.kubernetes.io/storage-provisioner'] === provisionerName
    );
  }

  private async provision(pvc: KubeObject): Promise<void> {
    if (!this.wants(pvc) || pvc.spec.volumeName || pvc.metadata.deletionTimestamp || pvc.status?.phase !== 'Pending') return;
    const name = `pvc-${pvc.metadata.uid}`;
    if (this.busy.has(name) || this.pvs.items.has(name)) return;
    this.busy.add(name);
    try {
      const dir = join(paths.volumes, name);
      mkdirSync(dir, { recursive: true });
      await this.client.create('/api/v1/persistentvolumes', {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name, annotations: { [PROVISIONED_BY]: provisionerName } },
        spec: {
          capacity: { storage: pvc.spec.resources?.requests?.storage ?? '1Gi' },
          accessModes: pvc.spec.accessModes ?? ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: pvc.spec.storageClassName ?? storageClass,
          volumeMode: pvc.spec.volumeMode ?? 'Filesystem',
          hostPath: { path: dir, type: 'DirectoryOrCreate' },
          claimRef: {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            namespace: pvc.metadata.namespace,
            name: pvc.metadata.name,
            uid: pvc.metadata.uid,
          },
        },
      });
      this.log(`provisioned ${name} for ${pvc.metadata.namespace}/${pvc.metadata.name} at ${dir}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) this.log(`provision ${name}: ${(e as Error).message}`);
    } finally {
      this.busy.delete(name);
    }
  }

  private async expand(pvc: KubeObject): Promise<void> {
    const want: string | undefined = pvc.spec?.resources?.requests?.storage;
    const have: string | undefined = pvc.status?.capacity?.storage;
    const pvName: string | undefined = pvc.spec?.volumeName;
    if (!want || !have || !pvName || pvc.status?.phase !== 'Bound' || !this.pvs.items.has(pvName)) return;
    if (this.pvs.items.get(pvName)?.metadata.annotations?.[PROVISIONED_BY] !== provisionerName) return;
    if (bytesOf(want) <= bytesOf(have)) return;
    const key = `expand/${pvName}`;
    if (this.busy.has(key)) return;
    this.busy.add(key);
    try {
      await this.client.request('PATCH', `/api/v1/persistentvolumes/${pvName}`, { spec: { capacity: { storage: want } } }, 'application/merge-patch+json');
      await this.client.request('PATCH', `/api/v1/namespaces/${pvc.metadata.namespace}/persistentvolumeclaims/${pvc.metadata.name}/status`, { status: { capacity: { storage: want } } }, 'application/merge-patch+json');
      this.log(`expanded ${pvName} for ${pvc.metadata.namespace}/${pvc.metadata.name} from ${have} to ${want}`);
    } catch (e) {
      this.log(`expand ${pvName}: ${(e as Error).message}`);
    } finally {
      this.busy.delete(key);
    }
  }

  private async reclaim(pv: KubeObject): Promise<void> {
    if (pv.metadata.annotations?.[PROVISIONED_BY] !== provisionerName) return;
    if (pv.spec.persistentVolumeReclaimPolicy !== 'Delete') return;
    const phase = pv.status?.phase;
    const claimGone = phase === 'Released' || phase === 'Failed';
    if (!claimGone) return;
    const key = `reclaim/${pv.metadata.name}`;
    if (this.busy.has(key)) return;
    this.busy.add(key);
    try {
      const path: string | undefined = pv.spec.hostPath?.path;
      if (path && path.startsWith(paths.volumes)) rmSync(path, { recursive: true, force: true });
      if (!pv.metadata.deletionTimestamp) await this.client.delete(`/api/v1/persistentvolumes/${pv.metadata.name}`);
      this.log(`reclaimed ${pv.metadata.name}`);
    } catch (e) {
      this.log(`reclaim ${pv.metadata.name}: ${(e as Error).message}`);
    } finally {
      this.busy.delete(key);
    }
  }
}

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** Bytes of a storage quantity ("2Gi", "500M", "1073741824"); enough for claim sizes. */
function bytesOf(q: string): number {
  const m = /^(\d+(?:\.\d+)?)([kMGT]i?)?$/.exec(String(q));
  return m ? Number(m[1]) * (UNITS[m[2] ?? ''] ?? 1) : 0;
}

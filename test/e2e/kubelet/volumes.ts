// Materialises a pod's volumes as directories under the pod's state directory.
// Secret, ConfigMap, downward API and projected volumes are written as files;
// emptyDir is a plain directory; persistentVolumeClaim resolves to the bound
// PersistentVolume's hostPath/local directory; hostPath is used as is.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { fieldRefValue } from './env.js';

export class VolumeNotReady extends Error {}

interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

function writeFiles(dir: string, files: Map<string, { data: Buffer; mode: number }>): void {
  mkdirSync(dir, { recursive: true });
  for (const [rel, { data, mode }] of files) {
    const target = join(dir, rel);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
    chmodSync(target, mode);
  }
}

function selectKeys(
  data: Record<string, Buffer>,
  items: KeyToPath[] | undefined,
  defaultMode: number,
  what: string,
  optional: boolean,
): Map<string, { data: Buffer; mode: number }> {
  const out = new Map<string, { data: Buffer; mode: number }>();
  if (items && items.length > 0) {
    for (const item of items) {
      const value = data[item.key];
      if (value === undefined) {
        if (optional) continue;
        throw new VolumeNotReady(`${what}: key ${item.key} not found`);
      }
      out.set(item.path, { data: value, mode: item.mode ?? defaultMode });
    }
  } else {
    for (const [k, v] of Object.entries(data)) out.set(k, { data: v, mode: defaultMode });
  }
  return out;
}

async function secretData(client: KubeClient, ns: string, name: string, optional: boolean): Promise<Record<string, Buffer> | undefined> {
  const s = await client.find(`/api/v1/namespaces/${ns}/secrets/${name}`);
  if (!s) {
    if (optional) return undefined;
    throw new VolumeNotReady(`secret ${ns}/${name} not found`);
  }
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries((s.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64');
  return out;
}

async function configMapData(client: KubeClient, ns: string, name: string, optional: boolean): Promise<Record<string, Buffer> | undefined> {
  const c = await client.find(`/api/v1/namespaces/${ns}/configmaps/${name}`);
  if (!c) {
    if (optional) return undefined;
    throw new VolumeNotReady(`configmap ${ns}/${name} not found`);
  }
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries((c.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v);
  for (const [k, v] of Object.entries((c.binaryData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64');
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function downwardFiles(pod: KubeObject, items: any[], defaultMode: number): Map<string, { data: Buffer; mode: number }> {
  const out = new Map<string, { data: Buffer; mode: number }>();
  for (const item of items ?? []) {
    let value = '';
    if (item.fieldRef) {
      const path: string = item.fieldRef.fieldPath;
      if (path === 'metadata.labels' || path === 'metadata.annotations') {
        const map = (path === 'metadata.labels' ? pod.metadata.labels : pod.metadata.annotations) ?? {};
        value = Object.entries(map)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join('\n');
      } else value = fieldRefValue(pod, path);
    } else if (item.resourceFieldRef) value = '0';
    out.set(item.path, { data: Buffer.from(value), mode: item.mode ?? defaultMode });
  }
  return out;
}

async function serviceAccountToken(client: KubeClient, pod: KubeObject, audience: string | undefined, expirationSeconds: number | undefined): Promise<Buffer> {
  const ns = pod.metadata.namespace ?? 'default';
  const sa = pod.spec.serviceAccountName ?? 'default';
  const tr = await client.create(`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      audiences: audience ? [audience] : [],
      expirationSeconds: Math.max(expirationSeconds ?? 3607, 600),
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
    },
  });
  return Buffer.from(tr.status.token as string);
}

/**
 * Prepares every volume of `pod` under `podDir` and returns volume name -> host
 * directory. Throws VolumeNotReady while a referenced object is missing.
 * With `refresh`, rewrites Secret/ConfigMap/downward API contents in place
 * (as the kubelet's periodic sync does) without requesting new tokens.
 */
export async function prepareVolumes(client: KubeClient, pod: KubeObject, podDir: string, refresh = false): Promise<Map<string, string>> {
  const ns = pod.metadata.namespace ?? 'default';
  const result = new Map<string, string>();
  for (const vol of (pod.spec.volumes ?? []) as KubeObject['spec'][]) {
    const dir = join(podDir, 'volumes', vol.name);
    if (vol.emptyDir) {
      mkdirSync(dir, { recursive: true });
    } else if (vol.secret) {
      const mode = vol.secret.defaultMode ?? 0o644;
      const data = await secretData(client, ns, vol.secret.secretName, vol.secret.optional === true);
      writeFiles(dir, selectKeys(data ?? {}, vol.secret.items, mode, `secret ${vol.secret.secretName}`, vol.secret.optional === true));
    } else if (vol.configMap) {
      const mode = vol.configMap.defaultMode ?? 0o644;
      const data = await configMapData(client, ns, vol.configMap.name, vol.configMap.optional === true);
      writeFiles(dir, selectKeys(data ?? {}, vol.configMap.items, mode, `configmap ${vol.configMap.name}`, vol.configMap.optional === true));
    } else if (vol.downwardAPI) {
      writeFiles(dir, downwardFiles(pod, vol.downwardAPI.items, vol.downwardAPI.defaultMode ?? 0o644));
    } else if (vol.projected) {
      const mode = vol.projected.defaultMode ?? 0o644;
      const files = new Map<string, { data: Buffer; mode: number }>();
      for (const src of vol.projected.sources ?? []) {
        if (src.serviceAccountToken) {
          // Tokens are long-lived (the API server extends kubelet-style requests); keep the first one.
          if (refresh) continue;
          const t = src.serviceAccountToken;
          files.set(t.path, { data: await serviceAccountToken(client, pod, t.audience, t.expirationSeconds), mode: 0o600 });
        } else if (src.configMap) {
          const data = await configMapData(client, ns, src.configMap.name, src.configMap.optional === true);
          for (const [k, v] of selectKeys(data ?? {}, src.configMap.items, mode, `configmap ${src.configMap.name}`, src.configMap.optional === true)) files.set(k, v);
        } else if (src.secret) {
          const data = await secretData(client, ns, src.secret.name, src.secret.optional === true);
          for (const [k, v] of selectKeys(data ?? {}, src.secret.items, mode, `secret ${src.secret.name}`, src.secret.optional === true)) files.set(k, v);
        } else if (src.downwardAPI) {
          for (const [k, v] of downwardFiles(pod, src.downwardAPI.items, mode)) files.set(k, v);
        }
      }
      writeFiles(dir, files);
    } else if (vol.persistentVolumeClaim) {
      const claim = vol.persistentVolumeClaim.claimName;
      const pvc = await client.find(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${claim}`);
      if (!pvc) throw new VolumeNotReady(`persistentvolumeclaim ${claim} not found`);
      if (pvc.status?.phase !== 'Bound' || !pvc.spec.volumeName) throw new VolumeNotReady(`persistentvolumeclaim ${claim} is not bound`);
      const pv = await client.get(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
      const path: string | undefined = pv.spec.hostPath?.path ?? pv.spec.local?.path;
      if (!path) throw new VolumeNotReady(`persistentvolume ${pv.metadata.name} has no hostPath/local path`);
      mkdirSync(path, { recursive: true });
      result.set(vol.name, path);
      continue;
    } else if (vol.hostPath) {
      if (vol.hostPath.type === 'DirectoryOrCreate' || !vol.hostPath.type) mkdirSync(vol.hostPath.path, { recursive: true });
      result.set(vol.name, vol.hostPath.path);
      continue;
    } else {
      throw new VolumeNotReady(`volume ${vol.name}: unsupported volume type ${Object.keys(vol).filter((k) => k !== 'name').join(',')}`);
    }
    result.set(vol.name, dir);
  }
  return result;
}

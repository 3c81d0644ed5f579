// Container environment: downward API field references, Secret and ConfigMap
// keys, envFrom, and Kubernetes' $(VAR) expansion.
import type { KubeClient, KubeObject } from '../kube/client.js';
import { VolumeNotReady } from './volumes.js';

export function fieldRefValue(pod: KubeObject, path: string): string {
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    case 'status.podIPs':
      return (pod.status?.podIPs ?? []).map((p: { ip: string }) => p.ip).join(',');
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
    case 'status.hostIPs':
      return (pod.status?.hostIPs ?? []).map((p: { ip: string }) => p.ip).join(',');
  }
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]] ?? '';
  throw new Error(`unsupported fieldRef ${path}`);
}

/** Expands $(NAME) from `vars`; $$ escapes; unknown references stay literal. */
export function expand(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => {
    if (all === '$$') return '$';
    return name !== undefined && name in vars ? vars[name] : all;
  });
}

export async function containerEnv(
  client: KubeClient,
  pod: KubeObject,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  container: any,
  base: Record<string, string>,
): Promise<Record<string, string>> {
  const ns = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = { ...base };
  const cache = new Map<string, KubeObject | undefined>();
  const lookup = async (kind: 'secrets' | 'configmaps', name: string): Promise<KubeObject | undefined> => {
    const key = `${kind}/${name}`;
    if (!cache.has(key)) cache.set(key, await client.find(`/api/v1/namespaces/${ns}/${key}`));
    return cache.get(key);
  };
  const decode = (obj: KubeObject, kind: 'secrets' | 'configmaps'): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, string>)) out[k] = kind === 'secrets' ? Buffer.from(v, 'base64').toString('utf8') : v;
    return out;
  };
  for (const from of container.envFrom ?? []) {
    const kind = from.secretRef ? 'secrets' : 'configmaps';
    const ref = from.secretRef ?? from.configMapRef;
    const obj = await lookup(kind, ref.name);
    if (!obj) {
      if (ref.optional) continue;
      throw new VolumeNotReady(`${kind} ${ref.name} not found (envFrom)`);
    }
    for (const [k, v] of Object.entries(decode(obj, kind))) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of container.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = expand(e.value ?? '', env);
      continue;
    }
    const vf = e.valueFrom;
    if (vf.fieldRef) env[e.name] = fieldRefValue(pod, vf.fieldRef.fieldPath);
    else if (vf.resourceFieldRef) env[e.name] = '0';
    else {
      const kind = vf.secretKeyRef ? 'secrets' : 'configmaps';
      const ref = vf.secretKeyRef ?? vf.configMapKeyRef;
      const obj = await lookup(kind, ref.name);
      const value = obj ? decode(obj, kind)[ref.key] : undefined;
      if (value === undefined) {
        if (ref.optional) continue;
        throw new VolumeNotReady(`${kind} ${ref.name} key ${ref.key} not found (env ${e.name})`);
      }
      env[e.name] = value;
    }
  }
  return env;
}

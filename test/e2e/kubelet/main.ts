// The process kubelet: registers Nodes, keeps their Leases and Ready condition
// fresh, runs the Pods bound to them as local processes (see pod.ts), keeps
// each pod's /etc/hosts current with Service and Pod DNS names, and runs a
// small hostPath provisioner for PersistentVolumeClaims.
//
// Usage: node kubelet/main.js --kubeconfig FILE --nodes N [--node-prefix NAME]
import { existsSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ApiError, Informer, KubeClient, type KubeObject } from '../kube/client.js';
import { clusterDomain, net as netConfig, paths, ports } from '../env/config.js';
import { PodWorker, now } from './pod.js';
import { ensureBridge, netnsEtcDir, rewriteInPlace } from './netns.js';
import { Provisioner } from './provisioner.js';

const { values: opts } = parseArgs({
  options: {
    kubeconfig: { type: 'string', default: paths.kubeconfig },
    nodes: { type: 'string', default: '1' },
    'node-prefix': { type: 'string', default: 'e2e-node' },
  },
});

const log = (msg: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
};

const client = KubeClient.fromKubeconfig(opts.kubeconfig as string);
const nodeNames = Array.from({ length: Number(opts.nodes) }, (_, i) => `${opts['node-prefix']}-${i + 1}`);
const microTime = (): string => new Date().toISOString().replace('Z', '000Z');

// ---- nodes and leases ----

function nodeConditions(): unknown[] {
  const t = now();
  const cond = (type: string, status: string, reason: string, message: string): unknown => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: t,
  });
  return [
    cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    cond('Ready', 'True', 'KubeletReady', 'process kubelet is posting ready status'),
  ];
}

function nodeStatus(name: string): Record<string, unknown> {
  const resources = { cpu: '16', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    capacity: resources,
    allocatable: resources,
    conditions: nodeConditions(),
    addresses: [
      { type: 'InternalIP', address: netConfig.hostIP },
      { type: 'Hostname', address: name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    nodeInfo: {
      machineID: name,
      systemUUID: name,
      bootID: String(process.pid),
      kernelVersion: 'process',
      osImage: 'kvorum e2e process kubelet',
      containerRuntimeVersion: 'process://1',
      kubeletVersion: 'v1.33.13',
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}

async function registerNode(name: string): Promise<void> {
  const existing = await client.find(`/api/v1/nodes/${name}`);
  if (!existing) {
    await client.ensure('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kvorum.io/e2e': 'process' },
      },
      spec: {},
    });
  }
  await client.mergePatch(`/api/v1/nodes/${name}/status`, { status: nodeStatus(name) });
  log(`registered node ${name}`);
}

async function heartbeat(name: string): Promise<void> {
  const node = await client.get(`/api/v1/nodes/${name}`);
  await client.mergePatch(`/api/v1/nodes/${name}/status`, { status: { conditions: nodeConditions() } });
  const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
  const lease = await client.find(leasePath);
  const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime() };
  if (lease) {
    await client.put(leasePath, { ...lease, spec: { ...lease.spec, ...spec } });
  } else {
    await client.ensure('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace: 'kube-node-lease',
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: node.metadata.uid }],
      },
      spec,
    });
  }
}

// ---- pods ----

const workers = new Map<string, PodWorker>();
const ipsByUid = new Map<string, string>();

function allocateIP(uid: string): string {
  const existing = ipsByUid.get(uid);
  if (existing) return existing;
  const used = new Set(ipsByUid.values());
  const [a, b] = netConfig.podBase;
  for (let c = 1; c <= 250; c++) {
    for (let d = 2; d <= 254; d++) {
      const ip = `${a}.${b}.${c}.${d}`;
      if (!used.has(ip)) {
        ipsByUid.set(uid, ip);
        return ip;
      }
    }
  }
  throw new Error('pod address range exhausted');
}

let hostsTimer: NodeJS.Timeout | undefined;
function scheduleHosts(): void {
  if (hostsTimer) return;
  hostsTimer = setTimeout(() => {
    hostsTimer = undefined;
    for (const w of workers.values()) writeHosts(w);
  }, 100);
}

const host = {
  client,
  log,
  changed: scheduleHosts,
  allocateIP,
  releaseIP: (uid: string) => ipsByUid.delete(uid),
  writeHosts: (w: PodWorker) => writeHosts(w),
};

function isPodReady(pod: KubeObject): boolean {
  return (pod.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}

/** Pod IP as known locally (fresher than the API) or from the API. */
function podIPOf(pod: KubeObject): string | undefined {
  const w = workers.get(pod.metadata.uid ?? '');
  return w?.podIP || pod.status?.podIP;
}

function readyOf(pod: KubeObject): boolean {
  const w = workers.get(pod.metadata.uid ?? '');
  return w ? w.isReady : isPodReady(pod);
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Renders the /etc/hosts a pod sees: its own names, Service names and headless pod names. */
function renderHosts(w: PodWorker): string {
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback'];
  const ns = w.pod.metadata.namespace ?? 'default';
  const add = (ip: string | undefined, names: string[]): void => {
    if (ip) lines.push(`${ip} ${names.join(' ')}`);
  };
  const svcNames = (name: string, svcNs: string): string[] => {
    const names = [`${name}.${svcNs}.svc.${clusterDomain}`, `${name}.${svcNs}.svc`];
    if (svcNs === ns) names.push(name, `${name}.${svcNs}`);
    else names.push(`${name}.${svcNs}`);
    return names;
  };
  const own = w.pod.spec.hostname ?? w.pod.metadata.name;
  const ownNames = [own];
  if (w.pod.spec.subdomain) ownNames.unshift(`${own}.${w.pod.spec.subdomain}.${ns}.svc.${clusterDomain}`, `${own}.${w.pod.spec.subdomain}.${ns}.svc`);
  add(w.podIP, ownNames);
  add(netConfig.hostIP, svcNames('kubernetes', 'default'));
  const services = [...serviceInformer.items.values()];
  const pods = [...podInformer.items.values()].filter((p) => !p.metadata.deletionTimestamp || workers.has(p.metadata.uid ?? ''));
  for (const svc of services) {
    const svcNs = svc.metadata.namespace ?? 'default';
    if (svcNs === 'default' && svc.metadata.name === 'kubernetes') continue;
    const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
    const members = pods.filter((p) => p.metadata.namespace === svcNs && selects(svc.spec?.selector, p.metadata.labels));
    for (const p of members) {
      const ip = podIPOf(p);
      if (!ip || !(publishNotReady || readyOf(p))) continue;
      add(ip, svcNames(svc.metadata.name, svcNs));
      // Per-pod records of a headless Service: <hostname>.<subdomain>.<ns>.svc.
      if (svc.spec?.clusterIP === 'None' && p.spec?.subdomain === svc.metadata.name) {
        const hn = p.spec.hostname ?? p.metadata.name;
        const names = [`${hn}.${svc.metadata.name}.${svcNs}.svc.${clusterDomain}`, `${hn}.${svc.metadata.name}.${svcNs}.svc`];
        if (svcNs === ns) names.push(`${hn}.${svc.metadata.name}`);
        add(ip, names);
      }
    }
  }
  return lines.join('\n') + '\n';
}

function writeHosts(w: PodWorker): void {
  const path = `${netnsEtcDir(w.netns)}/hosts`;
  if (!existsSync(path)) return;
  try {
    rewriteInPlace(path, renderHosts(w));
  } catch (e) {
    log(`hosts for ${w.name}: ${(e as Error).message}`);
  }
}

function onPod(type: string, pod: KubeObject): void {
  if (!nodeNames.includes(pod.spec?.nodeName)) return;
  const uid = pod.metadata.uid ?? '';
  let w = workers.get(uid);
  if (type === 'DELETED') {
    if (w) void w.terminate(0, false).then(() => workers.delete(uid));
    return;
  }
  const phase = pod.status?.phase;
  if (!w) {
    if (phase === 'Succeeded' || phase === 'Failed') {
      if (pod.metadata.deletionTimestamp) void client.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, { gracePeriodSeconds: 0, preconditions: { uid } });
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      // Never started here (for example after a kubelet restart): nothing to stop.
      void client.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, { gracePeriodSeconds: 0, preconditions: { uid } }).catch(() => {});
      return;
    }
    w = new PodWorker(pod, host, paths.kubeletDir);
    workers.set(uid, w);
    log(`pod ${w.name} assigned, starting`);
    void w.start();
    return;
  }
  w.update(pod);
  if (pod.metadata.deletionTimestamp) {
    const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    const worker = w;
    void worker.terminate(grace, true).then(() => workers.delete(uid));
  }
}

// All pods: those bound to our nodes drive the workers, all of them feed DNS records.
const podInformer = new Informer(client, '/api/v1/pods', (type, pod) => {
  onPod(type, pod);
  scheduleHosts();
}, log);
const serviceInformer = new Informer(client, '/api/v1/services', () => scheduleHosts(), log);

async function main(): Promise<void> {
  mkdirSync(paths.kubeletDir, { recursive: true });
  ensureBridge();
  for (;;) {
    try {
      for (const n of nodeNames) await registerNode(n);
      for (const n of nodeNames) await heartbeat(n);
      break;
    } catch (e) {
      log(`registration: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  setInterval(() => {
    for (const n of nodeNames) heartbeat(n).catch((e) => log(`heartbeat ${n}: ${(e as Error).message}`));
  }, 10_000);
  serviceInformer.start();
  podInformer.start();
  new Provisioner(client, log).start();
  log(`process kubelet running nodes ${nodeNames.join(', ')}; API ${netConfig.hostIP}:${ports.apiserver}`);
}

async function shutdown(): Promise<void> {
  log('shutting down: stopping pods');
  await Promise.all([...workers.values()].map((w) => w.terminate(2, false)));
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());

main().catch((e) => {
  log(`fatal: ${e instanceof ApiError ? e.message : (e as Error).stack}`);
  process.exit(1);
});

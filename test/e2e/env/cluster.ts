// Starts and stops the e2e environment: etcd (Debian package) or a 3-member
// Kvorum cluster as the store (store.ts),
// kube-apiserver, kube-controller-manager and kube-scheduler (built from the
// pinned Go modules), the process kubelet, and a MinIO S3 server. Processes run
// detached with logs under <state>/logs; their pids are kept in pids.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeClient, type KubeList } from '../kube/client.js';
import { compiledRoot, net, paths, ports, stateDir, storageClass, provisionerName, toolsScript } from './config.js';
import { ensurePki, identities, writeKubeconfig } from './pki.js';
import { isStoreCommand, prepareStore, storeKind, storeProcesses, storeProcessNames } from './store.js';
import { deletePodNetwork, ensureBridge, listPodNetns, removeBridge } from '../kubelet/netns.js';

export interface Tools {
  'kube-apiserver': string;
  'kube-controller-manager': string;
  'kube-scheduler': string;
  kubectl: string;
  helm: string;
  minio: string;
}

export interface S3Info {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

interface ProcEntry {
  name: string;
  pid: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (msg: string): void => {
  process.stderr.write(`[e2e] ${msg}\n`);
};

export const s3Port = Number(process.env.KVORUM_E2E_S3_PORT ?? 39000);
const s3InfoPath = join(stateDir, 's3.json');
const readyMarker = join(stateDir, 'ready');
// Several Nodes (all on this host) let workloads with hostname anti-affinity schedule.
const nodeCount = Number(process.env.KVORUM_E2E_NODES ?? 3);

/** Runs tools/build.sh (which builds only what is missing) and returns the binary paths. */
export function buildTools(): { tools: Tools; built: boolean; seconds: number } {
  const start = Date.now();
  const r = spawnSync('bash', [toolsScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  process.stderr.write(r.stderr);
  if (r.status !== 0) throw new Error(`tools/build.sh failed with ${r.status}`);
  const tools: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^([\w-]+)=(.+)$/.exec(line.trim());
    if (m) tools[m[1]] = m[2];
  }
  return { tools: tools as unknown as Tools, built: r.stderr.includes('] building '), seconds: (Date.now() - start) / 1000 };
}

export function readTools(): Tools {
  return JSON.parse(readFileSync(paths.tools, 'utf8')) as Tools;
}

export function readS3(): S3Info {
  return JSON.parse(readFileSync(s3InfoPath, 'utf8')) as S3Info;
}

function startProcess(name: string, cmd: string, args: string[], env: Record<string, string> = {}): ProcEntry {
  mkdirSync(paths.logs, { recursive: true });
  const fd = openSync(join(paths.logs, `${name}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  const entry = { name, pid: child.pid };
  const list = readPids();
  list.push(entry);
  writeFileSync(paths.pids, JSON.stringify(list, null, 2));
  return entry;
}

function readPids(): ProcEntry[] {
  try {
    return JSON.parse(readFileSync(paths.pids, 'utf8')) as ProcEntry[];
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function logTail(name: string): string {
  try {
    return readFileSync(join(paths.logs, `${name}.log`), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, proc?: ProcEntry): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  while (Date.now() < deadline) {
    if (proc && !alive(proc.pid)) throw new Error(`${proc.name} exited while waiting for ${what}:\n${logTail(proc.name)}`);
    try {
      if (await check()) return;
    } catch (e) {
      lastErr = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${lastErr}` : ''}${proc ? `\n${logTail(proc.name)}` : ''}`);
}

export const apiServerURL = `https://${net.hostIP}:${ports.apiserver}`;

/** True when a previous `up` is still running and answering. */
async function isUp(): Promise<boolean> {
  const pids = readPids();
  const expected = [...storeProcessNames(storeKind()), 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'minio'];
  if (!existsSync(readyMarker) || !expected.every((n) => pids.some((p) => p.name === n && alive(p.pid)))) return false;
  const client = KubeClient.fromKubeconfig(paths.kubeconfig);
  try {
    await client.get('/readyz');
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

export async function up(): Promise<{ seconds: number; built: boolean }> {
  const t0 = Date.now();
  if (await isUp()) {
    say(`environment already running in ${stateDir}`);
    return { seconds: (Date.now() - t0) / 1000, built: false };
  }
  // Leftovers of a crashed run would hold ports and namespaces.
  await down({ quiet: true });
  for (const tool of ['ip', 'openssl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} not found: apt-get install -y iproute2 openssl`);
  }
  const store = storeKind();
  prepareStore(store);
  const { tools, built, seconds: buildSeconds } = buildTools();
  say(`tools ready in ${buildSeconds.toFixed(1)}s${built ? ' (built)' : ' (cached)'}`);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(paths.tools, JSON.stringify(tools, null, 2));
  ensureBridge();
  ensurePki();
  const pki = paths.pki;
  const kc = (name: string): string => join(stateDir, `${name}.kubeconfig`);
  writeKubeconfig(paths.kubeconfig, identities.admin, apiServerURL);
  writeKubeconfig(kc('controller-manager'), identities.controllerManager, apiServerURL);
  writeKubeconfig(kc('scheduler'), identities.scheduler, apiServerURL);
  writeKubeconfig(kc('kubelet'), identities.kubelet, apiServerURL);

  const members = storeProcesses(store).map((p) => ({ ...p, proc: startProcess(p.name, p.cmd, p.args) }));
  for (const m of members) await waitFor(`${m.name} /health`, 60_000, async () => (await fetch(`${m.clientURL}/health`)).ok, m.proc);
  say(`store: ${store} (${members.length} member${members.length > 1 ? 's' : ''})`);

  const apiserver = startProcess('kube-apiserver', tools['kube-apiserver'], [
    `--etcd-servers=${members.map((m) => m.clientURL).join(',')}`,
    `--bind-address=${net.hostIP}`,
    `--advertise-address=${net.hostIP}`,
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${join(pki, 'generated')}`,
    `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
    `--client-ca-file=${join(pki, 'ca.crt')}`,
    `--kubelet-client-certificate=${join(pki, 'apiserver-kubelet-client.crt')}`,
    `--kubelet-client-key=${join(pki, 'apiserver-kubelet-client.key')}`,
    '--authorization-mode=Node,RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
    `--service-cluster-ip-range=${net.serviceCIDR}`,
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
  ]);
  const admin = KubeClient.fromKubeconfig(paths.kubeconfig);
  try {
    await waitFor('kube-apiserver /readyz', 90_000, async () => (await admin.request('GET', '/readyz').then(() => true)), apiserver);
    say(`kube-apiserver ready at ${apiServerURL} after ${((Date.now() - t0) / 1000).toFixed(1)}s`);

    startProcess('kube-controller-manager', tools['kube-controller-manager'], [
      `--kubeconfig=${kc('controller-manager')}`,
      '--leader-elect=false',
      '--secure-port=0',
      `--service-account-private-key-file=${join(pki, 'sa.key')}`,
      `--root-ca-file=${join(pki, 'ca.crt')}`,
      '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${join(pki, 'ca.crt')}`,
      `--cluster-signing-key-file=${join(pki, 'ca.key')}`,
      `--service-cluster-ip-range=${net.serviceCIDR}`,
      '--controllers=*',
      '--v=1',
    ]);
    // A pod found unschedulable (its claim not bound yet) waits for a cluster
    // event to be retried; if that requeue is missed it waits this long
    // (default 5 minutes, longer than a test's patience).
    startProcess('kube-scheduler', tools['kube-scheduler'], [
      `--kubeconfig=${kc('scheduler')}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--pod-max-in-unschedulable-pods-duration=10s',
      '--v=1',
    ]);
    startProcess('kubelet', process.execPath, [join(compiledRoot, 'kubelet', 'main.js'), '--kubeconfig', kc('kubelet'), '--nodes', String(nodeCount)]);

    const s3 = { endpoint: `http://${net.hostIP}:${s3Port}`, accessKeyId: 'kvorum-e2e', secretAccessKey: 'kvorum-e2e-secret-key', region: 'us-east-1' };
    writeFileSync(s3InfoPath, JSON.stringify(s3, null, 2));
    const minioData = join(stateDir, 'minio');
    mkdirSync(minioData, { recursive: true });
    const minio = startProcess('minio', tools.minio, ['server', '--quiet', '--address', `${net.hostIP}:${s3Port}`, '--console-address', `${net.hostIP}:${s3Port + 1}`, minioData], {
      MINIO_ROOT_USER: s3.accessKeyId,
      MINIO_ROOT_PASSWORD: s3.secretAccessKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
    });

    await admin.ensure('/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: storageClass, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: provisionerName,
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'Immediate',
    });
    await waitFor('a Ready node', 60_000, async () => {
      const nodes = await admin.get<KubeList>('/api/v1/nodes');
      return nodes.items.some((n) => (n.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'));
    });
    await waitFor('the default ServiceAccount', 60_000, async () => (await admin.find('/api/v1/namespaces/default/serviceaccounts/default')) !== undefined);
    await waitFor('MinIO', 60_000, async () => (await fetch(`${s3.endpoint}/minio/health/ready`)).ok, minio);
  } finally {
    admin.close();
  }
  const seconds = (Date.now() - t0) / 1000;
  writeFileSync(readyMarker, `${new Date().toISOString()}\n`);
  say(`environment ready in ${seconds.toFixed(1)}s (state ${stateDir})`);
  return { seconds, built };
}

/** Processes started by this environment: the pid list plus any process whose command line names the state directory. */
function ourProcesses(): ProcEntry[] {
  const out = new Map<number, ProcEntry>();
  for (const p of readPids()) if (alive(p.pid)) out.set(p.pid, p);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const argv = cmd.split('\0');
      const prog = argv[0].split('/').pop() ?? '';
      const store = isStoreCommand(argv);
      const ours = store || ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'minio'].includes(prog) || (prog === 'node' && (argv[1] ?? '').endsWith(join('kubelet', 'main.js')));
      if (ours && cmd.includes(`${stateDir}/`) && !out.has(Number(entry))) out.set(Number(entry), { name: store ? 'store' : prog === 'node' ? 'kubelet' : prog, pid: Number(entry) });
    } catch {
      // exited
    }
  }
  return [...out.values()];
}

export async function down(opts: { quiet?: boolean } = {}): Promise<void> {
  const procs = ourProcesses();
  // The kubelet first, so it can stop its pods.
  const kubelet = procs.filter((p) => p.name === 'kubelet');
  for (const p of kubelet) process.kill(p.pid, 'SIGTERM');
  for (let i = 0; i < 40 && kubelet.some((p) => alive(p.pid)); i++) await sleep(250);
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  for (let i = 0; i < 40 && procs.some((p) => alive(p.pid)); i++) await sleep(250);
  for (const p of procs) {
    if (alive(p.pid)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const ns of listPodNetns()) deletePodNetwork(ns);
  removeBridge();
  rmSync(stateDir, { recursive: true, force: true });
  if (!opts.quiet) say(`environment stopped, ${stateDir} removed`);
}

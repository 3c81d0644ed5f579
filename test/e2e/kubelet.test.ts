// Behaviour of the process kubelet that the operator relies on beyond the
// smoke suite: Secret/ConfigMap env and volumes, init containers, exec
// probes, restarts with back-off, Jobs, and in-cluster API access with the
// pod's service-account token.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { KubeClient, type KubeObject } from './kube/client.js';
import { paths, repoRoot } from './env/config.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

describe('process kubelet', () => {
  let client: KubeClient;
  const ns = `kubelet-${randomBytes(3).toString('hex')}`;
  const pods = `/api/v1/namespaces/${ns}/pods`;

  before(async () => {
    client = KubeClient.fromKubeconfig(process.env.KUBECONFIG ?? paths.kubeconfig);
    await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });
  after(async () => {
    await client.delete(`/api/v1/namespaces/${ns}`);
    client.close();
  });

  const getPod = (name: string): Promise<KubeObject | undefined> => client.find(`${pods}/${name}`);

  test('Secret and ConfigMap reach env and mounted files; init containers run first; exec probes gate readiness', async () => {
    const secretValue = randomBytes(8).toString('hex');
    await client.create(`/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'tls' },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': 'CERT', 'tls.key': secretValue },
    });
    await client.create(`/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { mode: 'strict' } });
    await client.create(pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: {
        volumes: [
          { name: 'tls', secret: { secretName: 'tls' } },
          { name: 'work', emptyDir: {} },
        ],
        initContainers: [
          { name: 'prepare', image: 'busybox', command: ['sh', '-c', 'echo prepared-by-init > /scratch/init.txt'], volumeMounts: [{ name: 'work', mountPath: '/scratch' }] },
        ],
        containers: [
          {
            name: 'web',
            image: 'kvorum-e2e/http-echo',
            env: [
              { name: 'KEY_FROM_SECRET', valueFrom: { secretKeyRef: { name: 'tls', key: 'tls.key' } } },
              { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'mode' } } },
              { name: 'DERIVED', value: 'mode-$(MODE)' },
            ],
            readinessProbe: { exec: { command: ['sh', '-c', 'test -f /scratch/init.txt && test -f /etc/kvorum/tls/tls.crt'] }, periodSeconds: 1 },
            volumeMounts: [
              { name: 'tls', mountPath: '/etc/kvorum/tls', readOnly: true },
              { name: 'work', mountPath: '/scratch' },
            ],
          },
        ],
      },
    });
    const pod = await eventually('web ready', 60_000, async () => {
      const p = await getPod('web');
      return p?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') && p;
    });
    assert.equal(pod.status.initContainerStatuses[0].state.terminated.exitCode, 0);
    const base = `http://${pod.status.podIP}:8080`;
    const env = (await (await fetch(`${base}/env`)).json()) as Record<string, string>;
    assert.equal(env.KEY_FROM_SECRET, secretValue);
    assert.equal(env.DERIVED, 'mode-strict');
    assert.equal(await (await fetch(`${base}/file?path=/etc/kvorum/tls/tls.key`)).text(), secretValue);
    assert.equal(await (await fetch(`${base}/file?path=/scratch/init.txt`)).text(), 'prepared-by-init\n');
    // A Secret update reaches the mounted files without a restart.
    const rotated = randomBytes(8).toString('hex');
    await client.mergePatch(`/api/v1/namespaces/${ns}/secrets/tls`, { stringData: { 'tls.key': rotated } });
    await eventually('rotated key visible in the pod', 40_000, async () => (await (await fetch(`${base}/file?path=/etc/kvorum/tls/tls.key`)).text()) === rotated);
    // The TLS volume is read-only inside the pod.
    const write = await fetch(`${base}/file?path=/etc/kvorum/tls/other`, { method: 'PUT', body: 'x' });
    assert.equal(write.status, 502);
  });

  test('replicas with required hostname anti-affinity spread over the Nodes and hold Leases', async () => {
    const nodes = await client.get<{ items: KubeObject[] }>('/api/v1/nodes');
    assert.ok(nodes.items.length >= 3, `at least 3 nodes, got ${nodes.items.length}`);
    for (const n of nodes.items) {
      const lease = await client.get(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n.metadata.name}`);
      const age = Date.now() - Date.parse(lease.spec.renewTime);
      assert.ok(age < 30_000, `lease of ${n.metadata.name} renewed ${age}ms ago`);
    }
    await client.create(`/apis/apps/v1/namespaces/${ns}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'spread' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'spread' } },
        template: {
          metadata: { labels: { app: 'spread' } },
          spec: {
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'spread' } } }],
              },
            },
            containers: [{ name: 'echo', image: 'kvorum-e2e/http-echo' }],
          },
        },
      },
    });
    const dep = await eventually('deployment available', 60_000, async () => {
      const d = await client.get(`/apis/apps/v1/namespaces/${ns}/deployments/spread`);
      return d.status?.readyReplicas === 3 && d;
    });
    assert.equal(dep.status.availableReplicas, 3);
    const list = await client.get<{ items: KubeObject[] }>(`${pods}?labelSelector=app%3Dspread`);
    assert.equal(new Set(list.items.map((p) => p.spec.nodeName)).size, 3, 'one replica per node');
  });

  test('a crashing container is restarted with back-off and reported as CrashLoopBackOff', async () => {
    await client.create(pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'crash' },
      spec: { containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 3'] }] },
    });
    const pod = await eventually('two restarts', 60_000, async () => {
      const p = await getPod('crash');
      return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2 && p;
    });
    const cs = pod.status.containerStatuses[0];
    assert.equal(pod.status.phase, 'Running');
    assert.equal(cs.lastState.terminated?.exitCode ?? cs.state.terminated?.exitCode, 3);
    await eventually('CrashLoopBackOff reported', 30_000, async () => {
      const p = await getPod('crash');
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff';
    });
  });

  test('the kvorum image runs the repository CLI', { skip: existsSync(join(repoRoot, 'dist', 'bin', 'main.js')) ? false : 'dist/ not built (npm run build)' }, async () => {
    await client.create(pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'kvorum-version' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'kvorum', image: 'ghcr.io/kvorum/kvorum:dev', args: ['version'] }] },
    });
    const pod = await eventually('kvorum pod finished', 60_000, async () => {
      const p = await getPod('kvorum-version');
      return (p?.status?.phase === 'Succeeded' || p?.status?.phase === 'Failed') && p;
    });
    assert.equal(pod.status.phase, 'Succeeded');
    assert.equal(pod.status.containerStatuses[0].state.terminated.exitCode, 0);
    const log = readFileSync(join(paths.kubeletDir, 'pods', pod.metadata.uid as string, 'logs', 'kvorum.log'), 'utf8');
    assert.match(log, /^kvorum \S+/m);
  });

  test('a Job whose pod talks to the API server with in-cluster config completes', async () => {
    // The pod finds the API server by DNS name and authenticates with its projected token.
    const script = [
      "const fs=require('fs');const https=require('https');",
      "const d='/var/run/secrets/kubernetes.io/serviceaccount/';",
      "const host=process.env.KUBERNETES_SERVICE_HOST, port=process.env.KUBERNETES_SERVICE_PORT;",
      "if(!host||!port)process.exit(4);",
      "const req=https.get({host:'kubernetes.default.svc',port,path:'/version',ca:fs.readFileSync(d+'ca.crt'),",
      "headers:{Authorization:'Bearer '+fs.readFileSync(d+'token','utf8')}},res=>{let b='';res.on('data',c=>b+=c);",
      "res.on('end',()=>{const ok=res.statusCode===200&&JSON.parse(b).major==='1'&&fs.readFileSync(d+'namespace','utf8')===process.env.NS;process.exit(ok?0:5)})});",
      'req.on("error",e=>{console.error(e);process.exit(6)});',
    ].join('');
    await client.create(`/apis/batch/v1/namespaces/${ns}/jobs`, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'incluster' },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            containers: [
              {
                name: 'check',
                image: 'node:20',
                command: ['node', '-e', script],
                env: [{ name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
              },
            ],
          },
        },
      },
    });
    const job = await eventually('job finished', 90_000, async () => {
      const j = await client.get(`/apis/batch/v1/namespaces/${ns}/jobs/incluster`);
      return ((j.status?.succeeded ?? 0) > 0 || (j.status?.failed ?? 0) > 0) && j;
    });
    assert.equal(job.status.succeeded, 1, `job status ${JSON.stringify(job.status)}`);
  });
});

// Smoke suite for the e2e environment: the control plane schedules and the
// process kubelet runs a StatefulSet whose pods find each other by DNS, keep
// their volume data across re-creation and disappear with their namespace;
// helm works against the API; the S3 server stores objects; a second start
// reuses the cached binaries.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { KubeClient, type KubeList, type KubeObject } from './kube/client.js';
import { compiledRoot, paths, repoRoot, subnetOctet } from './env/config.js';
import { readS3, readTools, type Tools } from './env/cluster.js';
import { netnsName } from './kubelet/netns.js';

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
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, KUBECONFIG: paths.kubeconfig, ...env }, timeout: 180_000 });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

const isReady = (p: KubeObject): boolean => (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');

describe('e2e smoke', () => {
  let client: KubeClient;
  let tools: Tools;
  const ns = `smoke-${randomBytes(3).toString('hex')}`;
  const podsPath = `/api/v1/namespaces/${ns}/pods`;

  before(() => {
    client = KubeClient.fromKubeconfig(process.env.KUBECONFIG ?? paths.kubeconfig);
    tools = readTools();
  });
  after(() => client.close());

  async function statefulPods(): Promise<KubeObject[]> {
    const list = await client.get<KubeList>(`${podsPath}?labelSelector=app%3Decho`);
    return list.items;
  }

  async function readyPods(n: number): Promise<KubeObject[]> {
    return eventually(`${n} ready echo pods`, 120_000, async () => {
      const pods = await statefulPods();
      return pods.length === n && pods.every((p) => p.status?.phase === 'Running' && isReady(p) && !p.metadata.deletionTimestamp) && pods;
    });
  }

  const pod = (pods: KubeObject[], name: string): KubeObject => {
    const p = pods.find((x) => x.metadata.name === name);
    assert.ok(p, `pod ${name} exists`);
    return p;
  };

  test('a headless Service and a 3-replica StatefulSet become Running and Ready', async () => {
    await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await client.create(`/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo' },
      spec: { clusterIP: 'None', selector: { app: 'echo' }, ports: [{ name: 'http', port: 8080 }] },
    });
    await client.create(`/apis/apps/v1/namespaces/${ns}/statefulsets`, {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'echo' },
      spec: {
        serviceName: 'echo',
        replicas: 3,
        podManagementPolicy: 'Parallel',
        selector: { matchLabels: { app: 'echo' } },
        template: {
          metadata: { labels: { app: 'echo' } },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: 'echo',
                image: 'kvorum-e2e/http-echo:latest',
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                ],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
                livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 2, failureThreshold: 5 },
                volumeMounts: [{ name: 'data', mountPath: '/data' }],
              },
            ],
          },
        },
        volumeClaimTemplates: [
          { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
        ],
      },
    });
    const pods = await readyPods(3);
    const ips = pods.map((p) => p.status.podIP as string);
    assert.equal(new Set(ips).size, 3, `distinct pod IPs: ${ips.join(', ')}`);
    for (const p of pods) {
      assert.ok(p.status.podIP.startsWith(`10.${subnetOctet}.`), `pod IP ${p.status.podIP} in the pod range`);
      assert.ok(p.status.hostIP, 'hostIP reported');
      assert.equal(p.status.containerStatuses[0].ready, true);
      assert.ok(p.status.containerStatuses[0].state.running, 'container running');
      const types = (p.status.conditions as { type: string; status: string }[]).filter((c) => c.status === 'True').map((c) => c.type);
      for (const t of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) assert.ok(types.includes(t), `${p.metadata.name} has ${t}`);
      // The downward API reached the process.
      const info = (await (await fetch(`http://${p.status.podIP}:8080/`)).json()) as { pod: string; namespace: string; podIP: string };
      assert.deepEqual(info, { ...info, pod: p.metadata.name, namespace: ns, podIP: p.status.podIP });
    }
    const sts = await client.get(`/apis/apps/v1/namespaces/${ns}/statefulsets/echo`);
    assert.equal(sts.spec.replicas, 3);
  });

  test('each pod reaches the others by DNS name through the system resolver', async () => {
    const pods = await readyPods(3);
    for (const from of pods) {
      for (const to of pods) {
        if (to === from) continue;
        const url = `http://${to.metadata.name}.echo.${ns}.svc.cluster.local:8080/`;
        const res = await eventually(`${from.metadata.name} -> ${url}`, 30_000, async () => {
          const r = await fetch(`http://${from.status.podIP}:8080/fetch?url=${encodeURIComponent(url)}`);
          return r.status === 200 && ((await r.json()) as { pod: string });
        });
        assert.equal(res.pod, to.metadata.name);
      }
    }
    // Service names resolve to the ready pods' addresses.
    const first = pods[0];
    const svcIPs = await eventually('echo.<ns>.svc resolving to 3 addresses', 30_000, async () => {
      const r = await fetch(`http://${first.status.podIP}:8080/resolve?name=echo.${ns}.svc`);
      const ips = (await r.json()) as string[];
      return r.ok && ips.length === 3 && ips;
    });
    assert.deepEqual([...svcIPs].sort(), pods.map((p) => p.status.podIP as string).sort());
    // Any process in the pod's namespace sees the same names via getent (glibc NSS).
    const other = pods[1];
    const g = run('ip', ['netns', 'exec', netnsName(first.metadata.uid as string), 'getent', 'hosts', `${other.metadata.name}.echo.${ns}.svc.cluster.local`]);
    assert.equal(g.code, 0, g.err);
    assert.equal(g.out.split(/\s+/)[0], other.status.podIP);
    const k = run('ip', ['netns', 'exec', netnsName(first.metadata.uid as string), 'getent', 'hosts', 'kubernetes.default.svc.cluster.local']);
    assert.equal(k.code, 0, k.err);
  });

  test('kubectl get pods -o wide shows the pod addresses', async () => {
    const pods = await readyPods(3);
    const r = run(tools.kubectl, ['get', 'pods', '-n', ns, '-o', 'wide']);
    assert.equal(r.code, 0, r.err);
    process.stdout.write(r.out);
    for (const p of pods) {
      const line = r.out.split('\n').find((l) => l.startsWith(`${p.metadata.name} `));
      assert.ok(line, `row for ${p.metadata.name}`);
      assert.match(line, /\b1\/1\s+Running\b/);
      assert.ok(line.includes(p.status.podIP), `${p.metadata.name} shows ${p.status.podIP}`);
      assert.ok(line.includes(p.spec.nodeName), `${p.metadata.name} shows node ${p.spec.nodeName}`);
    }
  });

  test('a deleted pod is recreated with the same name and the same volume data', async () => {
    const before = pod(await readyPods(3), 'echo-0');
    const marker = randomBytes(16).toString('hex');
    const put = await fetch(`http://${before.status.podIP}:8080/file?path=/data/marker`, { method: 'PUT', body: marker });
    assert.equal(put.status, 204);
    // The container path /data is the claim's directory on the host.
    const pvc = await client.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-echo-0`);
    const pv = await client.get(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
    assert.equal(readFileSync(join(pv.spec.hostPath.path, 'marker'), 'utf8'), marker);
    await client.delete(`${podsPath}/echo-0`);
    const after = await eventually('echo-0 recreated and ready', 120_000, async () => {
      const p = await client.find(`${podsPath}/echo-0`);
      return p && p.metadata.uid !== before.metadata.uid && p.status?.phase === 'Running' && isReady(p) && p;
    });
    assert.notEqual(after.metadata.uid, before.metadata.uid);
    const read = await fetch(`http://${after.status.podIP}:8080/file?path=/data/marker`);
    assert.equal(read.status, 200);
    assert.equal(await read.text(), marker);
    // The old pod's processes and network namespace are gone.
    assert.equal(existsSync(`/run/netns/${netnsName(before.metadata.uid as string)}`), false);
  });

  test('deleting the namespace removes the processes and the volumes', async () => {
    const pods = await readyPods(3);
    const pvs = await client.get<KubeList>('/api/v1/persistentvolumes');
    const ours = pvs.items.filter((pv) => pv.spec.claimRef?.namespace === ns);
    assert.equal(ours.length, 3, 'one volume per replica');
    const dirs = ours.map((pv) => pv.spec.hostPath.path as string);
    for (const d of dirs) assert.ok(existsSync(d), `${d} exists before`);
    await client.delete(`/api/v1/namespaces/${ns}`);
    await eventually(`namespace ${ns} gone`, 180_000, async () => (await client.find(`/api/v1/namespaces/${ns}`)) === undefined);
    for (const p of pods) {
      const netns = netnsName(p.metadata.uid as string);
      assert.equal(existsSync(`/run/netns/${netns}`), false, `${netns} removed`);
      const probe = await fetch(`http://${p.status.podIP}:8080/`, { signal: AbortSignal.timeout(2000) }).then(
        () => 'answered',
        () => 'unreachable',
      );
      assert.equal(probe, 'unreachable', `${p.metadata.name} no longer serving`);
    }
    await eventually('volumes reclaimed', 60_000, async () => {
      const now = await client.get<KubeList>('/api/v1/persistentvolumes');
      return now.items.every((pv) => pv.spec.claimRef?.namespace !== ns) && dirs.every((d) => !existsSync(d));
    });
  });

  test('helm lint, template and install a chart', async () => {
    const chart = join(repoRoot, 'test', 'e2e', 'fixtures', 'smoke-chart');
    const lint = run(tools.helm, ['lint', chart]);
    assert.equal(lint.code, 0, lint.out + lint.err);
    const tpl = run(tools.helm, ['template', 'demo', chart, '--set', 'greeting=templated']);
    assert.equal(tpl.code, 0, tpl.err);
    assert.match(tpl.out, /kind: Deployment/);
    assert.match(tpl.out, /greeting: "templated"/);
    const helmNs = `helm-${randomBytes(3).toString('hex')}`;
    const inst = run(tools.helm, ['install', 'demo', chart, '-n', helmNs, '--create-namespace', '--wait', '--timeout', '2m']);
    assert.equal(inst.code, 0, inst.out + inst.err);
    assert.match(inst.out, /STATUS: deployed/);
    const dep = await client.get(`/apis/apps/v1/namespaces/${helmNs}/deployments/demo-echo`);
    assert.equal(dep.status.readyReplicas, 1);
    const pods = await client.get<KubeList>(`/api/v1/namespaces/${helmNs}/pods`);
    const env = (await (await fetch(`http://${pods.items[0].status.podIP}:8080/env`)).json()) as Record<string, string>;
    assert.equal(env.GREETING, 'hello from helm');
    assert.equal(env.KUBERNETES_SERVICE_PORT !== undefined, true);
    const list = run(tools.helm, ['list', '-n', helmNs, '-o', 'json']);
    assert.equal((JSON.parse(list.out) as { name: string; status: string }[])[0].status, 'deployed');
    const un = run(tools.helm, ['uninstall', 'demo', '-n', helmNs, '--wait']);
    assert.equal(un.code, 0, un.err);
    await client.delete(`/api/v1/namespaces/${helmNs}`);
  });

  test('an object written to the S3 server reads back byte for byte', async () => {
    const info = readS3();
    const s3 = new S3Client({
      endpoint: info.endpoint,
      region: info.region,
      forcePathStyle: true,
      credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    });
    try {
      const bucket = `smoke-${randomBytes(4).toString('hex')}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const body = randomBytes(3 * 1024 * 1024 + 17);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'backups/blob.bin', Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'backups/blob.bin' }));
      const back = Buffer.from(await got.Body!.transformToByteArray());
      assert.equal(back.length, body.length);
      assert.ok(back.equals(body), 'same bytes');
    } finally {
      s3.destroy();
    }
  });

  test('a second e2e:up reuses the built binaries and is ready in under a minute', () => {
    const cli = join(compiledRoot, 'env', 'cli.js');
    const down = run(process.execPath, [cli, 'down']);
    assert.equal(down.code, 0, down.err);
    assert.equal(existsSync(paths.kubeconfig), false, 'state removed by down');
    const start = Date.now();
    const upAgain = run(process.execPath, [cli, 'up']);
    const seconds = (Date.now() - start) / 1000;
    process.stdout.write(`# second e2e:up took ${seconds.toFixed(1)}s\n`);
    assert.equal(upAgain.code, 0, upAgain.err);
    assert.match(upAgain.err, /tools ready in [\d.]+s \(cached\)/);
    assert.doesNotMatch(upAgain.err, /\] building /);
    assert.ok(seconds < 60, `ready in ${seconds.toFixed(1)}s`);
    assert.ok(existsSync(paths.kubeconfig));
  });
});

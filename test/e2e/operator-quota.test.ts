// Acceptance (issue 10): a full quota is not a lost quorum. A 3-member
// cluster with a 16 MiB quota is filled until writes answer "database space
// exceeded". Every member stays Ready, so the client Service keeps serving;
// the KVCluster says NoSpace with the size and the quota (never QuorumLost),
// its members stay healthy, and an Event says how to recover. Through the
// client Service, reads, a delete, a compaction and `alarm disarm` work, and
// the cluster is Available again. The members serve their clients from
// client workers (nodeConfig.clientWorkers, issue 16), so all of this also
// runs through them, under the operator's TLS and client certificates.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dump as toYaml } from 'js-yaml';
import type { KubeClient, KubeList, KubeObject } from './kube/client.js';
import { readClientTLS, memberEndpoints, MemberClients, type ClientTLS } from './operator/etcd-client.js';
import { runEtcdctlPod } from './operator/etcdctl-pod.js';
import { installOperator, operatorLogs, uninstallOperator, type OperatorInstall } from './operator/install.js';
import { condition, kvcPath, summary, waitAvailable } from './operator/kvcluster.js';
import { createNamespace, deleteNamespace, eventually, isPodReady, kubeClient, kubectl, note } from './operator/util.js';

const NAME = 'full';
/** Each put rewrites one key with ~520 KiB, so the history fills 16 MiB in about 32 puts; compaction frees it all. */
const VALUE = 'v'.repeat(520 * 1024);
const MAX_FILL_PUTS = 100;

describe('a cluster filled to its quota', () => {
  let kube: KubeClient;
  let opNs: string;
  let ns: string;
  let op: OperatorInstall | undefined;
  let tls: ClientTLS;
  const logs = (): Promise<string> => (op ? operatorLogs(kube, op) : Promise.resolve(''));
  const kvEvents = async (): Promise<KubeObject[]> =>
    (await kube.get<KubeList>(`/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent(`involvedObject.kind=KVCluster,involvedObject.name=${NAME}`)}`)).items;

  before(async () => {
    kube = kubeClient();
    opNs = await createNamespace(kube, 'kvop-full');
    ns = await createNamespace(kube, 'kvc-full');
    op = await installOperator(kube, opNs, { sets: ['replicaCount=1'] });
    const kvc = { apiVersion: 'kvorum.io/v1alpha1', kind: 'KVCluster', metadata: { name: NAME }, spec: { replicas: 3, nodeConfig: { quotaBackendBytes: '16Mi', clientWorkers: 2 } } };
    const r = await kubectl(['apply', '-n', ns, '-f', '-'], toYaml(kvc));
    assert.equal(r.code, 0, r.err);
    await waitAvailable(kube, ns, NAME, 3, 240_000, logs);
    tls = await readClientTLS(kube, ns, `${NAME}-client-tls`);
    const sts = await kube.get<{ spec: { template: { spec: { containers: { name: string; args?: string[] }[] } } } }>(`/apis/apps/v1/namespaces/${ns}/statefulsets/${NAME}`);
    const args = sts.spec.template.spec.containers.flatMap((c) => c.args ?? []);
    assert.ok(args.includes('--client-workers=2'), `the members run with client workers: ${args.join(' ')}`);
  });

  after(async () => {
    await kube.delete(kvcPath(ns, NAME)).catch(() => false);
    await eventually('KVCluster gone', 60_000, async () => (await kube.find(kvcPath(ns, NAME))) === undefined).catch(() => undefined);
    if (op) await uninstallOperator(op);
    await deleteNamespace(kube, ns);
    await deleteNamespace(kube, opNs);
    kube.close();
  });

  test('filled until writes are refused: NoSpace with size and quota, not a lost quorum; members stay Ready and healthy', async () => {
    const clients = new MemberClients(tls);
    let refusal = '';
    let puts = 0;
    try {
      const eps = await memberEndpoints(kube, ns, NAME);
      assert.equal(eps.length, 3);
      // Bounded in count (and each put by its deadline).
      for (; puts < MAX_FILL_PUTS && !refusal; puts++) {
        try {
          await clients.get(eps[puts % eps.length]!).put('fill/history', VALUE, 10_000);
        } catch (e) {
          if (/database space exceeded/.test((e as Error).message)) refusal = (e as Error).message;
          else throw e;
        }
      }
    } finally {
      clients.close();
    }
    note(`writes refused after ${puts} puts: ${refusal}`);
    assert.match(refusal, /database space exceeded/, `no refusal after ${puts} puts of ${VALUE.length} bytes`);

    let sawQuorumLost = '';
    // The alarm changes no Kubernetes object: a settled cluster is looked at again within the idle requeue (30 s).
    const kvc = await eventually(
      'Degraded NoSpace',
      90_000,
      async () => {
        const k = await kube.get(kvcPath(ns, NAME));
        for (const t of ['Available', 'Degraded']) if (condition(k, t)?.reason === 'QuorumLost' || condition(k, t)?.reason === 'NoQuorum') sawQuorumLost ||= summary(k);
        return condition(k, 'Degraded')?.reason === 'NoSpace' && k;
      },
      async () => `${await kube.get(kvcPath(ns, NAME)).then(summary)}\n${await logs()}`,
    );
    note(summary(kvc));
    const degraded = condition(kvc, 'Degraded')!;
    assert.equal(degraded.status, 'True');
    assert.match(degraded.message ?? '', /database size [\d.]+ MiB reached the quota of 16 MiB \(NOSPACE alarm\)/);
    const available = condition(kvc, 'Available')!;
    assert.deepEqual([available.status, available.reason], ['False', 'NoSpace']);
    assert.match(available.message ?? '', /3\/3 voting members healthy, leader full-\d/);
    assert.equal(condition(kvc, 'MembersHealthy')?.status, 'True');
    assert.equal(kvc.status.phase, 'Degraded');
    const members = kvc.status.members as { name: string; healthy: boolean; role: string }[];
    assert.deepEqual(members.map((m) => m.healthy), [true, true, true]);
    assert.equal(members.filter((m) => m.role === 'leader').length, 1);

    const events = await eventually('a NoSpace Event', 30_000, async () => {
      const e = (await kvEvents()).filter((x) => x.reason === 'NoSpace');
      return e.length > 0 && e;
    });
    assert.equal(events[0]!.type, 'Warning');
    assert.match(events[0]!.message as string, /etcdctl compact <revision>.*etcdctl alarm disarm/);

    // Ready for the client Service: the readiness probe ignores NOSPACE.
    const pods = await kube.get<KubeList>(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${NAME}`)}`);
    assert.deepEqual(pods.items.map((p) => `${p.metadata.name}:${isPodReady(p)}`).sort(), [0, 1, 2].map((i) => `${NAME}-${i}:true`));
    // Some passes later, still no quorum loss reported.
    await new Promise((r) => setTimeout(r, 6_000));
    const later = await kube.get(kvcPath(ns, NAME));
    for (const t of ['Available', 'Degraded']) if (['QuorumLost', 'NoQuorum'].includes(condition(later, t)?.reason ?? '')) sawQuorumLost ||= summary(later);
    assert.equal(sawQuorumLost, '', 'a full quota was reported as a lost quorum');
    assert.ok(!(await kvEvents()).some((e) => /^Quorum/.test(e.reason as string)), 'no quorum Events');
  });

  test('through the client Service: reads, a delete, compaction and alarm disarm work; the cluster is Available again', async () => {
    const script = [
      // A write is refused, and says why.
      'if out=$($ETCDCTL put probe before 2>&1); then echo "PUT accepted"; else echo "PUT refused: $(echo "$out" | tail -1)"; fi',
      'echo "GET $($ETCDCTL get fill/history --keys-only)"',
      'echo "ALARMS $($ETCDCTL alarm list)"',
      'echo "DEL $($ETCDCTL del fill/history)"',
      'rev=$($ETCDCTL get probe -w json | sed -n \'s/.*"revision":\\([0-9]*\\).*/\\1/p\')',
      'echo "COMPACT $($ETCDCTL compact $rev)"',
      '$ETCDCTL alarm disarm >/dev/null',
      'echo "ALARMS-AFTER [$($ETCDCTL alarm list)]"',
      'echo "PUT-AFTER $($ETCDCTL put probe after)"',
      'echo "GET-AFTER $($ETCDCTL get probe --print-value-only)"',
    ].join('\n');
    const r = await runEtcdctlPod(kube, { namespace: ns, endpoint: `https://${NAME}-client.${ns}.svc:2379`, tlsSecret: `${NAME}-client-tls`, script });
    note(`etcdctl through ${NAME}-client:\n${r.log}`);
    assert.equal(r.exitCode, 0, r.log);
    const line = (tag: string): string => r.log.split('\n').find((l) => l.startsWith(`${tag} `)) ?? `(no ${tag} line)`;
    assert.match(line('PUT'), /^PUT refused: .*database space exceeded/);
    assert.equal(line('GET'), 'GET fill/history');
    assert.match(line('ALARMS'), /alarm:NOSPACE/);
    assert.equal(line('DEL'), 'DEL 1');
    assert.match(line('COMPACT'), /^COMPACT compacted revision \d+$/);
    assert.equal(line('ALARMS-AFTER'), 'ALARMS-AFTER []');
    assert.equal(line('PUT-AFTER'), 'PUT-AFTER OK');
    assert.equal(line('GET-AFTER'), 'GET-AFTER after');

    const kvc = await waitAvailable(kube, ns, NAME, 3, 60_000, logs);
    assert.equal(kvc.status.phase, 'Available');
    assert.equal(condition(kvc, 'Degraded')?.status, 'False');
  });
});

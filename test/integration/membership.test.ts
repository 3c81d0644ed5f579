// Growing and shrinking a live cluster with etcdctl, as an operator would:
// add a learner, start it with --initial-cluster-state=existing, let it catch
// up, promote it, then remove a member.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ProcessCluster, freePort, requireTools, type ProcessMember } from './process-cluster.js';

describe('membership changes on a live cluster', () => {
  // npm test provides them (scripts/etcd-tools.sh); a run without them fails rather than skips.
  before(() => requireTools('etcdctl'));
  let c: ProcessCluster;
  before(async () => {
    c = await ProcessCluster.create('kvorum', 3);
    await c.startAll();
  });
  after(() => c?.destroy());

  test('add a learner, start it, promote it once caught up, then remove it', async () => {
    for (let i = 0; i < 50; i++) c.ctl(['put', `pre/${i}`, `${i}`]);
    const m4: ProcessMember = {
      name: 'm4',
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(c.root, 'm4'),
      log: [],
    };
    const add = c.ctl(['member', 'add', 'm4', `--peer-urls=${m4.peerUrl}`, '--learner']);
    const id = /Member\s+([0-9a-f]+) added/.exec(add)?.[1];
    assert.ok(id, add);
    c.members.push(m4);
    c.start(m4, 'existing');
    await c.waitHealthy(30000, [m4]);
    // The learner serves the data it replicated (serializable read, locally).
    let replicated = 0;
    for (let attempt = 0; attempt < 100 && replicated < 50; attempt++) {
      const local = c.ctl(['get', 'pre/', '--prefix', '--keys-only', '--consistency=s', '-w', 'json'], { endpoints: m4.clientUrl });
      replicated = (JSON.parse(local) as { kvs?: unknown[] }).kvs?.length ?? 0;
      if (replicated < 50) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(replicated, 50, 'the learner replicated every key');
    let promoted = '';
    for (let attempt = 0; attempt < 50 && !promoted; attempt++) {
      const r = c.etcdctl(['member', 'promote', id]);
      if (r.status === 0) promoted = r.stdout;
      else await new Promise((res) => setTimeout(res, 200));
    }
    assert.match(promoted, new RegExp(`Member\\s+${id} promoted in cluster`));
    const list = c.ctl(['member', 'list']);
    assert.match(list, new RegExp(`${id}, started, m4, ${m4.peerUrl}, ${m4.clientUrl}, false`));
    // Four voters now; remove the new one again and the cluster keeps serving.
    assert.match(c.ctl(['member', 'remove', id], { endpoints: c.members.slice(0, 3).map((m) => m.clientUrl).join(',') }), /removed from cluster/);
    await c.kill(m4, 'SIGTERM');
    c.members.pop();
    assert.equal(c.ctl(['put', 'after', 'removal']).trim(), 'OK');
    assert.equal(c.ctl(['member', 'list']).trim().split('\n').length, 3);
  });
});

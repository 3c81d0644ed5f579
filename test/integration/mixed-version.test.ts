// A cluster of the previous release (test/previous-release.json, built from
// this repository's history by scripts/build-previous-release.sh) and this
// one, in both mixes (1 old + 2 new, 2 old + 1 new): writes, watches and
// leases work across them, the cluster keeps the entry format the old members
// read, and raises it once every member runs this release.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { KVORUM_VERSION } from '../../contract/version.js';
import { MAX_ENTRY_FORMAT } from '../../node/server/entry-format.js';
import { ProcessCluster, requireTools, type ProcessMember } from './process-cluster.js';

function buildPrevious(): string {
  return execFileSync('bash', ['scripts/build-previous-release.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 }).trim();
}

async function metric(c: ProcessCluster, m: ProcessMember, name: string): Promise<string | undefined> {
  const body = (await c.httpGet(`${m.clientUrl}/metrics`)).body;
  return body.split('\n').find((l) => l.startsWith(name))?.split(' ').pop();
}

// One cluster per mix: `old` members of the previous release, the rest this one.
for (const old of [1, 2]) {
  const fresh = 3 - old;
  describe(`mixed-version cluster: ${old} old + ${fresh} new`, () => {
    let c: ProcessCluster;
    before(async () => {
      requireTools('etcdctl');
      const previous = buildPrevious();
      c = await ProcessCluster.create('kvorum', 3);
      for (const m of c.members.slice(0, old)) m.build = previous;
      await c.startAll();
    });
    after(async () => {
      await c?.destroy();
    });

    test(`${old} old + ${fresh} new: writes, a watch and a lease work; the cluster stays on entry format 1 (auth writes refused); all new raises it to the newest`, async (t) => {
      const olds = c.members.slice(0, old);
      const news = c.members.slice(old);
      const versions = await Promise.all(c.members.map(async (m) => JSON.parse((await c.httpGet(`${m.clientUrl}/version`)).body) as { kvorum?: string }));
      assert.deepEqual(
        versions.map((v) => v.kvorum),
        c.members.map((m) => (olds.includes(m) ? undefined : KVORUM_VERSION)),
        'the previous release has no "kvorum" field',
      );

      const watch = spawn('etcdctl', [`--endpoints=${c.members.map((m) => m.clientUrl.replace(/^https?:\/\//, '')).join(',')}`, 'watch', 'mixed/', '--prefix'], { env: { ...process.env, ETCDCTL_API: '3' } });
      t.after(() => watch.kill());
      let watched = '';
      watch.stdout.on('data', (d: Buffer) => (watched += d.toString()));
      await new Promise((r) => setTimeout(r, 500));
      const lease = /lease ([0-9a-f]+) granted/.exec(c.ctl(['lease', 'grant', '60']))![1]!;
      for (const m of c.members) {
        const ep = m.clientUrl.replace(/^https?:\/\//, '');
        c.ctl(['put', `mixed/${m.name}`, `via-${m.name}`], { endpoints: ep });
        c.ctl(['put', `mixed/leased-${m.name}`, 'x', `--lease=${lease}`], { endpoints: ep });
        c.ctl(['txn'], { endpoints: ep, input: `\nput mixed/txn-${m.name} t\n\n\n` });
      }
      for (const m of c.members) {
        const got = c.ctl(['get', 'mixed/', '--prefix', '--keys-only', '--consistency=s'], { endpoints: m.clientUrl.replace(/^https?:\/\//, '') });
        assert.equal(got.split('\n').filter(Boolean).length, 9, `${m.name} holds every key:\n${got}`);
      }
      c.ctl(['lease', 'revoke', lease]);
      const left = c.ctl(['get', 'mixed/', '--prefix', '--keys-only']).split('\n').filter(Boolean);
      assert.equal(left.length, 6, 'the lease revoked its keys on every release');
      await new Promise((r) => setTimeout(r, 500));
      watch.kill();
      assert.equal((watched.match(/^PUT$/gm) ?? []).length, 9, `the watch saw every put:\n${watched}`);
      assert.equal((watched.match(/^DELETE$/gm) ?? []).length, 3, 'and every deletion by the lease');
      for (const m of news) assert.equal(await metric(c, m, 'kvorum_cluster_entry_format'), '1', `${m.name}: an old member holds the format at 1`);
      // Auth changes need entry format 4: a new member refuses them clearly while an old one could not apply them.
      const refused = c.etcdctl(['user', 'add', 'carol:pw'], { endpoints: news[0]!.clientUrl });
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /the Auth API needs every member at entry format 4 or later \(the cluster is at 1\)/);

      // The old members upgraded in place, one at a time: the leader raises the format once the last is new; everyone applies it.
      for (const m of olds) {
        await c.kill(m, 'SIGTERM');
        delete m.build;
        c.start(m, 'existing');
        await c.waitHealthy(20_000, [m]);
      }
      const deadline = Date.now() + 10_000;
      for (const m of c.members) {
        const newest = String(MAX_ENTRY_FORMAT);
        while ((await metric(c, m, 'kvorum_cluster_entry_format')) !== newest && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.equal(await metric(c, m, 'kvorum_cluster_entry_format'), newest, `${m.name} switched to entry format ${newest}`);
      }
      c.ctl(['put', 'mixed/after', 'upgrade']);
      // Now every member applies auth entries.
      c.ctl(['user', 'add', 'carol:pw']);
      for (const m of c.members) assert.match(c.ctl(['user', 'list'], { endpoints: m.clientUrl }), /^carol$/m, `${m.name} has the user`);
      c.ctl(['del', 'mixed/after']);
      for (const m of c.members) {
        const got = c.ctl(['get', 'mixed/', '--prefix', '--keys-only', '--consistency=s'], { endpoints: m.clientUrl.replace(/^https?:\/\//, '') });
        assert.equal(got.split('\n').filter(Boolean).length, 6, `${m.name} after the upgrade:\n${got}`);
      }
    });
  });
}

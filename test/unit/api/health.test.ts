// etcd 3.5's health semantics against a scripted member: which checks each
// endpoint runs, what excludes and serializable change, and the exact
// bodies, status codes and metrics etcd answers with.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import express from 'express';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { CHECKS, checkLines, legacyHealth, runChecks, selectChecks, type HealthSource } from '../../../node/api/health.js';
import { healthRoutes } from '../../../node/api/health-routes.js';

/** A member whose state the test sets; reads fail with the given messages. */
class FakeMember implements HealthSource {
  alarmNames: string[] = [];
  leaderId = 1;
  learner = false;
  linearizableFailure: string | undefined;
  serializableFailure: string | undefined;
  reads: boolean[] = [];

  alarms(): { alarm: string }[] {
    return this.alarmNames.map((alarm) => ({ alarm }));
  }
  leader(): number {
    return this.leaderId;
  }
  isLearner(): boolean {
    return this.learner;
  }
  async read(serializable: boolean): Promise<void> {
    this.reads.push(serializable);
    const failure = serializable ? this.serializableFailure : this.linearizableFailure;
    if (failure) throw new Error(failure);
  }
}

describe('health checks', () => {
  test('the endpoints run etcd 3.5’s checks: livez a local read, readyz corruption, both reads and learner', () => {
    assert.deepEqual(CHECKS.livez, ['serializable_read']);
    assert.deepEqual(CHECKS.readyz, ['data_corruption', 'serializable_read', 'linearizable_read', 'non_learner']);
  });

  test('NOSPACE makes /health fail but neither /readyz nor /livez', async () => {
    const m = new FakeMember();
    m.alarmNames = ['NOSPACE'];
    assert.deepEqual(await legacyHealth(m), { health: 'false', reason: 'ALARM NOSPACE' });
    assert.deepEqual(await legacyHealth(m, { exclude: ['NOSPACE'] }), { health: 'true', reason: '' });
    assert.equal((await runChecks(m, CHECKS.readyz)).ok, true);
    assert.equal((await runChecks(m, CHECKS.livez)).ok, true);
  });

  test('CORRUPT makes /health and /readyz fail, not /livez; an excluded CORRUPT still fails /readyz unless data_corruption is excluded', async () => {
    const m = new FakeMember();
    m.alarmNames = ['CORRUPT'];
    assert.deepEqual(await legacyHealth(m), { health: 'false', reason: 'ALARM CORRUPT' });
    assert.deepEqual(await legacyHealth(m, { exclude: ['CORRUPT'] }), { health: 'true', reason: '' });
    const ready = await runChecks(m, CHECKS.readyz);
    assert.equal(ready.ok, false);
    assert.deepEqual(ready.results[0], { name: 'data_corruption', failure: 'alarm activated: CORRUPT' });
    assert.equal((await runChecks(m, selectChecks('readyz', ['data_corruption']).names)).ok, true);
    assert.equal((await runChecks(m, CHECKS.livez)).ok, true);
  });

  test('/health reports the first alarm that is not excluded, and an unknown alarm as ALARM UNKNOWN', async () => {
    const m = new FakeMember();
    m.alarmNames = ['NOSPACE', 'CORRUPT'];
    assert.equal((await legacyHealth(m)).reason, 'ALARM NOSPACE');
    assert.equal((await legacyHealth(m, { exclude: ['NOSPACE'] })).reason, 'ALARM CORRUPT');
    m.alarmNames = ['SOMETHING'];
    assert.equal((await legacyHealth(m)).reason, 'ALARM UNKNOWN');
  });

  test('without a leader /health fails with RAFT NO LEADER before reading; serializable=true skips the leader and reads locally', async () => {
    const m = new FakeMember();
    m.leaderId = 0;
    m.linearizableFailure = 'etcdserver: no leader';
    assert.deepEqual(await legacyHealth(m), { health: 'false', reason: 'RAFT NO LEADER' });
    assert.deepEqual(m.reads, [], 'no read once the leader check failed');
    assert.deepEqual(await legacyHealth(m, { serializable: true }), { health: 'true', reason: '' });
    assert.deepEqual(m.reads, [true], 'one serializable read');
  });

  test('a failing read is RANGE ERROR with the error’s message', async () => {
    const m = new FakeMember();
    m.linearizableFailure = 'etcdserver: request timed out';
    assert.deepEqual(await legacyHealth(m), { health: 'false', reason: 'RANGE ERROR:etcdserver: request timed out' });
    m.serializableFailure = 'etcdserver: server stopped';
    assert.deepEqual(await legacyHealth(m, { serializable: true }), { health: 'false', reason: 'RANGE ERROR:etcdserver: server stopped' });
  });

  test('a lost quorum: /readyz fails on linearizable_read alone, /livez stays ok', async () => {
    const m = new FakeMember();
    m.leaderId = 0;
    m.linearizableFailure = 'etcdserver: no leader';
    const ready = await runChecks(m, CHECKS.readyz);
    assert.equal(ready.ok, false);
    assert.equal(
      checkLines(ready.results),
      '[+]data_corruption ok\n[+]serializable_read ok\n[-]linearizable_read failed: etcdserver: no leader\n[+]non_learner ok\n',
    );
    assert.equal((await runChecks(m, CHECKS.livez)).ok, true);
  });

  test('a learner is live but not ready', async () => {
    const m = new FakeMember();
    m.learner = true;
    const ready = await runChecks(m, CHECKS.readyz);
    assert.deepEqual(
      ready.results.filter((r) => r.failure),
      [{ name: 'non_learner', failure: 'not supported for learner' }],
    );
    assert.equal((await runChecks(m, CHECKS.livez)).ok, true);
  });

  test('excluding names a check does not have is allowed and reported', () => {
    assert.deepEqual(selectChecks('readyz', ['linearizable_read', 'NOSPACE']), {
      names: ['data_corruption', 'serializable_read', 'non_learner'],
      unknown: ['NOSPACE'],
    });
    assert.deepEqual(selectChecks('livez', ['serializable_read']), { names: [], unknown: [] });
  });
});

describe('health endpoints over HTTP', () => {
  const member = new FakeMember();
  const registry = new Registry();
  let server: Server;
  let base: string;
  const get = async (path: string, method = 'GET'): Promise<{ status: number; body: string; type: string | null; allow: string | null }> => {
    const res = await fetch(base + path, { method });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type'), allow: res.headers.get('allow') };
  };

  before(async () => {
    const app = express();
    app.use(healthRoutes(member, registry, pino({ level: 'silent' })));
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const reset = (): void => {
    member.alarmNames = [];
    member.leaderId = 1;
    member.learner = false;
    member.linearizableFailure = undefined;
    member.serializableFailure = undefined;
  };

  test('a healthy member: etcd’s exact bodies', async () => {
    reset();
    assert.deepEqual(await get('/health'), { status: 200, body: '{"health":"true","reason":""}', type: 'text/plain; charset=utf-8', allow: null });
    assert.equal((await get('/readyz')).body, 'ok\n');
    assert.equal((await get('/livez')).body, 'ok\n');
    assert.equal((await get('/readyz?verbose')).body, '[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\nok\n');
    assert.equal((await get('/livez?verbose=1')).body, '[+]serializable_read ok\nok\n');
  });

  test('kubeadm’s probe /health?exclude=NOSPACE&serializable=true passes with a full quota and no leader', async () => {
    reset();
    member.alarmNames = ['NOSPACE'];
    member.leaderId = 0;
    member.linearizableFailure = 'etcdserver: no leader';
    const plain = await get('/health');
    assert.equal(plain.status, 503);
    assert.equal(plain.body, '{"health":"false","reason":"ALARM NOSPACE"}\n');
    assert.equal((await get('/health?exclude=NOSPACE')).body, '{"health":"false","reason":"RAFT NO LEADER"}\n');
    const probe = await get('/health?exclude=NOSPACE&serializable=true');
    assert.equal(probe.status, 200);
    assert.equal(probe.body, '{"health":"true","reason":""}');
  });

  test('a failure lists every check whether or not verbose was asked for', async () => {
    reset();
    member.leaderId = 0;
    member.linearizableFailure = 'etcdserver: no leader';
    const ready = await get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.type, 'text/plain; charset=utf-8');
    assert.equal(ready.body, '[+]data_corruption ok\n[+]serializable_read ok\n[-]linearizable_read failed: etcdserver: no leader\n[+]non_learner ok\n\n');
    assert.equal((await get('/livez')).status, 200);
    assert.equal((await get('/readyz?exclude=linearizable_read')).status, 200);
    assert.equal((await get('/readyz?exclude=linearizable_read&exclude=NOSUCH')).status, 200, 'an unknown exclude is ignored');
  });

  test('each check answers alone on its sub-path, which ignores exclude', async () => {
    reset();
    member.learner = true;
    assert.deepEqual(
      [(await get('/readyz/non_learner')).status, (await get('/readyz/serializable_read')).status, (await get('/livez/serializable_read')).status],
      [503, 200, 200],
    );
    assert.equal((await get('/readyz/non_learner')).body, '[-]non_learner failed: not supported for learner\n\n');
    assert.equal((await get('/readyz/non_learner?exclude=non_learner')).status, 503);
    assert.equal((await get('/readyz/linearizable_read?verbose')).body, '[+]linearizable_read ok\nok\n');
  });

  test('anything but GET is 405 with Allow: GET', async () => {
    reset();
    for (const path of ['/health', '/readyz', '/livez', '/readyz/non_learner']) {
      const r = await get(path, 'POST');
      assert.equal(r.status, 405, path);
      assert.equal(r.allow, 'GET');
      assert.equal(r.body, 'Method Not Allowed\n');
    }
  });

  test('etcd’s health metrics count each endpoint and check', async () => {
    reset();
    const before = await registry.getSingleMetricAsString('etcd_server_health_success');
    await get('/health');
    member.alarmNames = ['CORRUPT'];
    await get('/health');
    await get('/readyz');
    const text = await registry.metrics();
    assert.notEqual(await registry.getSingleMetricAsString('etcd_server_health_success'), before);
    assert.match(text, /^etcd_server_health_failures [1-9]/m);
    assert.match(text, /^etcd_server_healthcheck\{type="readyz",name="data_corruption"\} 0$/m);
    assert.match(text, /^etcd_server_healthcheck\{type="readyz",name="linearizable_read"\} 1$/m);
    assert.match(text, /^etcd_server_healthchecks_total\{type="readyz",name="data_corruption",status="error"\} [1-9]/m);
    assert.match(text, /^etcd_server_healthchecks_total\{type="livez",name="serializable_read",status="success"\} [1-9]/m);
  });
});

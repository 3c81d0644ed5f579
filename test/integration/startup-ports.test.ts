// A member binds its client, peer and metrics ports before it joins Raft, as
// etcd does: one whose port is taken exits non-zero naming the address (and
// never opens its data dir, so it cannot vote), and the rest of the cluster
// elects a leader that serves writes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { ProcessCluster, type ProcessMember } from './process-cluster.js';

async function occupy(url: string): Promise<Server> {
  const { hostname, port } = new URL(url);
  const server = createServer();
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(Number(port), hostname, ok);
  });
  return server;
}

function exitOf(m: ProcessMember, timeoutMs: number): Promise<number | string> {
  const child = m.process!;
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${m.name} still running after ${timeoutMs} ms; log:\n${m.log.join('').slice(-2000)}`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      ok(code ?? String(signal));
    });
  });
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('a member whose client port is taken', () => {
  let c: ProcessCluster;
  let squatter: Server;
  before(async () => {
    c = await ProcessCluster.create('kvorum', 3);
    squatter = await occupy(c.members[2]!.clientUrl);
  });
  after(async () => {
    await new Promise<void>((ok) => squatter?.close(() => ok()));
    await c?.destroy();
  });

  test('exits non-zero naming the address, before it joins; the others elect a leader that serves writes', async () => {
    const [m1, m2, m3] = c.members as [ProcessMember, ProcessMember, ProcessMember];
    for (const m of c.members) c.start(m);
    const code = await exitOf(m3, 20_000);
    const log = m3.log.join('');
    assert.equal(code, 1, `exit code; log:\n${log}`);
    assert.match(log, new RegExp(`cannot listen for client requests on ${m3.clientUrl}/: address already in use`));
    assert.equal(existsSync(m3.dataDir), false, 'the member never opened its data dir');

    await c.waitHealthy(30_000, [m1, m2]);
    const ids: string[] = [];
    let leader = '';
    for (const m of [m1, m2]) {
      const status = await post(`${m.clientUrl}/v3/maintenance/status`, {});
      assert.equal(status.status, 200, JSON.stringify(status.json));
      ids.push(String((status.json.header as { member_id: string }).member_id));
      leader = String(status.json.leader);
    }
    assert.ok(ids.includes(leader), `leader ${leader} is one of the running members ${ids.join(', ')}`);
    for (const m of [m1, m2]) {
      const put = await post(`${m.clientUrl}/v3/kv/put`, { key: Buffer.from(`via-${m.name}`).toString('base64'), value: Buffer.from('ok').toString('base64') });
      assert.equal(put.status, 200, JSON.stringify(put.json));
    }
    const range = await post(`${m1.clientUrl}/v3/kv/range`, { key: Buffer.from('via-').toString('base64'), range_end: Buffer.from('via.').toString('base64') });
    assert.equal(range.json.count, '2');
  });
});

describe('a member whose peer or metrics port is taken', () => {
  test('exits non-zero naming that address', async () => {
    const c = await ProcessCluster.create('kvorum', 1);
    const m = c.members[0]!;
    const metricsUrl = await c.newUrl();
    try {
      for (const [what, url] of [
        ['peers', m.peerUrl],
        ['metrics', metricsUrl],
      ] as const) {
        const squatter = await occupy(url);
        try {
          const child = spawn(process.execPath, [resolve('bin/kvorum'), 'node', ...c.args(m), `--listen-metrics-urls=${metricsUrl}`], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          for (const s of [child.stdout, child.stderr]) s.on('data', (d: Buffer) => (out += d.toString()));
          const code = await new Promise<number | null>((ok) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
            child.once('exit', (exit) => {
              clearTimeout(timer);
              ok(exit);
            });
          });
          assert.equal(code, 1, `${what}: exit code; output:\n${out}`);
          assert.match(out, new RegExp(`kvorum node: cannot listen for ${what} on ${url}/: address already in use \\(EADDRINUSE\\)`));
          assert.equal(existsSync(m.dataDir), false, `${what}: the member never opened its data dir`);
        } finally {
          await new Promise<void>((ok) => squatter.close(() => ok()));
        }
      }
    } finally {
      await c.destroy();
    }
  });
});

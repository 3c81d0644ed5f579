// What one unary gRPC call costs a member before any Raft or MVCC work: the
// same KV.Put load (etcd's benchmark tool) against two servers that answer
// at once with a fixed PutResponse, one on @grpc/grpc-js (as the member
// serves today) and one on node:http2 with gRPC's framing done by hand.
// The figure is server CPU per call (from /proc), medians of alternating
// runs, to size what a leaner path for the hot unary calls would save.
//
//   node dist/bench/unary-overhead.js [--runs 3] [--total 40000]
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { createServer, constants as h2 } from 'node:http2';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kvService } from '../node/api/proto/load.js';
import { median } from './median.js';
import { cpuSeconds } from './proc.js';
import { prepareTools } from './setup.js';

type Kind = 'grpc-js' | 'http2';

const HEADER = { cluster_id: '1', member_id: '2', revision: '3', raft_term: '4' };

/** PutResponse{header: {cluster_id: 1, member_id: 2, revision: 3, raft_term: 4}} on the wire, with gRPC's 5-byte prefix. */
function framedPutResponse(): Buffer {
  const header = Buffer.from([0x08, 1, 0x10, 2, 0x18, 3, 0x20, 4]);
  const message = Buffer.concat([Buffer.from([0x0a, header.length]), header]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

async function serve(kind: Kind, port: number): Promise<void> {
  if (kind === 'grpc-js') {
    const server = new Server({ 'grpc.enable_channelz': 0 });
    const put = (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => callback(null, { header: HEADER });
    server.addService(kvService, { Put: put });
    await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    return;
  }
  const answer = framedPutResponse();
  const server = createServer();
  server.on('stream', (stream, headers) => {
    if (headers[h2.HTTP2_HEADER_PATH] !== '/etcdserverpb.KV/Put') {
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
      return;
    }
    stream.on('data', () => undefined);
    stream.on('end', () => {
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}

async function measure(kind: Kind, port: number, total: number, benchmark: string): Promise<{ cpuUsPerCall: number; perSecond: number }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
    });
    const run = (n: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const b = spawn(benchmark, ['--endpoints', `127.0.0.1:${port}`, '--clients', '100', '--conns', '10', 'put', '--total', String(n), '--val-size', '256'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        b.stdout.on('data', (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => b.kill('SIGKILL'), 120_000);
        b.once('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) resolve(out);
          else reject(new Error(`benchmark exited with ${code}`));
        });
      });
    await run(Math.min(5000, total)); // warm-up: connections, JIT
    const before = cpuSeconds(child.pid!) ?? 0;
    const out = await run(total);
    const after = cpuSeconds(child.pid!) ?? 0;
    const perSecond = Number(/Requests\/sec:\s*([\d.]+)/.exec(out)?.[1] ?? NaN);
    return { cpuUsPerCall: ((after - before) * 1e6) / total, perSecond };
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--serve') {
    await serve(argv[1] as Kind, Number(argv[2]));
    process.stdout.write('ready\n');
    return;
  }
  const flag = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const runs = flag('--runs', 3);
  const total = flag('--total', 40_000);
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const tools = await prepareTools(repo);
  const figures: Record<Kind, number[]> = { 'grpc-js': [], http2: [] };
  for (let r = 0; r < runs; r++) {
    for (const kind of ['grpc-js', 'http2'] as const) {
      const m = await measure(kind, 23950 + r * 2 + (kind === 'http2' ? 1 : 0), total, tools.benchmark);
      figures[kind].push(m.cpuUsPerCall);
      process.stderr.write(`run ${r + 1} ${kind}: ${m.cpuUsPerCall.toFixed(1)} µs CPU per call, ${m.perSecond.toFixed(0)} calls/s\n`);
    }
  }
  const g = median(figures['grpc-js']);
  const h = median(figures.http2);
  process.stdout.write(`KV.Put answered at once, 100 clients / 10 conns, ${total} calls, median of ${runs}: grpc-js ${g.toFixed(1)} µs CPU per call, node:http2 ${h.toFixed(1)} µs (${(g / h).toFixed(2)}x)\n`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`unary-overhead: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});

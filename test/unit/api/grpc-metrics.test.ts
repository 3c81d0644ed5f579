// gRPC server metrics as go-grpc-prometheus defines them: started when a call
// arrives, handled (with the status code's Go name) and timed when the server
// answers, fails, or the client cancels; labels from the service definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { status, type UntypedHandleCall } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { createGrpcMetrics, grpcCodeName } from '../../../node/api/grpc-metrics.js';
import { etcdServices } from '../../../node/api/proto/load.js';

async function series(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((l) => l.startsWith(name));
}

test('unary calls: started, handled with the code name, timed; labels from the definition', async () => {
  const registry = new Registry();
  const m = createGrpcMetrics(registry);
  const impl = m.instrument(etcdServices.KV, {
    Range: ((_call: unknown, cb: (err: unknown, v?: unknown) => void) => cb(null, {})) as unknown as UntypedHandleCall,
    Put: ((_call: unknown, cb: (err: unknown) => void) => cb({ code: status.RESOURCE_EXHAUSTED, details: 'etcdserver: mvcc: database space exceeded' })) as unknown as UntypedHandleCall,
  });
  const call = new EventEmitter();
  const answers: unknown[] = [];
  (impl.Range as unknown as (c: unknown, cb: (e: unknown) => void) => void)(call, (e) => answers.push(e));
  (impl.Put as unknown as (c: unknown, cb: (e: unknown) => void) => void)(call, (e) => answers.push(e));
  assert.deepEqual(answers.map((a) => (a as { code?: number } | null)?.code ?? null), [null, status.RESOURCE_EXHAUSTED], 'answers pass through unchanged');
  const handled = await series(registry, 'grpc_server_handled_total');
  assert.ok(handled.includes('grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range",grpc_code="OK"} 1'), handled.join('\n'));
  assert.ok(handled.includes('grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="ResourceExhausted"} 1'), handled.join('\n'));
  const started = await series(registry, 'grpc_server_started_total');
  assert.ok(started.includes('grpc_server_started_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put"} 1'));
  const count = await series(registry, 'grpc_server_handling_seconds_count');
  assert.ok(count.includes('grpc_server_handling_seconds_count{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range"} 1'));
});

test('streams: handled once, when ended (OK), destroyed with a code, or cancelled by the client', async () => {
  const registry = new Registry();
  const m = createGrpcMetrics(registry);
  const impl = m.instrument(etcdServices.Watch, { Watch: (() => {}) as unknown as UntypedHandleCall });
  const stream = (): EventEmitter & { end(): void; destroy(e?: unknown): void } => Object.assign(new EventEmitter(), { end() {}, destroy() {} });
  const watch = impl.Watch as unknown as (c: unknown) => void;
  const a = stream();
  watch(a);
  a.end();
  a.end();
  const b = stream();
  watch(b);
  b.destroy(Object.assign(new Error('gone'), { code: status.UNAVAILABLE }));
  const c = stream();
  watch(c);
  c.emit('cancelled');
  const d = stream();
  watch(d); // still open: started, not handled
  const handled = await series(registry, 'grpc_server_handled_total');
  for (const code of ['OK', 'Unavailable', 'Canceled']) {
    assert.ok(handled.includes(`grpc_server_handled_total{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch",grpc_code="${code}"} 1`), handled.join('\n'));
  }
  assert.ok((await series(registry, 'grpc_server_started_total')).includes('grpc_server_started_total{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch"} 4'));
});

test('status code names are Go codes.Code.String()', () => {
  assert.equal(grpcCodeName(status.OK), 'OK');
  assert.equal(grpcCodeName(status.CANCELLED), 'Canceled');
  assert.equal(grpcCodeName(status.DEADLINE_EXCEEDED), 'DeadlineExceeded');
  assert.equal(grpcCodeName(status.DATA_LOSS), 'DataLoss');
  assert.equal(grpcCodeName(99), 'Code(99)');
});

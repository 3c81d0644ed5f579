// gRPC server metrics as go-grpc-prometheus defines them: started when a call
// arrives, handled (with the status code's Go name) and timed when the server
// answers, fails, or the client cancels; labels from the service definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { status, type UntypedHandleCall } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { COUNT_SENT, createGrpcMetrics, grpcCodeName } from '../../../node/api/grpc-metrics.js';
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

test('messages: a unary call counts one received and, when answered OK, one sent; a stream each message either way', async () => {
  const registry = new Registry();
  const m = createGrpcMetrics(registry);
  const kv = m.instrument(etcdServices.KV, {
    Range: ((_call: unknown, cb: (err: unknown, v?: unknown) => void) => cb(null, {})) as unknown as UntypedHandleCall,
    Put: ((_call: unknown, cb: (err: unknown) => void) => cb({ code: status.UNAVAILABLE })) as unknown as UntypedHandleCall,
  });
  for (const method of ['Range', 'Put']) (kv[method] as unknown as (c: unknown, cb: () => void) => void)(new EventEmitter(), () => {});
  const pushed: unknown[] = [];
  const written: unknown[] = [];
  const call = Object.assign(new EventEmitter(), {
    end() {},
    destroy() {},
    push: (chunk: unknown) => pushed.push(chunk) > 0,
    write: (msg: unknown) => written.push(msg) > 0,
  });
  let handlerCall: typeof call | undefined;
  const watch = m.instrument(etcdServices.Watch, { Watch: ((c: typeof call) => (handlerCall = c)) as unknown as UntypedHandleCall });
  (watch.Watch as unknown as (c: unknown) => void)(call);
  // grpc-js pushes each request, then null at the end; the handler writes some answers and a bypassing writer reports others.
  for (const req of ['a', 'b', 'c', null]) handlerCall!.push(req);
  handlerCall!.write('x');
  handlerCall!.write('y');
  (handlerCall as unknown as Record<symbol, (n: number) => void>)[COUNT_SENT]!(5);
  assert.deepEqual(pushed, ['a', 'b', 'c', null], 'requests pass through unchanged');
  assert.deepEqual(written, ['x', 'y'], 'answers pass through unchanged');
  const received = await series(registry, 'grpc_server_msg_received_total');
  const sent = await series(registry, 'grpc_server_msg_sent_total');
  assert.ok(received.includes('grpc_server_msg_received_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range"} 1'), received.join('\n'));
  assert.ok(received.includes('grpc_server_msg_received_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put"} 1'), received.join('\n'));
  assert.ok(received.includes('grpc_server_msg_received_total{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch"} 3'), received.join('\n'));
  assert.ok(sent.includes('grpc_server_msg_sent_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range"} 1'), sent.join('\n'));
  assert.ok(!sent.some((l) => l.includes('grpc_method="Put"')), `a failed unary call sends no message:\n${sent.join('\n')}`);
  assert.ok(sent.includes('grpc_server_msg_sent_total{grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch"} 7'), sent.join('\n'));
});

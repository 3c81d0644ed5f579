// Unit checks of the process kubelet's pure parts: image references, the
// command/args rules, $(VAR) expansion and downward API field paths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerArgv, imageName, resolveImage } from './kubelet/images.js';
import { expand, fieldRefValue } from './kubelet/env.js';
import { repoRoot } from './env/config.js';

test('image references are reduced to their repository name', () => {
  assert.equal(imageName('kvorum:dev'), 'kvorum');
  assert.equal(imageName('ghcr.io/acme/kvorum:v1.2.3@sha256:abc'), 'acme/kvorum');
  assert.equal(imageName('localhost:5000/kvorum-e2e/http-echo:latest'), 'kvorum-e2e/http-echo');
  assert.equal(imageName('docker.io/library/busybox:1.36'), 'busybox');
});

test('the kvorum image runs the repository binary with command and args', () => {
  const img = resolveImage('registry.example/kvorum/kvorum:0.1.0');
  assert.ok(img);
  const bin = `${repoRoot}/bin/kvorum`;
  assert.deepEqual(containerArgv(img, undefined, ['node', '--name', 'a']), [bin, 'node', '--name', 'a']);
  assert.deepEqual(containerArgv(img, ['kvorum', 'operator'], ['--verbose']), [bin, 'operator', '--verbose']);
  assert.deepEqual(containerArgv(img, ['/bin/sh', '-c', 'true'], undefined), ['/bin/sh', '-c', 'true']);
  assert.equal(resolveImage('nginx:1.25'), undefined);
});

test('$(VAR) references expand, $$ escapes and unknown names stay literal', () => {
  const vars = { POD: 'db-0', NS: 'prod' };
  assert.equal(expand('$(POD).db.$(NS).svc', vars), 'db-0.db.prod.svc');
  assert.equal(expand('$$(POD) $(MISSING)', vars), '$(POD) $(MISSING)');
});

test('downward API field paths', () => {
  const pod = {
    metadata: { name: 'p', namespace: 'n', uid: 'u', labels: { app: 'x' } },
    spec: { nodeName: 'node-1' },
    status: { podIP: '10.244.1.9', hostIP: '10.244.0.1' },
  };
  assert.equal(fieldRefValue(pod, 'metadata.name'), 'p');
  assert.equal(fieldRefValue(pod, 'metadata.namespace'), 'n');
  assert.equal(fieldRefValue(pod, 'status.podIP'), '10.244.1.9');
  assert.equal(fieldRefValue(pod, 'spec.nodeName'), 'node-1');
  assert.equal(fieldRefValue(pod, "metadata.labels['app']"), 'x');
  assert.throws(() => fieldRefValue(pod, 'spec.bogus'));
});

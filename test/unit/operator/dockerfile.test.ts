import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRepoFile } from './helpers.js';

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  from: string;
  name?: string;
  body: Instruction[];
}

/** Parses a Dockerfile into stages of instructions (comments dropped, continuations joined). */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push((pending + line).trim());
    pending = '';
  }
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(l);
    if (!m) continue;
    const ins = { op: m[1].toUpperCase(), args: m[2] };
    if (ins.op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(f, `FROM ${ins.args}`);
      stages.push({ from: f[1], name: f[2], body: [] });
    } else if (stages.length === 0) {
      args.push(ins);
    } else {
      stages[stages.length - 1].body.push(ins);
    }
  }
  return { args, stages };
}

const { args, stages } = parseDockerfile(readRepoFile('Dockerfile'));
const runtime = stages[stages.length - 1];
const runs = (s: Stage): string[] => s.body.filter((i) => i.op === 'RUN').map((i) => i.args);
const copies = (s: Stage): string[] => s.body.filter((i) => i.op === 'COPY').map((i) => i.args);

test('the parser handles continuations and comments', () => {
  const p = parseDockerfile('# c\nFROM a AS b\nRUN x \\\n  && y\n# d\nFROM b\nUSER 1\n');
  assert.equal(p.stages.length, 2);
  assert.deepEqual(p.stages[0].body, [{ op: 'RUN', args: 'x  && y' }]);
  assert.equal(p.stages[0].name, 'b');
  assert.deepEqual(p.stages[1].body, [{ op: 'USER', args: '1' }]);
});

test('multi-stage, both stages on node:20-bookworm-slim', () => {
  assert.ok(stages.length >= 2, 'at least a build and a runtime stage');
  const base = args.find((a) => a.op === 'ARG' && a.args.startsWith('NODE_IMAGE='));
  const resolve = (from: string): string => (from === '${NODE_IMAGE}' && base ? base.args.split('=')[1] : from);
  for (const s of stages) assert.equal(resolve(s.from), 'node:20-bookworm-slim', `stage ${s.name}`);
});

test('the build stage installs everything and compiles', () => {
  const build = stages.find((s) => s.name === 'build');
  assert.ok(build, 'a stage named build');
  const r = runs(build).join('\n');
  assert.match(r, /npm ci(?!.*--omit=dev)/);
  assert.match(r, /npm run build/);
});

test('the runtime stage has production dependencies only, the compiled code, bin/ and the .proto files', () => {
  const r = runs(runtime).join('\n');
  assert.match(r, /npm ci\b.*--omit=dev/);
  assert.doesNotMatch(r, /npm run build/);
  const c = copies(runtime);
  assert.ok(c.some((x) => /^--from=build\s+\S*dist\/node\/?\s/.test(x)), 'dist/node from the build stage');
  assert.ok(c.some((x) => /^--from=build\s+\S*dist\/operator\/?\s/.test(x)), 'dist/operator from the build stage');
  assert.ok(c.some((x) => /^--from=build\s+\S*dist\/bin\/?\s/.test(x)), 'dist/bin from the build stage');
  assert.ok(c.some((x) => /^--from=build\s+\S*dist\/contract\/?\s/.test(x)), 'dist/contract (shared by node and operator) from the build stage');
  assert.ok(c.some((x) => x.startsWith('bin/kvorum ')), 'the bin/kvorum wrapper');
  assert.ok(c.some((x) => x.startsWith('node/api/proto/')), 'the .proto files');
  assert.ok(!c.some((x) => /(^|\s)(\.|\.\/)\s/.test(x)), 'no COPY of the whole context into the runtime image');
});

test('runs as uid 65532 with the kvorum entrypoint', () => {
  const users = runtime.body.filter((i) => i.op === 'USER');
  assert.equal(users.length, 1);
  const uid = users[0].args.split(':')[0];
  assert.equal(uid, '65532');
  // USER comes after the last RUN, so nothing later runs as root.
  const idx = (op: string): number => runtime.body.map((i) => i.op).lastIndexOf(op);
  assert.ok(idx('USER') > idx('RUN'));
  const entry = runtime.body.filter((i) => i.op === 'ENTRYPOINT');
  assert.equal(entry.length, 1);
  assert.deepEqual(JSON.parse(entry[0].args), ['node', '/app/bin/kvorum']);
  assert.equal(runtime.body.find((i) => i.op === 'WORKDIR')?.args, '/app');
});

test('.dockerignore keeps local state out of the build context', () => {
  const lines = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  // Allow-list style: ignore everything, then re-include the sources.
  assert.equal(lines[0], '*');
  for (const keep of ['!package.json', '!package-lock.json', '!tsconfig.json', '!bin/', '!contract/', '!node/', '!operator/']) {
    assert.ok(lines.includes(keep), keep);
  }
  for (const l of lines) assert.ok(!/^!(node_modules|dist|\.e2e|\.build|\.git)/.test(l), `${l} re-includes local state`);
});

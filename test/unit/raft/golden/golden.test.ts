// Golden-trace tests of the Raft core: each script in testdata/ is replayed and
// every step's output compared with the lines written under it. With
// KVORUM_REWRITE_GOLDEN=1 the scripts are rewritten with what the core prints
// now instead (see node/raft/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffLines, parseScript, renderScript, runScript } from './script.js';
import { World } from './world.js';

const REWRITE = process.env.KVORUM_REWRITE_GOLDEN === '1';
const TESTDATA = join('test', 'unit', 'raft', 'golden', 'testdata');

/**
 * The scripts stay in the source tree (tests run compiled from dist/, and a
 * rewrite must land in the files that are committed): walk up from this
 * module to the directory that holds them.
 */
function findTestdata(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, TESTDATA))) return join(dir, TESTDATA);
    if (dirname(dir) === dir) throw new Error(`no ${TESTDATA} above ${fileURLToPath(import.meta.url)}`);
  }
}

const dir = findTestdata();
const scripts = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();

test('the golden scripts are found', () => {
  for (const name of ['election.txt', 'prevote.txt', 'checkquorum.txt', 'transfer-leader.txt', 'read-index.txt', 'learner.txt']) {
    assert.ok(scripts.includes(name), `${name} in ${dir}`);
  }
});

for (const name of scripts) {
  test(`golden ${name}`, (t) => {
    const path = join(dir, name);
    const source = readFileSync(path, 'utf8');
    const items = parseScript(source);
    const world = new World();
    const { outputs, failures } = runScript(name, items, (command) => world.run(command));
    if (REWRITE) {
      const next = renderScript(items, outputs);
      if (next !== source) {
        writeFileSync(path, next);
        t.diagnostic(`rewrote ${path}`);
      }
      return;
    }
    if (failures.length > 0) {
      assert.fail(`${failures.join('\n\n')}\n\n(- expected, + actual; KVORUM_REWRITE_GOLDEN=1 rewrites the script if the change is intended)`);
    }
  });
}

test('a step whose output changed fails with a diff of expected and actual lines', () => {
  const items = parseScript(['# a comment', '> echo a b', 'a', 'x', '', '> echo c', 'c'].join('\n'));
  const { outputs, failures } = runScript('demo.txt', items, (command) => command.split(' ').slice(1));
  assert.deepEqual(outputs, [['a', 'b'], ['c']]);
  assert.deepEqual(failures, ['demo.txt:2: > echo a b\n  a\n- x\n+ b']);
  assert.equal(renderScript(items, outputs), '# a comment\n> echo a b\na\nb\n\n> echo c\nc\n', 'a rewrite keeps comments and blank lines');
});

test('the line diff keeps common lines and marks the rest', () => {
  assert.deepEqual(diffLines(['a', 'b', 'c'], ['a', 'c', 'd']), ['  a', '- b', '  c', '+ d']);
  assert.deepEqual(diffLines([], ['a']), ['+ a']);
});

test('a mistyped command or option names the script line', () => {
  const world = new World();
  const run = (source: string): unknown => runScript('demo.txt', parseScript(source), (c) => world.run(c));
  assert.throws(() => run('> campain 1\n'), /demo\.txt:1: > campain 1: unknown command campain/);
  assert.throws(() => run('> create 1,2,3\n> deliver form=1\n'), /demo\.txt:2: > deliver form=1: deliver takes no option form=/);
  assert.throws(() => run('> create 1,2,3 prevote=yes\n'), /prevote= takes true or false/);
  assert.throws(() => run('> create 1,2,3\n> tick 1 ten\n'), /not a count: ten/);
});

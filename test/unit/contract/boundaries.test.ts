// The contract module is the only door between the member and the operator:
// operator code reaches node code only through contract/, and contract/
// depends on neither side. Read from the TypeScript sources with the
// compiler's own import scanner (static, type-only and dynamic imports).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../operator/helpers.js';

const root = repoRoot();

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Repository-relative targets of a file's relative imports (`.js` specifiers name the `.ts` sources). */
export function importTargets(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(root, resolve(root, dirname(file), s)).split(sep).join('/'));
}

/** The imports of `files` that land under one of `forbidden` (top-level directories). */
function crossings(files: string[], forbidden: string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    for (const target of importTargets(f, readFileSync(join(root, f), 'utf8'))) {
      if (forbidden.some((d) => target === d || target.startsWith(`${d}/`))) out.push(`${f} imports ${target}`);
    }
  }
  return out;
}

test('the import scanner sees static, type-only, re-exported and dynamic imports', () => {
  const text = [
    "import { a } from '../../node/server/join.js';",
    "import type { B } from '../../node/api/proto/load.js';",
    "export { c } from '../../contract/index.js';",
    "const d = await import('../../node/config.js');",
    "import { e } from 'pino';",
    "// a comment naming '../../node/raft/core.js' is no import",
  ].join('\n');
  assert.deepEqual(importTargets('operator/x/y.ts', text), ['node/server/join.js', 'node/api/proto/load.js', 'contract/index.js', 'node/config.js']);
});

test('operator/ imports nothing from node/: what both sides share lives in contract/', () => {
  const files = sourceFiles('operator');
  assert.ok(files.length > 30, `scanned ${files.length} operator files`);
  assert.deepEqual(crossings(files, ['node']), []);
  // The operator does use the contract (the scan is not vacuous).
  assert.ok(
    files.some((f) => importTargets(f, readFileSync(join(root, f), 'utf8')).some((t) => t.startsWith('contract/'))),
    'some operator module imports contract/',
  );
});

test('contract/ depends on neither the member nor the operator', () => {
  const files = sourceFiles('contract');
  assert.ok(files.length >= 4, `scanned ${files.length} contract files`);
  assert.deepEqual(crossings(files, ['node', 'operator', 'bin', 'test']), []);
});

test('node/ imports nothing from operator/', () => {
  assert.deepEqual(crossings(sourceFiles('node'), ['operator']), []);
});

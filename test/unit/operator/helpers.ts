// Shared helpers for the operator unit tests: locating the repository, reading
// its YAML, finding the helm and kubectl binaries the e2e tools build.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { loadAll } from 'js-yaml';

/** The directory holding package.json, found by walking up from the working directory. */
export function repoRoot(): string {
  let dir = process.cwd();
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${process.cwd()}`);
    dir = parent;
  }
}

export function readRepoFile(rel: string): string {
  return readFileSync(join(repoRoot(), rel), 'utf8');
}

export type Doc = Record<string, unknown>;

/** Every non-empty YAML document of a file or string. */
export function yamlDocs(text: string): Doc[] {
  return (loadAll(text) as unknown[]).filter((d): d is Doc => typeof d === 'object' && d !== null);
}

/** Walks a parsed object by keys and array indices; undefined when a step is missing. */
export function dig(value: unknown, ...path: (string | number)[]): unknown {
  let cur = value;
  for (const step of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[step];
  }
  return cur;
}

/** A tool from $ENV, PATH, or the e2e cache (~/.cache/kvorum-tools/<prefix>*). */
export function findTool(name: string, envVar: string, cachePrefix: string): string | undefined {
  const fromEnv = process.env[envVar];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  const cache = process.env.KVORUM_TOOLS_DIR ?? join(homedir(), '.cache', 'kvorum-tools');
  if (!existsSync(cache)) return undefined;
  for (const d of readdirSync(cache).filter((x) => x.startsWith(cachePrefix)).sort().reverse()) {
    if (existsSync(join(cache, d, name))) return join(cache, d, name);
  }
  return undefined;
}

export const findHelm = (): string | undefined => findTool('helm', 'HELM', 'helm-');
export const findKubectl = (): string | undefined => findTool('kubectl', 'KUBECTL', 'kubernetes-');

export const CRD_FILES = ['kvorum.io_kvclusters.yaml', 'kvorum.io_kvbackups.yaml', 'kvorum.io_kvbackupschedules.yaml', 'kvorum.io_kvrestores.yaml'] as const;

/** The parsed CRD of one file in crds/. */
export function loadCrd(file: (typeof CRD_FILES)[number]): Doc {
  const docs = yamlDocs(readRepoFile(join('crds', file)));
  if (docs.length !== 1) throw new Error(`${file}: expected one document, got ${docs.length}`);
  return docs[0];
}

/** The openAPIV3Schema of a CRD's only version. */
export function crdSchema(crd: Doc): Doc {
  return dig(crd, 'spec', 'versions', 0, 'schema', 'openAPIV3Schema') as Doc;
}

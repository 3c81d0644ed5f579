// What every bench command needs before it runs: the repository root, the
// external tools (etcd, etcdctl, etcd's benchmark tool) and whether the
// Kvorum node can run at all.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './proc.js';
import type { Tools } from './suite.js';

/** The repository root: the nearest ancestor holding bench/tools.sh. */
export function repoRoot(): string {
  for (const start of [process.cwd(), dirname(fileURLToPath(import.meta.url))]) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, 'bench', 'tools.sh')) && existsSync(join(dir, 'package.json'))) return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error('cannot find the repository root (bench/tools.sh)');
}

/**
 * The external tools: from KVORUM_BENCH_TOOLS_DIR when it is set (a many-core
 * pack, where nothing can be built or installed: see
 * scripts/many-core-pack.sh), otherwise from bench/tools.sh.
 */
export async function prepareTools(repo: string): Promise<Tools & { benchmarkVersion: string }> {
  const gomod = readFileSync(join(repo, 'bench', 'tools', 'go.mod'), 'utf8');
  const version = /^\s*go\.etcd\.io\/etcd\/v3 (\S+)/m.exec(gomod)?.[1] ?? '?';
  const packed = process.env.KVORUM_BENCH_TOOLS_DIR;
  if (packed) {
    const tools = { etcd: join(packed, 'etcd'), etcdctl: join(packed, 'etcdctl'), benchmark: join(packed, 'benchmark') };
    for (const [name, path] of Object.entries(tools)) if (!existsSync(path)) throw new Error(`KVORUM_BENCH_TOOLS_DIR=${packed} has no ${name}`);
    return { ...tools, benchmarkVersion: version };
  }
  const r = await runCommand('bash', [join(repo, 'bench', 'tools.sh')], { timeoutMs: 30 * 60_000 });
  if (r.code !== 0) throw new Error(`bench/tools.sh failed:\n${r.stderr}`);
  const found: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\w+)=(.+)$/.exec(line.trim());
    if (m) found[m[1]] = m[2];
  }
  for (const k of ['etcd', 'etcdctl', 'benchmark']) if (!found[k]) throw new Error(`bench/tools.sh did not report ${k}`);
  return { etcd: found.etcd, etcdctl: found.etcdctl, benchmark: found.benchmark, benchmarkVersion: version };
}

/** Kvorum runs if `node bin/kvorum node --help` succeeds; otherwise the reason. */
export async function kvorumUsable(repo: string): Promise<string | undefined> {
  const r = await runCommand(process.execPath, ['bin/kvorum', 'node', '--help'], { cwd: repo, timeoutMs: 30_000 });
  if (r.code === 0) return undefined;
  const msg = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';
  return `\`kvorum node --help\` exited ${r.code ?? r.signal}${msg ? `: ${msg}` : ''}`;
}


/**
 * Node flags for the Kvorum members from KVORUM_BENCH_NODE_FLAGS, e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" (node refuses --cpu-prof in NODE_OPTIONS).
 */
export function nodeFlags(): string[] {
  return (process.env.KVORUM_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
}

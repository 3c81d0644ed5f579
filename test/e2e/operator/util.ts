// Small shared pieces of the operator e2e suite: polling with a deadline,
// running kubectl and helm against the environment, per-test namespaces.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { KubeClient } from '../kube/client.js';
import { paths } from '../env/config.js';
import { readTools, type Tools } from '../env/cluster.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Progress lines on stderr, so a slow step shows where the time goes. */
export function note(msg: string): void {
  process.stderr.write(`# [${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Polls `fn` until it returns a value other than undefined/false; the last error or `describe()` explains a timeout. */
export async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, describe?: () => Promise<string> | string, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  const detail = describe ? await Promise.resolve(describe()).catch((e: Error) => `(describe failed: ${e.message})`) : '';
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}${detail ? `\n${detail}` : ''}`);
}

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

const kubeEnv = (): NodeJS.ProcessEnv => ({ ...process.env, KUBECONFIG: process.env.KUBECONFIG ?? paths.kubeconfig });

export function run(cmd: string, args: string[], input?: string, timeoutMs = 180_000): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: kubeEnv(), input, timeout: timeoutMs });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** Like run, without blocking the event loop (the continuous writer keeps going meanwhile). */
export function runAsync(cmd: string, args: string[], input?: string, timeoutMs = 180_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: kubeEnv() });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

let tools: Tools | undefined;
export function e2eTools(): Tools {
  tools ??= readTools();
  return tools;
}

export const kubectl = (args: string[], input?: string): Promise<RunResult> => runAsync(e2eTools().kubectl, args, input);
export const helm = (args: string[]): Promise<RunResult> => runAsync(e2eTools().helm, args, undefined, 300_000);

export function kubeClient(): KubeClient {
  return KubeClient.fromKubeconfig(process.env.KUBECONFIG ?? paths.kubeconfig);
}

/** Creates a namespace with a random suffix and returns its name. */
export async function createNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

/** Starts namespace deletion; does not wait (the environment reclaims volumes in the background). */
export async function deleteNamespace(client: KubeClient, name: string): Promise<void> {
  await client.delete(`/api/v1/namespaces/${name}`).catch(() => false);
}

export const isPodReady = (p: { status?: { conditions?: { type: string; status: string }[] } }): boolean =>
  (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

// The image table: the process kubelet cannot pull container images, so each
// image reference it understands maps to a local program. Entrypoint and
// default command follow the image semantics Kubernetes applies to
// container.command (replaces the entrypoint) and container.args (replaces the
// default command).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { compiledRoot, repoRoot } from '../env/config.js';

/** Tag of a member image whose program exits at once: a release that cannot start (the upgrade tests' broken version). */
export const BROKEN_TAG_SUFFIX = '-exits';

/** The previous release (test/previous-release.json) as scripts/build-previous-release.sh leaves it in the tools cache. */
export function previousRelease(): { version: string; bin: string } {
  const pin = JSON.parse(readFileSync(join(repoRoot, 'test', 'previous-release.json'), 'utf8')) as { commit: string; version: string };
  const cache = process.env.KVORUM_TOOLS_DIR ?? join(homedir(), '.cache', 'kvorum-tools');
  return { version: pin.version, bin: join(cache, `kvorum-${pin.commit.slice(0, 7)}`, 'bin', 'kvorum') };
}

/** The tag of an image reference ("" when it has none). */
export function imageTag(ref: string): string {
  const name = ref.split('@')[0];
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : '';
}

export interface ImageSpec {
  entrypoint: string[];
  cmd: string[];
  /** argv[0] values that mean "this image's own program" and are rewritten to the local path. */
  aliases: Record<string, string>;
}

/** Strips registry, tag and digest: "ghcr.io/x/kvorum:v1@sha256:.." -> "x/kvorum". */
export function imageName(ref: string): string {
  let name = ref.split('@')[0];
  const lastSlash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > lastSlash) name = name.slice(0, colon);
  const parts = name.split('/');
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) parts.shift();
  if (parts[0] === 'library') parts.shift();
  return parts.join('/');
}

export function resolveImage(ref: string): ImageSpec | undefined {
  const name = imageName(ref);
  const base = name.split('/').pop() ?? name;
  if (base === 'kvorum' || name === 'kvorum/kvorum') {
    const tag = imageTag(ref);
    if (tag.endsWith(BROKEN_TAG_SUFFIX)) return { entrypoint: ['/bin/false'], cmd: [], aliases: { kvorum: '/bin/false' } };
    // Two real builds: the previous release's tag runs that build, every other tag this checkout's.
    const prev = previousRelease();
    const bin = tag === prev.version ? prev.bin : join(repoRoot, 'bin', 'kvorum');
    return { entrypoint: [bin], cmd: [], aliases: { kvorum: bin, '/usr/local/bin/kvorum': bin, '/kvorum': bin, '/bin/kvorum': bin } };
  }
  if (name === 'kvorum-e2e/http-echo') {
    const script = join(compiledRoot, 'images', 'http-echo.js');
    return { entrypoint: [process.execPath, script], cmd: [], aliases: { 'http-echo': script } };
  }
  if (['busybox', 'alpine', 'debian', 'ubuntu', 'kvorum-e2e/shell'].includes(name)) {
    return { entrypoint: [], cmd: ['/bin/sh'], aliases: {} };
  }
  if (name === 'node' || name === 'kvorum-e2e/node') {
    return { entrypoint: [], cmd: [process.execPath], aliases: { node: process.execPath } };
  }
  return undefined;
}

/** Kubernetes' rules for combining image defaults with container.command/args. */
export function containerArgv(image: ImageSpec, command: string[] | undefined, args: string[] | undefined): string[] {
  let argv: string[];
  if (command && command.length > 0) argv = [...command, ...(args ?? [])];
  else argv = [...image.entrypoint, ...(args && args.length > 0 ? args : image.cmd)];
  if (argv.length > 0 && image.aliases[argv[0]]) {
    const mapped = image.aliases[argv[0]];
    // The http-echo alias is a script, run by this Node binary.
    argv = mapped.endsWith('.js') ? [process.execPath, mapped, ...argv.slice(1)] : [mapped, ...argv.slice(1)];
  }
  return argv;
}

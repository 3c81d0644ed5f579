// Pod networking: one Linux network namespace per pod, joined to a bridge on
// the host by a veth pair. The bridge carries the host address (API server,
// Node InternalIP); pods get addresses from a private /16 created here.
// `ip netns exec` bind-mounts /etc/netns/<name>/{hosts,resolv.conf} over /etc,
// which is how pod DNS names resolve through the ordinary system resolver.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { net } from '../env/config.js';

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

export function ensureBridge(): void {
  if (!ip(['-o', 'link', 'show', net.bridge], true).includes(net.bridge)) {
    ip(['link', 'add', net.bridge, 'type', 'bridge']);
  }
  const addrs = ip(['-o', '-4', 'addr', 'show', 'dev', net.bridge]);
  if (!addrs.includes(`${net.hostIP}/`)) ip(['addr', 'add', `${net.hostIP}/${net.prefix}`, 'dev', net.bridge]);
  ip(['link', 'set', net.bridge, 'up']);
}

export function removeBridge(): void {
  ip(['link', 'del', net.bridge], true);
}

export function netnsName(podUid: string): string {
  return `${net.netnsPrefix}${podUid.slice(0, 13)}`;
}

function vethName(ns: string): string {
  return `${net.vethPrefix}${createHash('sha1').update(ns).digest('hex').slice(0, 10)}`;
}

export function netnsEtcDir(ns: string): string {
  return join('/etc/netns', ns);
}

/** Creates the namespace, its veth pair and address; idempotent for an existing namespace. */
export function createPodNetwork(ns: string, podIP: string): void {
  const etc = netnsEtcDir(ns);
  mkdirSync(etc, { recursive: true });
  // Files must exist before the first `ip netns exec`, which bind-mounts them.
  if (!existsSync(join(etc, 'hosts'))) writeFileSync(join(etc, 'hosts'), `127.0.0.1 localhost\n`);
  // An unreachable loopback resolver makes unknown names fail fast instead of timing out.
  writeFileSync(join(etc, 'resolv.conf'), 'nameserver 127.0.0.53\noptions timeout:1 attempts:1\n');
  if (existsSync(`/run/netns/${ns}`)) return;
  const veth = vethName(ns);
  const peer = `${veth}p`;
  ip(['netns', 'add', ns]);
  ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer]);
  ip(['link', 'set', peer, 'netns', ns]);
  ip(['link', 'set', veth, 'master', net.bridge]);
  ip(['link', 'set', veth, 'up']);
  ip(['-n', ns, 'link', 'set', peer, 'name', 'eth0']);
  ip(['-n', ns, 'addr', 'add', `${podIP}/${net.prefix}`, 'dev', 'eth0']);
  ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  ip(['-n', ns, 'route', 'add', 'default', 'via', net.hostIP]);
}

/** Kills everything left in the namespace and removes it with its veth and /etc/netns files. */
export function deletePodNetwork(ns: string): void {
  killNetnsProcesses(ns);
  ip(['link', 'del', vethName(ns)], true);
  ip(['netns', 'del', ns], true);
  rmSync(netnsEtcDir(ns), { recursive: true, force: true });
}

export function killNetnsProcesses(ns: string): void {
  const pids = ip(['netns', 'pids', ns], true).split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export function listPodNetns(): string[] {
  const fromIp = ip(['netns', 'list'], true)
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(net.netnsPrefix));
  const fromEtc = existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((n) => n.startsWith(net.netnsPrefix)) : [];
  return [...new Set([...fromIp, ...fromEtc])];
}

/**
 * Rewrites a file in place (same inode): a rename would leave the bind mount
 * inside running pods pointing at the old file.
 */
export function rewriteInPlace(path: string, content: string): void {
  const fd = openSync(path, 'r+');
  try {
    const data = Buffer.from(content);
    writeSync(fd, data, 0, data.length, 0);
    ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}

export function hasIpTool(): boolean {
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

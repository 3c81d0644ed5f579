// Which release of Kvorum a process is. Members report it in /version
// (`kvorum`) and the `kvorum_build_info{version}` metric so the operator and
// tests can tell each member's release apart during a rolling upgrade.
import { readFileSync } from 'node:fs';

/**
 * The version in package.json (the one file both the source tree and the
 * image carry at the same place relative to the compiled code). Tests that
 * need two distinct versions from one build set KVORUM_VERSION_OVERRIDE.
 */
function releaseVersion(): string {
  const override = process.env.KVORUM_VERSION_OVERRIDE;
  if (override) return override;
  // dist/contract/version.js has the package root two levels up, the e2e build (.build/e2e/contract/) three: the nearest package.json wins.
  for (const up of ['../../package.json', '../../../package.json']) {
    let text: string;
    try {
      text = readFileSync(new URL(up, import.meta.url), 'utf8');
    } catch {
      continue;
    }
    const pkg = JSON.parse(text) as { version?: unknown };
    if (typeof pkg.version !== 'string' || pkg.version === '') throw new Error('package.json has no "version"');
    return pkg.version;
  }
  throw new Error(`no package.json two or three levels above ${import.meta.url}`);
}

/** The release version of Kvorum, reported by `kvorum version`, /version and the metrics. */
export const KVORUM_VERSION: string = releaseVersion();
/**
 * The etcd version whose semantics Kvorum implements, reported as etcd's
 * `etcdserver` version (/version, Maintenance.Status). Clients decide
 * features from it: kube-apiserver uses progress notifications for
 * consistent reads from its watch cache only from etcd 3.5.13 (3.4.31),
 * the releases where a progress response waits until every watcher on the
 * stream is synced (etcd-io/etcd#17507), as Kvorum's Watch does. Raise it
 * only with the behaviour of the version named.
 */
export const ETCD_API_VERSION = '3.5.13';

/** The body of a member's /version: etcd's two fields plus Kvorum's own release. */
export interface VersionInfo {
  etcdserver: string;
  etcdcluster: string;
  /** Absent on releases before the field was added (0.1.0-pre.230a543 and earlier). */
  kvorum?: string;
}

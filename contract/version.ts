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
  // contract/version.ts compiles to dist/contract/version.js: the package root is two levels up.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string' || pkg.version === '') throw new Error('package.json has no "version"');
  return pkg.version;
}

/** The release version of Kvorum, reported by `kvorum version`, /version and the metrics. */
export const KVORUM_VERSION: string = releaseVersion();
/** The etcd API version Kvorum speaks on the wire (reported as etcd's `etcdserver` version). */
export const ETCD_API_VERSION = '3.5.0';

/** The body of a member's /version: etcd's two fields plus Kvorum's own release. */
export interface VersionInfo {
  etcdserver: string;
  etcdcluster: string;
  /** Absent on releases before the field was added (0.1.0-pre.230a543 and earlier). */
  kvorum?: string;
}

// Which version changes the operator carries out by itself: patch and
// next-minor upgrades. A downgrade, or a skip over a minor (or major) version,
// may meet a data format the other side cannot read, so it is refused unless
// the user sets the override annotation. Versions compare as versions
// (status.ts's compareVersions); tags that are not versions are not judged.
import { ANNOTATIONS } from '../api/index.js';
import { compareVersions } from '../cluster/status.js';

export const ALLOW_VERSION_CHANGE_ANNOTATION = ANNOTATIONS.allowVersionChange;

export type VersionVerdict = { allowed: true } | { allowed: false; reason: 'VersionDowngrade' | 'VersionSkip'; message: string };

function majorMinor(v: string): [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** `current`: the oldest version a member runs; `target`: spec.version. */
export function judgeVersionChange(current: string | undefined, target: string, override: boolean): VersionVerdict {
  if (!current || current === target || override) return { allowed: true };
  const from = majorMinor(current);
  const to = majorMinor(target);
  if (!from || !to) return { allowed: true };
  const hint = `set the annotation ${ALLOW_VERSION_CHANGE_ANNOTATION}: "true" to do it anyway`;
  if (compareVersions(target, current) < 0) {
    return { allowed: false, reason: 'VersionDowngrade', message: `refusing to downgrade from ${current} to ${target}: a newer version may have written data the older one cannot read; ${hint}` };
  }
  if (to[0] !== from[0]) {
    return { allowed: false, reason: 'VersionSkip', message: `refusing to upgrade from ${current} to ${target} across a major version; ${hint}` };
  }
  if (to[1] > from[1] + 1) {
    return { allowed: false, reason: 'VersionSkip', message: `refusing to upgrade from ${current} to ${target}: it skips minor version ${from[0]}.${from[1] + 1}; upgrade one minor version at a time or ${hint}` };
  }
  return { allowed: true };
}

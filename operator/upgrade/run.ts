// One pass's rollout and storage steps against Kubernetes and the cluster's
// own API: gathers the planner's facts from the pods, claims and the pass's
// observation, carries out the one action planned, and says what the
// conditions and status should show. The reconciler calls these in its
// `rollOut` and `growStorage` steps.
import type { Logger } from 'pino';
import { DATA_VOLUME } from '../../contract/index.js';
import { ANNOTATIONS, CONDITION_TYPES, quantityToBytes, type KVCluster, type Quantity } from '../api/index.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import type { ClusterClient } from '../membership/client.js';
import type { ClusterObservation } from '../membership/observe.js';
import { DEFAULT_MAX_LAG, DEFAULT_STALL_TIMEOUT_MS, planRollout, type RolloutAction, type RolloutMember } from './plan.js';
import type { UpgradeState } from './state.js';
import { planStorage, type ClaimFacts, type StorageAction, type StorageStatus } from './storage.js';

type Pod = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
type PVC = KubeObject & {
  spec?: { storageClassName?: string; resources?: { requests?: { storage?: Quantity } } };
  status?: { capacity?: { storage?: Quantity }; conditions?: { type: string; status: string }[] };
};

/** The pod label the StatefulSet controller puts the pod's template revision in. */
export const REVISION_LABEL = 'controller-revision-hash';

export interface ConditionOut {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface StepEffects {
  client: KubeClient;
  api: Pick<ClusterClient, 'moveLeader'>;
  event(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
  /** Writes status.upgrade now (with the rest of the status, by the same apply as the pass's report). */
  recordUpgrade(state: UpgradeState): Promise<void>;
  log: Logger;
  now: Date;
}

export interface RolloutOutcome {
  action: RolloutAction;
  state?: UpgradeState;
  /** Replaces the pass's Progressing condition when set. */
  condition?: ConditionOut;
  active: boolean;
}

/** The planner's view of each member: its pod joined with what the cluster said of it. */
export function rolloutMembers(pods: KubeObject[], observed: ClusterObservation, memberNames: string[]): RolloutMember[] {
  return memberNames.map((name) => {
    const pod = (pods as Pod[]).find((p) => p.metadata.name === name);
    const m = observed.members?.find((x) => x.name === name);
    const out: RolloutMember = {
      name,
      podReady: pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      podTerminating: pod?.metadata.deletionTimestamp !== undefined,
      healthy: m?.healthy ?? false,
    };
    const rev = pod?.metadata.labels?.[REVISION_LABEL];
    if (rev !== undefined) out.revision = rev;
    if (m) {
      out.role = m.role;
      out.memberId = m.id;
      if (m.report.appliedIndex !== undefined) out.appliedIndex = m.report.appliedIndex;
    }
    return out;
  });
}

export interface RolloutContext {
  cluster: KVCluster;
  targetRevision: string;
  targetVersion: string;
  members: RolloutMember[];
  observed: ClusterObservation;
  stallTimeoutMs?: number;
  maxLag?: number;
}

/** The annotation's seconds when it is a positive number, else the default. */
function stallTimeoutFrom(value: string | undefined): number {
  const s = Number(value);
  return value !== undefined && Number.isFinite(s) && s > 0 ? s * 1000 : DEFAULT_STALL_TIMEOUT_MS;
}

export async function runRollout(ctx: RolloutContext, fx: StepEffects): Promise<RolloutOutcome> {
  const { cluster } = ctx;
  const ann = cluster.metadata.annotations ?? {};
  const plan = planRollout({
    targetRevision: ctx.targetRevision,
    targetVersion: ctx.targetVersion,
    members: ctx.members,
    ...(cluster.status?.upgrade && { state: cluster.status.upgrade }),
    strategy: cluster.spec.updateStrategy ?? 'RollingUpdate',
    ...(ann[ANNOTATIONS.approveLeaderUpgrade] !== undefined && { approval: ann[ANNOTATIONS.approveLeaderUpgrade] }),
    ...(ann[ANNOTATIONS.restartedAt] !== undefined && { restartedAt: ann[ANNOTATIONS.restartedAt] }),
    now: fx.now,
    stallTimeoutMs: ctx.stallTimeoutMs ?? stallTimeoutFrom(ann[ANNOTATIONS.upgradeStallTimeout]),
    maxLag: ctx.maxLag ?? DEFAULT_MAX_LAG,
  });
  const { action, state } = plan;
  const type = CONDITION_TYPES.progressing;
  const progress = (reason: string, message: string): ConditionOut => ({ type, status: 'True', reason, message });
  const ns = cluster.metadata.namespace;
  const out = (condition: ConditionOut | undefined, active = true): RolloutOutcome => ({ action, ...(state && { state }), ...(condition && { condition }), active });

  switch (action.kind) {
    case 'none':
      return out(undefined, false);
    case 'completed':
      await fx.event('Normal', 'UpgradeCompleted', action.message);
      return out(undefined, false);
    case 'wait':
      return out(progress('Upgrading', action.message));
    case 'awaitApproval':
      await fx.event('Normal', 'AwaitingApproval', action.message);
      return out(progress('AwaitingLeaderApproval', action.message));
    case 'stalled':
      await fx.event('Warning', 'UpgradeStalled', action.message);
      return out({ type, status: 'False', reason: 'UpgradeStalled', message: action.message });
    case 'moveLeader': {
      const from = ctx.observed.members?.find((m) => m.id === action.from.memberId);
      const endpoint = from?.status?.endpoint ?? from?.clientURLs[0];
      if (!endpoint || !action.to.memberId) return out(progress('Upgrading', `no client URL known for leader ${action.from.name}`));
      try {
        await fx.api.moveLeader(endpoint, action.to.memberId);
        await fx.event('Normal', 'LeaderMoved', action.message);
      } catch (err) {
        fx.log.warn({ err }, 'moving leadership before the upgrade failed');
        return out(progress('Upgrading', `${action.message}: ${(err as Error).message}`));
      }
      return out(progress('Upgrading', action.message));
    }
    case 'deletePod':
      // Recorded first: a pass repeated after a crash waits for this member instead of choosing another.
      await fx.recordUpgrade(state!);
      // The Event goes before the delete: an operator killed between the two
      // would leave a replaced member that no Event names (the standby sees
      // it already replaced). Killed before the delete, the next pass
      // deletes it and says so again.
      await fx.event('Normal', 'MemberReplaced', action.message);
      await fx.client.delete(RESOURCES.pod, ns, action.member);
      return out(progress('Upgrading', action.message));
  }
}

export interface StorageOutcome {
  status?: StorageStatus;
  condition?: ConditionOut;
  action: StorageAction;
}

/** One storage step; `mayDisrupt`: no rollout is in flight and every member is healthy (a restart is allowed). */
export async function runStorage(cluster: KVCluster, pvcs: KubeObject[], mayDisrupt: boolean, fx: StepEffects): Promise<StorageOutcome> {
  const desired = cluster.spec.storage?.size;
  if (desired === undefined) return { action: { kind: 'none' } };
  const claims: ClaimFacts[] = (pvcs as PVC[])
    .filter((c) => !c.metadata.deletionTimestamp)
    .map((c) => {
      const f: ClaimFacts = {
        name: c.metadata.name ?? '',
        // Claims are named <claim template>-<pod>.
        member: (c.metadata.name ?? '').slice(DATA_VOLUME.length + 1),
        fileSystemResizePending: c.status?.conditions?.some((x) => x.type === 'FileSystemResizePending' && x.status === 'True') ?? false,
      };
      if (c.spec?.resources?.requests?.storage !== undefined) f.requested = c.spec.resources.requests.storage;
      if (c.status?.capacity?.storage !== undefined) f.capacity = c.status.capacity.storage;
      return f;
    });
  const className = cluster.spec.storage?.storageClassName ?? (pvcs as PVC[]).find((c) => c.spec?.storageClassName)?.spec?.storageClassName;
  let allow: boolean | undefined;
  const wantBytes = quantityToBytes(desired);
  // The class is only read when some claim is still to grow.
  if (className && claims.some((c) => c.requested === undefined || quantityToBytes(c.requested) < wantBytes)) {
    try {
      const sc = await fx.client.get<KubeObject & { allowVolumeExpansion?: boolean }>(RESOURCES.storageClass, undefined, className);
      if (sc) allow = sc.allowVolumeExpansion === true;
    } catch (err) {
      // A namespaced install (Roles only) cannot read cluster-scoped StorageClasses: said as unknown.
      fx.log.warn({ err, storageClass: className }, 'cannot read the StorageClass');
    }
  }
  const { action, status } = planStorage({ desired, claims, ...(className && { storageClassName: className }), ...(allow !== undefined && { allowVolumeExpansion: allow }) });
  const type = CONDITION_TYPES.storageResized;
  const ns = cluster.metadata.namespace;
  switch (action.kind) {
    case 'none':
      return { action, status, condition: { type, status: 'True', reason: 'AsRequested', message: `every member's volume is ${String(desired)}` } };
    case 'refuse':
      await fx.event('Warning', action.reason, action.message);
      return { action, status, condition: { type, status: 'False', reason: action.reason, message: action.message } };
    case 'wait':
      return { action, status, condition: { type, status: 'False', reason: 'Expanding', message: action.message } };
    case 'expand':
      if (!mayDisrupt) return { action, status, condition: { type, status: 'False', reason: 'Expanding', message: `waiting for a healthy cluster before ${action.message}` } };
      await fx.client.mergePatch(RESOURCES.pvc, ns, action.claim, { spec: { resources: { requests: { storage: action.size } } } });
      await fx.event('Normal', 'VolumeExpanding', action.message);
      return { action, status, condition: { type, status: 'False', reason: 'Expanding', message: action.message } };
    case 'restartMember':
      if (!mayDisrupt) return { action, status, condition: { type, status: 'False', reason: 'Expanding', message: `waiting for a healthy cluster before ${action.message}` } };
      await fx.client.delete(RESOURCES.pod, ns, action.member);
      await fx.event('Normal', 'MemberRestarted', action.message);
      return { action, status, condition: { type, status: 'False', reason: 'Expanding', message: action.message } };
  }
}

// How the cluster reconciler hands over to the membership step
// (operator/membership): what it observed, and what comes back.
import type { Logger } from 'pino';
import type { KVCluster } from '../api/index.js';
import type { KubeObject } from '../kube/client.js';
import type { ClusterClient } from '../membership/client.js';
import type { Scheme } from './names.js';
import type { MembersObservation } from './observe.js';
import type { ConditionInput } from './status.js';

export interface MembershipInput {
  cluster: KVCluster;
  clusterClient: ClusterClient;
  scheme: Scheme;
  statefulSet: KubeObject;
  members: MembersObservation;
  pods: KubeObject[];
  pvcs: KubeObject[];
  log: Logger;
}

export interface MembershipOutcome {
  done: boolean;
  message?: string;
  requeueAfterMs?: number;
  condition?: ConditionInput;
}

export type MembershipRunner = (input: MembershipInput) => Promise<MembershipOutcome>;

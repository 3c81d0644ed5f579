// The join protocol between a starting member and the running cluster, and
// how a refused join shows from outside (the operator reads it off the pod).
//
// A member started with --initial-cluster-state=existing asks the members at
// the peer URLs of --initial-cluster for GET MEMBERS_PATH and finds its own
// entry by its peer URLs. An entry that already has a name belongs to a
// member that has run before: taking it over with an empty data dir is
// refused (see node/server/join.ts).

/** The peer-port path that serves a MembersDocument. */
export const MEMBERS_PATH = '/members';

/** GET MEMBERS_PATH: IDs as hex strings; `members` is present where the member knows the list. */
export interface MembersDocument {
  memberId: string;
  clusterId: string;
  members?: { id: string; name: string; peerUrls: string[]; isLearner: boolean }[];
}

/** Words of the refusal, in the member's log and its container's termination message. */
export const JOIN_REFUSAL_TEXT = 'was already started with another data dir';
/** The exit status of a refused join (EX_CONFIG), so the refusal is recognisable without logs. */
export const JOIN_REFUSED_EXIT_CODE = 78;

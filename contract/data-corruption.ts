// How a member that refuses its own data shows from outside. A member whose
// WAL or snapshot is damaged in place (not a torn write at the end) stops
// instead of guessing; the operator reads this exit status off the pod and
// replaces the member as if its volume were lost.

/** The exit status of a member that refuses its data (EX_DATAERR). */
export const CORRUPT_DATA_EXIT_CODE = 65;
/** Words that start the member's fatal log line and its container's termination message. */
export const CORRUPT_DATA_TEXT = 'refusing to start on corrupt data';

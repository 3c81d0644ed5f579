// Quorum arithmetic, in one place: how many voters make a majority, and the
// highest log index a majority holds. Learners never count; callers pass
// voters only.

/** The smallest number of voters that is more than half of `voters`. */
export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The highest index that at least a majority of the given match indexes
 * reach (0 with no voters): the index a leader may commit, by counting.
 */
export function quorumIndex(matches: readonly number[]): number {
  if (matches.length === 0) return 0;
  const sorted = [...matches].sort((a, b) => b - a);
  return sorted[majority(sorted.length) - 1]!;
}

/** Levenshtein distance: the fewest single-character edits that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
	let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
	for (let i = 1; i <= a.length; i++) {
		const current = [i];
		for (let j = 1; j <= b.length; j++) {
			const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
			current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
		}
		previous = current;
	}
	return previous[b.length] ?? 0;
}

/**
 * The candidate a typo most likely meant: the closest one within a third of its
 * length (at least 2 edits, like just and Task), else the only one it is a prefix of.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
	let best: string | undefined;
	let bestDistance = Number.POSITIVE_INFINITY;
	for (const candidate of candidates) {
		const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
		if (distance < bestDistance) {
			best = candidate;
			bestDistance = distance;
		}
	}
	const limit = Math.max(2, Math.floor(input.length / 3));
	if (best !== undefined && bestDistance <= limit) return best;
	const prefixed = candidates.filter((c) => c.startsWith(input));
	return input.length > 0 && prefixed.length === 1 ? prefixed[0] : undefined;
}

/** ` Did you mean "images"?`, or nothing when no candidate is close. */
export function didYouMean(input: string, candidates: readonly string[], prefix = ""): string {
	const match = closest(input, candidates);
	return match === undefined ? "" : ` Did you mean "${prefix}${match}"?`;
}

/** Durations as options take them: `<n>s` or `<n>m`. */
import { UsageError } from "../runner/errors.ts";

/** `given` in milliseconds, from `min` (0 or 1 ms) to `maxMs`, or a UsageError naming the option. */
export function durationOption(given: string, option: string, maxMs: number, min = 1): number {
	const match = /^(\d+)([sm])$/.exec(given);
	const ms = match ? Number(match[1]) * (match[2] === "m" ? 60_000 : 1000) : -1;
	if (ms < min || ms > maxMs) {
		throw new UsageError(
			`--${option} must be seconds or minutes such as 90s or 10m, ${min === 0 ? "from 0s to" : "at most"} ${maxMs / 60_000}m, not "${given}".`,
		);
	}
	return ms;
}

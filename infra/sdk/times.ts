/**
 * Times as AWS writes them in its answers: ISO 8601, usually with a zone
 * ("2026-12-01T10:00:30.000Z"), but some fields come without one. A time
 * without a zone is UTC, never the local time of the machine that reads it
 * (Date.parse would make it local, and a comparison would then hold only in UTC).
 */

/** Milliseconds since the epoch of an AWS time; NaN when it is no time. */
export function awsTimeMs(text: string): number {
	const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(text) || !/T\d/.test(text) ? text : `${text}Z`;
	return Date.parse(zoned);
}

/** An AWS time as this project writes times: ISO 8601 in UTC, or undefined when it is no time. */
export function awsTimeIso(text: string | undefined): string | undefined {
	if (text === undefined) return undefined;
	const ms = awsTimeMs(text);
	return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

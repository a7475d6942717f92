/**
 * A failure of a publishing step that a user can act on, as one sentence that
 * says what to do. tasks/ turns it into the runner's one-line error.
 */
export class PublishError extends Error {
	override readonly name = "PublishError";
}

/** The error's code as the SDK reports it (`name`, or `Code` of EC2's XML errors). */
export function errorCode(error: unknown): string {
	if (!(error instanceof Error)) return "";
	const code = (error as { Code?: unknown }).Code;
	return typeof code === "string" ? code : error.name;
}

/** The HTTP status an AWS error came with, if any. */
export function httpStatus(error: unknown): number | undefined {
	return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

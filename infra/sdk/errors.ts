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

/** Codes of credentials that expired or are not valid: signing in again gets past them. */
export const EXPIRED_CREDENTIALS =
	/^(ExpiredToken|ExpiredTokenException|RequestExpired|InvalidClientTokenId)$/;

/** Codes of a permission the caller lacks: deploying the stack's roles again (or other credentials) gets past them. */
export const NOT_PERMITTED =
	/^(AccessDenied|AccessDeniedException|UnauthorizedOperation|UnauthorizedAccess)$/;

/** What to do about an AWS refusal, by its code. */
const ADVICE: [RegExp, string][] = [
	[
		NOT_PERMITTED,
		"the credentials may not do this: deploy the stack again (`bun task deploy`) so its roles match this version, or use credentials that may",
	],
	[
		EXPIRED_CREDENTIALS,
		"the credentials expired or are not valid: sign in (or assume the role) again and run the task again, which picks up what is done",
	],
	[
		/^InvalidAMIID\./,
		"an AMI a record names no longer exists: publish that system again (`bun task publish --system <system>`), then run the task again",
	],
];

/**
 * An AWS service's refusal (an SDK error that no retry helps) as one
 * sentence: which call, its code and message, and what to do; undefined for
 * anything else.
 */
export function describeAwsRefusal(error: unknown): string | undefined {
	if (!(error instanceof Error) || httpStatus(error) === undefined) return undefined;
	const code = errorCode(error);
	const operation = (error as { operation?: unknown }).operation;
	const advice =
		ADVICE.find(([pattern]) => pattern.test(code))?.[1] ??
		"fix what it says and run the task again";
	const message = error.message.replace(/\.$/, "");
	return `AWS refused ${typeof operation === "string" ? operation : "a call"} (${code}: ${message}); ${advice}.`;
}

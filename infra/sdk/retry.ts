/**
 * The one retry budget of a publishing run. Every AWS request goes through
 * it: each attempt has a timeout (a request that hangs is abandoned, as
 * coldsnap's did not: awslabs/coldsnap#437), failures that may pass
 * (throttling, 5xx, dropped connections, timeouts, and what a step declares
 * transient) are retried with capped exponential backoff and full jitter,
 * and the retries of the whole run share one budget, so a failing service
 * stops the run in minutes instead of hours. The SDK's own retries are off.
 */
import { errorCode, httpStatus, PublishError } from "./errors.ts";

export interface RetryPolicy {
	/** How long one attempt may take before it is abandoned and retried. */
	attemptTimeoutMs: number;
	/** Attempts of one request, the first included. */
	maxAttempts: number;
	/** Retries the whole run may spend, across every request. */
	budget: number;
	baseDelayMs: number;
	maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
	attemptTimeoutMs: 20_000,
	maxAttempts: 8,
	budget: 200,
	baseDelayMs: 250,
	maxDelayMs: 20_000,
};

const TRANSIENT_CODES = new Set([
	"ThrottlingException",
	"Throttling",
	"RequestThrottledException",
	"RequestLimitExceeded",
	"TooManyRequestsException",
	"ConcurrentLimitExceededException",
	"SlowDown",
	"InternalServerException",
	"InternalError",
	"InternalFailure",
	"ServiceUnavailable",
	"ServiceUnavailableException",
	"Unavailable",
	"RequestTimeout",
	"RequestTimeoutException",
	"TimeoutError",
	"AbortError",
]);

const NETWORK_FAILURES =
	/ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ECONNABORTED|EAI_AGAIN|socket hang up|other side closed|The socket connection was closed|Connection closed/i;

/** Whether a failed attempt may succeed when tried again. */
export function isTransient(error: unknown): boolean {
	if (TRANSIENT_CODES.has(errorCode(error))) return true;
	const status = httpStatus(error);
	if (status !== undefined && (status >= 500 || status === 429)) return true;
	if ((error as { $retryable?: unknown })?.$retryable) return true;
	const code = (error as { code?: unknown })?.code;
	const text = `${typeof code === "string" ? code : ""} ${error instanceof Error ? error.message : ""}`;
	return NETWORK_FAILURES.test(text);
}

export interface CallOptions {
	/** Further failures to retry for this request (e.g. a snapshot that is not visible yet). */
	alsoRetry?: (error: unknown) => boolean;
}

export class RetryBudget {
	private spent = 0;

	constructor(
		readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
		private readonly sleep: (ms: number) => Promise<void> = (ms) => Bun.sleep(ms),
	) {}

	/** Retries spent so far, across the run. */
	get retries(): number {
		return this.spent;
	}

	/**
	 * Runs `attempt` until it succeeds, giving each try an AbortSignal that
	 * fires after the attempt timeout; `label` names the request in the error.
	 */
	async call<T>(
		label: string,
		attempt: (signal: AbortSignal) => Promise<T>,
		options: CallOptions = {},
	): Promise<T> {
		const { attemptTimeoutMs, maxAttempts, budget, baseDelayMs, maxDelayMs } = this.policy;
		for (let tries = 1; ; tries++) {
			const controller = new AbortController();
			const timer = setTimeout(
				() => controller.abort(new TimeoutAttempt(label, attemptTimeoutMs)),
				attemptTimeoutMs,
			);
			try {
				return await attempt(controller.signal);
			} catch (caught) {
				// An abort surfaces as the SDK's AbortError: report it as the timeout it was.
				const error = controller.signal.aborted ? controller.signal.reason : caught;
				const retryable = isTransient(error) || options.alsoRetry?.(error) === true;
				if (!retryable) {
					// Which request it was, for the sentence a refusal becomes (describeAwsRefusal).
					if (error instanceof Error) Object.assign(error, { operation: label });
					throw error;
				}
				if (tries >= maxAttempts || this.spent >= budget) {
					throw new RetriesExhausted(
						`${label} kept failing (${describe(error)}) after ${tries} attempt(s) and ${this.spent} retries in this run; check the AWS service health and your network, then run the task again.`,
					);
				}
				this.spent++;
				await this.sleep(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (tries - 1)));
			} finally {
				clearTimeout(timer);
			}
		}
	}
}

/** A request that kept failing with what may pass: a later run may well get through. */
export class RetriesExhausted extends PublishError {}

/** The error of an attempt that took longer than its timeout. */
class TimeoutAttempt extends Error {
	override readonly name = "TimeoutError";
	constructor(label: string, ms: number) {
		super(`${label} got no answer within ${ms / 1000} s`);
	}
}

function describe(error: unknown): string {
	const code = errorCode(error);
	const message = error instanceof Error ? error.message : String(error);
	return code && !message.startsWith(code) ? `${code}: ${message}` : message;
}

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
	/**
	 * How long what a run just made (a snapshot, an AMI, an instance) may stay
	 * invisible to the next call (EC2's "eventual consistency"; coldsnap#43:
	 * about two minutes for a new snapshot). Waited for on its own clock,
	 * spending nothing of the retry budget.
	 */
	visibilityWindowMs: number;
	/** The longest pause between two looks while waiting for visibility. */
	visibilityDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
	attemptTimeoutMs: 20_000,
	maxAttempts: 8,
	budget: 200,
	baseDelayMs: 250,
	maxDelayMs: 20_000,
	visibilityWindowMs: 150_000,
	visibilityDelayMs: 5_000,
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

/**
 * The one ValidationException the EBS direct APIs document as retryable
 * (EBS user guide, "Error retries"): the service failed to read what was sent.
 */
const RETRYABLE_VALIDATION = /Failed to read block data/i;

/** Whether a failed attempt may succeed when tried again. */
export function isTransient(error: unknown): boolean {
	if (TRANSIENT_CODES.has(errorCode(error))) return true;
	if (
		errorCode(error) === "ValidationException" &&
		RETRYABLE_VALIDATION.test(String((error as Error)?.message))
	) {
		return true;
	}
	const status = httpStatus(error);
	if (status !== undefined && (status >= 500 || status === 429)) return true;
	if ((error as { $retryable?: unknown })?.$retryable) return true;
	const code = (error as { code?: unknown })?.code;
	const text = `${typeof code === "string" ? code : ""} ${error instanceof Error ? error.message : ""}`;
	return NETWORK_FAILURES.test(text);
}

export interface CallOptions {
	/** Further failures to retry for this request, as transient ones (from the budget). */
	alsoRetry?: (error: unknown) => boolean;
	/**
	 * The answers that mean what this run just made is not visible yet (a
	 * NotFound code right after the write): retried for the policy's
	 * visibility window, on their own clock, without spending the budget.
	 */
	notVisibleYet?: (error: unknown) => boolean;
	/** When what the call acts on was made (ms since the epoch): the window runs from then (default: the call's first attempt). */
	madeAt?: number;
	/** Waited for before each attempt, before its timeout starts (a region's request rate). */
	beforeAttempt?: () => Promise<void>;
}

export class RetryBudget {
	private spent = 0;

	constructor(
		readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
		private readonly sleep: (ms: number) => Promise<void> = (ms) => Bun.sleep(ms),
		private readonly now: () => number = Date.now,
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
		const madeAt = options.madeAt ?? this.now();
		let looks = 0;
		for (let tries = 1; ; tries++) {
			await options.beforeAttempt?.();
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
				if (options.notVisibleYet?.(error) === true) {
					const { visibilityWindowMs, visibilityDelayMs } = this.policy;
					const waited = this.now() - madeAt;
					if (waited >= visibilityWindowMs) {
						throw new StillNotVisible(
							`${label} still found nothing ${Math.round(waited / 1000)} s after it was made (${describe(error)}), longer than AWS usually takes to show what is new; run the task again, which goes on where this one stopped.`,
						);
					}
					// Not a failure: the same try again, after a pause that grows to visibilityDelayMs.
					tries--;
					await this.sleep(
						Math.min(visibilityDelayMs, baseDelayMs * 2 ** looks++, visibilityWindowMs - waited),
					);
					continue;
				}
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

/** What a run made stayed invisible past the visibility window: a later run may well see it. */
export class StillNotVisible extends RetriesExhausted {}

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

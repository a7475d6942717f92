import { describe, expect, test } from "bun:test";
import { PublishError } from "./errors.ts";
import { DEFAULT_RETRY_POLICY, isTransient, RetryBudget } from "./retry.ts";

const quick = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 2 };
const awsError = (name: string, status?: number) =>
	Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe("isTransient", () => {
	test("retries throttling, 5xx, 429, dropped connections and timeouts, and nothing else", () => {
		for (const error of [
			awsError("ThrottlingException", 400),
			awsError("RequestLimitExceeded", 400),
			awsError("RequestThrottledException", 400),
			awsError("SomethingNew", 503),
			awsError("SlowDown", 429),
			Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
			new Error("socket hang up"),
			awsError("TimeoutError"),
		]) {
			expect(isTransient(error)).toBe(true);
		}
		for (const error of [
			awsError("ValidationException", 400),
			awsError("AccessDenied", 403),
			new Error("boom"),
		]) {
			expect(isTransient(error)).toBe(false);
		}
	});
});

describe("RetryBudget", () => {
	test("retries a transient failure with backoff until it succeeds, counting the retries", async () => {
		const budget = new RetryBudget(quick);
		let tries = 0;
		const result = await budget.call("Op", async () => {
			if (++tries < 3) throw awsError("ThrottlingException", 400);
			return "done";
		});
		expect(result).toBe("done");
		expect(budget.retries).toBe(2);
	});
	test("gives up after maxAttempts of one request, in one sentence naming it", async () => {
		const budget = new RetryBudget({ ...quick, maxAttempts: 2 });
		const error = await budget
			.call("PutSnapshotBlock", async () => {
				throw awsError("InternalServerException", 500);
			})
			.catch((e) => e);
		expect(error).toBeInstanceOf(PublishError);
		expect(error.message).toStartWith(
			"PutSnapshotBlock kept failing (InternalServerException) after 2 attempt(s)",
		);
	});
	test("shares one budget across every request of the run", async () => {
		const budget = new RetryBudget({ ...quick, budget: 3 });
		const flaky = () =>
			budget.call("Op", async () => {
				throw awsError("Throttling", 400);
			});
		await expect(flaky()).rejects.toBeInstanceOf(PublishError);
		expect(budget.retries).toBe(3);
		let tries = 0;
		await expect(
			budget.call("Other", async () => {
				tries++;
				throw awsError("Throttling", 400);
			}),
		).rejects.toThrow("after 1 attempt(s) and 3 retries");
		expect(tries).toBe(1);
	});
	test("does not retry what is not transient, unless the request says so", async () => {
		const budget = new RetryBudget(quick);
		await expect(
			budget.call("Op", async () => {
				throw awsError("ValidationException", 400);
			}),
		).rejects.toThrow("ValidationException");
		let tries = 0;
		const result = await budget.call(
			"Op",
			async () => {
				if (++tries < 2) throw awsError("ResourceNotFoundException", 404);
				return tries;
			},
			{ alsoRetry: (error) => (error as Error).name === "ResourceNotFoundException" },
		);
		expect(result).toBe(2);
	});
	test("abandons an attempt that hangs past its timeout, and retries it", async () => {
		const budget = new RetryBudget({ ...quick, attemptTimeoutMs: 30 });
		let tries = 0;
		const result = await budget.call("Hang", (signal) => {
			tries++;
			if (tries === 1) {
				return new Promise((_, reject) =>
					signal.addEventListener("abort", () => reject(new Error("aborted"))),
				);
			}
			return Promise.resolve("answered");
		});
		expect(result).toBe("answered");
		expect(tries).toBe(2);
		const error = await new RetryBudget({ ...quick, attemptTimeoutMs: 20, maxAttempts: 1 })
			.call(
				"Hang",
				(signal) =>
					new Promise((_, reject) =>
						signal.addEventListener("abort", () => reject(new Error("aborted"))),
					),
			)
			.catch((e: Error) => e);
		expect((error as Error).message).toContain(
			"Hang kept failing (TimeoutError: Hang got no answer within 0.02 s)",
		);
	});
});

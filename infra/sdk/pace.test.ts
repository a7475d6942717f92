import { describe, expect, test } from "bun:test";
import { AwsCalls } from "./calls.ts";
import { Pace } from "./pace.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "./retry.ts";

/** A clock that only moves when the pace sleeps: what Pace asks for, exactly, whatever the machine's speed. */
function fakeClock() {
	let now = 0;
	return {
		now: () => now,
		sleep: async (ms: number) => {
			now += ms;
		},
		get at() {
			return now;
		},
	};
}

describe("Pace", () => {
	test("starts requests at least 1/rate apart, in the order they asked", async () => {
		// The clock stands still; each request's start is when its sleep would end.
		const starts: number[] = [];
		const pace = new Pace(
			10,
			() => 0,
			async (ms) => {
				starts.push(ms);
			},
		);
		await Promise.all([0, 1, 2, 3, 4].map(() => pace.turn()));
		// The first starts at once (no sleep); the others 100 ms apart, in the order they asked.
		expect(starts).toEqual([100, 200, 300, 400]);
	});

	test("does not wait once the rate allows it", async () => {
		const clock = fakeClock();
		const pace = new Pace(10, clock.now, clock.sleep);
		await pace.turn();
		await clock.sleep(500);
		const before = clock.at;
		await pace.turn();
		expect(clock.at).toBe(before);
	});
});

describe("AwsCalls.paced", () => {
	test("waits for its turn before every attempt, the retries of a failed one included", async () => {
		const budget = new RetryBudget({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 2 });
		const events: string[] = [];
		const calls = new AwsCalls(budget, false, () => {}).paced(async () => {
			events.push("turn");
		});
		let attempts = 0;
		class PingCommand {
			readonly input = {};
		}
		const client = {
			send: async () => {
				events.push("send");
				if (++attempts < 3) {
					throw Object.assign(new Error("Rate exceeded"), {
						name: "ThrottlingException",
						$metadata: { httpStatusCode: 400 },
					});
				}
				return { $metadata: {} };
			},
		};
		// biome-ignore lint/suspicious/noExplicitAny: a stand-in command for the call wrapper.
		await calls.read(client, new PingCommand() as any);
		expect(events).toEqual(["turn", "send", "turn", "send", "turn", "send"]);
	});
});

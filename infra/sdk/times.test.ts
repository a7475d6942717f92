import { describe, expect, test } from "bun:test";
import { awsTimeIso, awsTimeMs } from "./times.ts";

describe("awsTimeMs", () => {
	test("reads a time without a zone as UTC, whatever the machine's time zone", () => {
		const utc = Date.UTC(2026, 11, 1, 10, 0, 30);
		for (const text of [
			"2026-12-01T10:00:30",
			"2026-12-01T10:00:30.000",
			"2026-12-01T10:00:30.000Z",
			"2026-12-01T11:00:30+01:00",
		]) {
			expect(awsTimeMs(text)).toBe(utc);
		}
		expect(awsTimeIso("2026-12-01T10:00:30")).toBe("2026-12-01T10:00:30.000Z");
		expect(awsTimeIso("soon")).toBeUndefined();
		// The same in a zone far from UTC: a child, since a process's zone is fixed at its start.
		const child = Bun.spawnSync(
			[
				process.execPath,
				"-e",
				`import("${import.meta.dir}/times.ts").then(m => console.log(m.awsTimeMs("2026-12-01T10:00:30")))`,
			],
			{ env: { ...process.env, TZ: "Asia/Tokyo" } },
		);
		expect(Number(child.stdout.toString())).toBe(utc);
	});
});

import { describe, expect, test } from "bun:test";
import { createProgress, formatBytes, formatSeconds } from "./progress.ts";

function recorder(live: boolean, intervalMs: number) {
	let now = 0;
	const written: string[] = [];
	const progress = createProgress({
		prefix: "publish: ",
		live,
		intervalMs,
		write: (text) => written.push(text),
		now: () => now,
	});
	return { progress, written, advance: (ms: number) => (now += ms) };
}

describe("createProgress", () => {
	test("at a terminal rewrites one line in place, a few times a second, and ends it", () => {
		const { progress, written, advance } = recorder(true, 100);
		progress.update("1 of 10");
		advance(50);
		progress.update("2 of 10");
		advance(60);
		progress.update("3 of 10");
		progress.update("4 of 10");
		progress.done();
		expect(written).toEqual([
			"\r\x1b[2Kpublish: 1 of 10",
			"\r\x1b[2Kpublish: 3 of 10",
			"\r\x1b[2Kpublish: 4 of 10",
			"\n",
		]);
	});
	test("elsewhere prints a plain line every few seconds, and the last state at the end", () => {
		const { progress, written, advance } = recorder(false, 5000);
		progress.update("1 of 10");
		for (let i = 2; i <= 9; i++) {
			advance(1000);
			progress.update(`${i} of 10`);
		}
		progress.done();
		expect(written).toEqual(["publish: 1 of 10\n", "publish: 6 of 10\n", "publish: 9 of 10\n"]);
	});
	test("with nothing to show, shows nothing", () => {
		const { progress, written } = recorder(true, 100);
		progress.done();
		expect(written).toEqual([]);
	});
});

describe("formatting", () => {
	test("seconds as m:ss or h:mm:ss, bytes in binary units", () => {
		expect(formatSeconds(42)).toBe("0:42");
		expect(formatSeconds(725)).toBe("12:05");
		expect(formatSeconds(3723)).toBe("1:02:03");
		expect(formatBytes(512)).toBe("512 B");
		expect(formatBytes(3 * 1024 ** 2 + 1)).toBe("3.0 MiB");
		expect(formatBytes(2 * 1024 ** 3)).toBe("2.0 GiB");
	});
});

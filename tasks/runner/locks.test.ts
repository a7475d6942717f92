import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers.ts";
import { TaskError } from "./errors.ts";
import { acquireLock, takeOver } from "./locks.ts";

const dir = tempDir("locks");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Another live process as a lock holder: a sleep the test starts and stops. */
function otherHolder(path: string) {
	const child = Bun.spawn(["sleep", "30"]);
	const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
	const started = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
	writeFileSync(
		join(dir, `${path.replaceAll("/", "%")}.lock`),
		JSON.stringify({ pid: child.pid, started, command: "bun task other", path, since: "09:00:00" }),
	);
	return { pid: child.pid, stop: () => child.kill() };
}

describe("acquireLock", () => {
	test("takes a free lock, names it for its path, and releases it", () => {
		const lock = acquireLock(dir, "outputs/main/a", "bun task a");
		expect(readdirSync(dir)).toEqual(["outputs%main%a.lock"]);
		expect(JSON.parse(readFileSync(join(dir, "outputs%main%a.lock"), "utf8"))).toMatchObject({
			pid: process.pid,
			command: "bun task a",
			path: "outputs/main/a",
		});
		lock.release();
		expect(readdirSync(dir)).toEqual([]);
	});
	test("refuses a path, its ancestor or its descendant while a live process holds it", () => {
		const holder = otherHolder("outputs/main/a");
		try {
			for (const path of ["outputs/main/a", "outputs", "outputs/main/a/b"]) {
				expect(() => acquireLock(dir, path, "bun task b")).toThrow(TaskError);
			}
			expect(() => acquireLock(dir, "outputs", "bun task clean")).toThrow(
				`outputs (through outputs/main/a) is being written by another run (pid ${holder.pid}: bun task other, since 09:00:00)`,
			);
			acquireLock(dir, "outputs/main/ab", "bun task c").release();
		} finally {
			holder.stop();
			rmSync(join(dir, "outputs%main%a.lock"), { force: true });
		}
		expect(readdirSync(dir)).toEqual([]);
	});
	test("takes over a lock whose holder is gone, or whose pid now belongs to another process", () => {
		for (const holder of [
			{ pid: 999_999_999, started: "1" },
			{ pid: process.pid, started: "not-when-this-process-started" },
		]) {
			writeFileSync(
				join(dir, "outputs%main%a.lock"),
				JSON.stringify({ ...holder, command: "x", path: "outputs/main/a", since: "00:00:00" }),
			);
			const lock = acquireLock(dir, "outputs/main/a", "bun task a");
			expect(JSON.parse(readFileSync(join(dir, "outputs%main%a.lock"), "utf8")).command).toBe(
				"bun task a",
			);
			lock.release();
		}
		expect(readdirSync(dir)).toEqual([]);
	});
	test("a run that took a stale lock over keeps it when a second taker of the same stale lock comes late", () => {
		// The second taker judged the old holder gone, but the first has linked its own lock meanwhile.
		const winner = otherHolder("outputs/main/a");
		const file = join(dir, "outputs%main%a.lock");
		try {
			takeOver(file, { pid: 999_999_999, started: "1" });
			expect(JSON.parse(readFileSync(file, "utf8")).pid).toBe(winner.pid);
			expect(() => acquireLock(dir, "outputs/main/a", "bun task late")).toThrow(TaskError);
		} finally {
			winner.stop();
			rmSync(file, { force: true });
		}
		expect(readdirSync(dir)).toEqual([]);
	});
	test("releasing removes only this run's own lock, not one another run holds", () => {
		const lock = acquireLock(dir, "outputs/main/a", "bun task a");
		const other = otherHolder("outputs/main/a");
		try {
			lock.release();
			expect(JSON.parse(readFileSync(join(dir, "outputs%main%a.lock"), "utf8")).pid).toBe(
				other.pid,
			);
		} finally {
			other.stop();
			rmSync(join(dir, "outputs%main%a.lock"), { force: true });
		}
	});
});

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { tempDir } from "../../test/helpers.ts";
import { describeFileSystemError } from "./errors.ts";

const dir = tempDir("fs-errors");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const show = (path: string) => relative(dir, path);

function caught(action: () => unknown): unknown {
	try {
		action();
	} catch (error) {
		return error;
	}
	throw new Error("expected the action to fail");
}

describe("describeFileSystemError", () => {
	test("names the file in the way of a directory", () => {
		writeFileSync(join(dir, "outputs"), "a file");
		const error = caught(() => mkdirSync(join(dir, "outputs/main/x"), { recursive: true }));
		expect(describeFileSystemError(error, show)).toBe(
			"outputs is a file where a directory belongs; move it away and run the task again.",
		);
		rmSync(join(dir, "outputs"));
	});
	test("names a directory where a file or link belongs", () => {
		mkdirSync(join(dir, "link/inside"), { recursive: true });
		symlinkSync("target", join(dir, "new"));
		const error = caught(() => renameSync(join(dir, "new"), join(dir, "link")));
		expect(describeFileSystemError(error, show)).toBe(
			"link is a directory where a file or link belongs; move it away and run the task again.",
		);
	});
	test("says what to do for a read-only file system, a full disk and a denied write", () => {
		const fake = (code: string) =>
			Object.assign(new Error(code), { code, syscall: "open", path: join(dir, "x") });
		expect(describeFileSystemError(fake("EROFS"), show)).toContain(
			"x is on a read-only file system",
		);
		expect(describeFileSystemError(fake("ENOSPC"), show)).toContain(
			"No space is left for x (ENOSPC)",
		);
		expect(describeFileSystemError(fake("EACCES"), show)).toContain(
			"Writing x is not permitted (EACCES); give this user write access",
		);
	});
	test("leaves any other error alone", () => {
		expect(describeFileSystemError(new Error("boom"), show)).toBeUndefined();
		expect(
			describeFileSystemError(
				caught(() => openSync(join(dir, "missing"), "r")),
				show,
			),
		).toBeUndefined();
	});
});

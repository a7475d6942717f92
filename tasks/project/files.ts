/**
 * Reading the project's data files and replacing outputs without a moment
 * where they are missing or half-written.
 */
import { readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { TaskError } from "../runner/errors.ts";

/** A JSON file's content, or a TaskError that names the file and what is wrong with it. */
export function readJson(path: string): Record<string, unknown> {
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		throw new TaskError(
			code === "ENOENT"
				? `${path} is missing; restore it (\`git checkout -- <file>\` in a checkout) and run the task again.`
				: `${path} cannot be read (${code ?? (error as Error).message}); fix it and run the task again.`,
		);
	}
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new TaskError(
			`${path} is not valid JSON (${(error as Error).message}); fix it and run the task again.`,
		);
	}
}

/** Replaces `path` with a symlink to `target` in one rename, so it is never missing. */
export function linkAtomically(target: string, path: string): void {
	const temporary = `${path}.tmp-${process.pid}`;
	rmSync(temporary, { force: true });
	symlinkSync(target, temporary);
	try {
		renameSync(temporary, path);
	} catch (error) {
		rmSync(temporary, { force: true });
		throw error;
	}
}

/**
 * Writes `value` as JSON to `path` in one rename: readers see the old file or
 * the new one, never half of it. `mode` defaults to owner read-write, others read.
 */
export function writeJsonAtomically(path: string, value: unknown, mode = 0o644): void {
	const temporary = `${path}.tmp-${process.pid}`;
	try {
		writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode });
		renameSync(temporary, path);
	} catch (error) {
		rmSync(temporary, { force: true });
		throw error;
	}
}

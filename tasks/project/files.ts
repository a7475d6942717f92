/**
 * Reading the project's data files and replacing outputs without a moment
 * where they are missing or half-written.
 */
import {
	accessSync,
	constants,
	existsSync,
	lstatSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	renameSync,
	rmSync,
	statSync,
	symlinkSync,
	writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";

/**
 * A JSON file's object, or a TaskError that names the file and what is wrong
 * with it. Never a word of its content: the file may be a link to one that
 * is not ours to show (a parser's message quotes what it choked on).
 */
export function readJson(path: string): Record<string, unknown> {
	let text: string;
	try {
		text = readFileSync(path, "utf8");
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		throw new TaskError(
			code === "ENOENT"
				? `${path} is missing; restore it (\`git checkout -- <file>\` in a checkout) and run the task again.`
				: code === "EISDIR"
					? `${path} is a directory, not a JSON file; move it away and run the task again.`
					: `${path} cannot be read (${code ?? (error as Error).message}); fix it and run the task again.`,
		);
	}
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw new TaskError(`${path} is not valid JSON; fix it and run the task again.`);
	}
	if (typeof value !== "object" || value === null || Array.isArray(value)) {
		throw new TaskError(
			`${path} holds JSON that is not an object (${value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`}); fix it and run the task again.`,
		);
	}
	return value as Record<string, unknown>;
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
	writeAtomically(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** Writes `text` to `path` in one rename (see writeJsonAtomically). */
export function writeAtomically(path: string, text: string, mode = 0o644): void {
	const temporary = `${path}.tmp-${process.pid}`;
	try {
		writeFileSync(temporary, text, { mode });
		renameSync(temporary, path);
	} catch (error) {
		rmSync(temporary, { force: true });
		// A failed write(2) names no path: name the file, for the sentence it becomes.
		if (error instanceof Error && (error as { path?: string }).path === undefined) {
			Object.assign(error, { path });
		}
		throw error;
	}
}

/**
 * Where temporary files go (TMPDIR, else /tmp), checked once it is needed:
 * a TMPDIR that is missing, not a directory, not writable or not valid UTF-8
 * is one sentence, not the error of whichever tool first tries to use it.
 */
export function temporaryBase(): string {
	const base = tmpdir();
	const fix =
		"set TMPDIR to an existing, writable directory (or unset it to use /tmp) and run the task again";
	// Node reads a TMPDIR that is not UTF-8 with replacement characters: a path that does not exist.
	if (base.includes("\uFFFD")) throw new TaskError(`TMPDIR is not valid UTF-8; ${fix}.`);
	const stat = statSync(base, { throwIfNoEntry: false });
	if (stat === undefined) throw new TaskError(`TMPDIR ${base} does not exist; ${fix}.`);
	if (!stat.isDirectory()) throw new TaskError(`TMPDIR ${base} is not a directory; ${fix}.`);
	try {
		accessSync(base, constants.W_OK | constants.X_OK);
	} catch {
		throw new TaskError(`TMPDIR ${base} is not writable by this user; ${fix}.`);
	}
	return base;
}

/**
 * Removes the directories `privateDirectory` made under `base` for processes
 * that are gone: a `kill -9` skips the cleanup, and what they hold (a login,
 * a tool's state) must not outlive its run for long.
 */
export function removeStaleDirectories(base: string, prefix: string): void {
	for (const name of readdirSync(base)) {
		if (!name.startsWith(prefix)) continue;
		const pid = Number(name.slice(prefix.length).split("-")[0]);
		if (!Number.isInteger(pid) || pid === process.pid || existsSync(`/proc/${pid}`)) continue;
		const path = join(base, name);
		// Only this user's: another user's leftover in a shared /tmp is not ours to remove.
		if (lstatSync(path, { throwIfNoEntry: false })?.uid !== process.getuid?.()) continue;
		try {
			rmSync(path, { recursive: true, force: true });
		} catch {}
	}
}

/**
 * A directory only this user can enter (mkdtemp's 0700) under `base`, named
 * `<prefix><pid>-…` so a later run can tell when it is stale, and removed
 * when the step ends however it ends (Ctrl-C too).
 */
export function privateDirectory(context: TaskContext, base: string, prefix: string): string {
	removeStaleDirectories(base, prefix);
	const dir = mkdtempSync(join(base, `${prefix}${process.pid}-`));
	context.temporary(dir);
	return dir;
}

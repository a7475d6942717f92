/** A mistake on the command line: printed as one sentence, exit code 2. */
export class UsageError extends Error {
	override readonly name = "UsageError";
	readonly exitCode = 2;
}

/**
 * A failure a user can act on (missing tool, unsupported machine, bad input file):
 * printed as one sentence without a stack trace.
 */
export class TaskError extends Error {
	override readonly name = "TaskError";
	constructor(
		message: string,
		readonly exitCode = 1,
	) {
		super(message);
	}
}

/** A command run through the shell module exited non-zero; the runner exits with its code. */
export class CommandFailed extends Error {
	override readonly name = "CommandFailed";
	constructor(
		/** The command as it was echoed. */
		readonly command: string,
		readonly exitCode: number,
		/** The last lines the command wrote to stderr, for annotations and summaries. */
		readonly stderrTail: readonly string[],
	) {
		super(`\`${command}\` exited with code ${exitCode}`);
	}
}

/** A bug in the catalog itself (a cycle, a dependency that does not exist). */
export class CatalogError extends Error {
	override readonly name = "CatalogError";
}

/** What the file system said, as Node and Bun report it. */
interface FileSystemError {
	code: string;
	path?: string;
	/** The target of a rename or link. */
	dest?: string;
}

function isFileSystemError(error: unknown): error is FileSystemError {
	return (
		error instanceof Error &&
		typeof (error as Partial<FileSystemError>).code === "string" &&
		typeof (error as { syscall?: unknown }).syscall === "string"
	);
}

/** The first component of `path` that exists but is not a directory (what made ENOTDIR), if any. */
function fileInTheWay(path: string): string | undefined {
	const { statSync } = require("node:fs") as typeof import("node:fs");
	const parts = path.split("/");
	for (let end = 2; end < parts.length; end++) {
		const prefix = parts.slice(0, end).join("/");
		try {
			if (!statSync(prefix).isDirectory()) return prefix;
		} catch {
			return undefined;
		}
	}
	return undefined;
}

/**
 * A file-system failure (read-only, full, not permitted, a file or directory
 * in the way) as one sentence that names the path and what to do, or
 * undefined for any other error. `show` makes a path readable (relative to the project).
 */
export function describeFileSystemError(
	error: unknown,
	show: (path: string) => string,
): string | undefined {
	if (!isFileSystemError(error)) return undefined;
	const path = error.dest ?? error.path;
	const again = "and run the task again";
	if (path === undefined) {
		// write(2) and its kind name no file: still one sentence, for the faults anyone can meet.
		if (error.code === "ENOSPC" || error.code === "EDQUOT") {
			return `No space is left on a file system the task writes to (${error.code}); free some (\`bun task clean\`, \`nix-collect-garbage\`) ${again}.`;
		}
		if (error.code === "EROFS") {
			return `A file system the task writes to is read-only (EROFS); make it writable ${again}.`;
		}
		return undefined;
	}
	switch (error.code) {
		case "EROFS":
			return `${show(path)} is on a read-only file system; make it writable, or work in a writable checkout, ${again}.`;
		case "ENOSPC":
		case "EDQUOT":
			return `No space is left for ${show(path)} (${error.code}); free some (\`bun task clean\`, \`nix-collect-garbage\`) ${again}.`;
		case "EACCES":
		case "EPERM":
			return `Writing ${show(path)} is not permitted (${error.code}); give this user write access to it ${again}.`;
		case "ENOTDIR":
		case "EEXIST": {
			const file = fileInTheWay(path) ?? (error.code === "EEXIST" ? path : undefined);
			if (file === undefined) return undefined;
			return `${show(file)} is a file where a directory belongs; move it away ${again}.`;
		}
		case "EISDIR":
		case "ENOTEMPTY":
			return `${show(path)} is a directory where a file or link belongs; move it away ${again}.`;
		default:
			return undefined;
	}
}

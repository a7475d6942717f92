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

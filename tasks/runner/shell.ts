/**
 * The one way tasks run commands. It wraps zx (its core only: the full "zx"
 * entry point also loads globby, yaml and fs-extra, ~50 ms more per task run).
 * Every interpolated value is quoted by zx (arrays expand to one quoted
 * argument per element), so no command line is ever built from strings. Each
 * command is echoed, its output streamed, its child tracked for signals; under
 * --dry-run it is only echoed.
 */
import { quote as ansiQuote, type ProcessOutput, $ as zx } from "zx/core";
import { CommandFailed } from "./errors.ts";
import { track } from "./processes.ts";

export type Argument = string | number | readonly (string | number)[];

export interface RunOptions {
	cwd?: string;
	/** Added to (or, with `undefined`, removed from) the runner's environment. */
	env?: Record<string, string | undefined>;
	/** Capture output without streaming it (for commands whose output the task reads). */
	quiet?: boolean;
	/** Give the command the terminal itself (prompts, progress bars); nothing is captured. */
	interactive?: boolean;
	/** Return a non-zero exit instead of throwing CommandFailed. */
	nothrow?: boolean;
	/**
	 * A read-only query whose answer decides the commands that follow (e.g. which
	 * files exist); it runs under --dry-run too, so the printed commands are exact.
	 */
	probe?: boolean;
}

export interface CommandResult {
	command: string;
	exitCode: number;
	stdout: string;
	stderr: string;
	/** True when --dry-run only printed the command. */
	skipped: boolean;
}

export interface Shell {
	(pieces: TemplateStringsArray, ...args: Argument[]): Promise<CommandResult>;
	(options: RunOptions): Shell;
}

export interface ShellConfig {
	dryRun: boolean;
	/** Where the echo of each command goes (default: stderr). */
	echo?: (line: string) => void;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
const TAIL_LINES = 20;

/**
 * Quotes one argument as a POSIX shell reads it, so an echoed command can be
 * pasted into any shell: plain words as they are, others in single quotes;
 * only text with control characters (newlines) needs bash's $'…'.
 */
export function quoteArgument(arg: string): string {
	if (arg === "") return "''";
	if (/^[\w/.\-@:=+,%][\w/.\-@:=+,%#]*$/.test(arg)) return arg;
	// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this looks for.
	if (/[\x00-\x1f\x7f]/.test(arg)) return ansiQuote(arg);
	return `'${arg.replaceAll("'", `'\\''`)}'`;
}

function environment(overrides: RunOptions["env"]): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = { ...process.env };
	for (const [name, value] of Object.entries(overrides ?? {})) {
		if (value === undefined) delete env[name];
		else env[name] = value;
	}
	return env;
}

function exitCodeOf(output: ProcessOutput): number {
	if (output.exitCode !== null) return output.exitCode;
	return 128 + (SIGNAL_NUMBERS[output.signal ?? ""] ?? 0);
}

function lastLines(text: string): string[] {
	return text.trimEnd().split("\n").slice(-TAIL_LINES);
}

/** The failure of a command run with nothrow, as the shell itself would have thrown it. */
export function commandFailed(result: CommandResult): CommandFailed {
	return new CommandFailed(result.command, result.exitCode, lastLines(result.stderr));
}

async function run(
	config: ShellConfig,
	options: RunOptions,
	pieces: TemplateStringsArray,
	args: Argument[],
): Promise<CommandResult> {
	const child = zx({
		cwd: options.cwd ?? process.cwd(),
		env: environment(options.env),
		quiet: true,
		verbose: false,
		nothrow: true,
		halt: true,
		stdio: options.interactive ? "inherit" : ["inherit", "pipe", "pipe"],
		quote: quoteArgument,
	})(pieces, ...args);
	// An empty array at the end (no arguments after --) leaves a trailing space.
	const command = child.cmd.trimEnd();
	(config.echo ?? ((line) => process.stderr.write(`${line}\n`)))(`$ ${command}`);
	if (config.dryRun && !options.probe)
		return { command, exitCode: 0, stdout: "", stderr: "", skipped: true };

	child.run();
	track({ command, kill: (signal) => child.kill(signal), exited: child.exitCode });
	if (!options.quiet && !options.interactive) {
		child.stdout.on("data", (chunk: Buffer) => process.stdout.write(chunk));
		child.stderr.on("data", (chunk: Buffer) => process.stderr.write(chunk));
	}
	const output = await child;
	const result = {
		command,
		exitCode: exitCodeOf(output),
		stdout: output.stdout,
		stderr: output.stderr,
		skipped: false,
	};
	if (result.exitCode !== 0 && !options.nothrow) {
		throw new CommandFailed(command, result.exitCode, lastLines(output.stderr));
	}
	return result;
}

/** A shell for one task; `$({ cwd, env, quiet, interactive, nothrow })` derives a configured one. */
export function createShell(config: ShellConfig, options: RunOptions = {}): Shell {
	function shell(
		first: TemplateStringsArray | RunOptions,
		...args: Argument[]
	): Promise<CommandResult> | Shell {
		if (Array.isArray(first) && "raw" in first) {
			return run(config, options, first as TemplateStringsArray, args);
		}
		return createShell(config, { ...options, ...(first as RunOptions) });
	}
	return shell as Shell;
}

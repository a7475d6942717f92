import type { OptionSpecs, OptionValues } from "./options.ts";
import type { Shell } from "./shell.ts";

/** What a task body receives. Everything it runs goes through `$`, so dry-run and signals hold. */
export interface TaskContext<V = Record<string, unknown>> {
	/** The task's name as written in the catalog. */
	task: string;
	/** Resolved option values: command line, then environment variable, then default. */
	options: V;
	/** Arguments after `--`, for the tool the task drives. */
	passthrough: readonly string[];
	/**
	 * The task the arguments after `--` were given to: this one, or a dependent
	 * that forwards them (see TaskDefinition.forwardsTo), in which case this task
	 * takes only what concerns it.
	 */
	passthroughOwner: string | undefined;
	/** True under `--dry-run`: `$` prints commands instead of running them. */
	dryRun: boolean;
	/** The project's root directory (where package.json is). */
	root: string;
	/** The one shell: echoes, tracks children, honours dry-run. */
	$: Shell;
	/** A progress line on stderr, attributed to the task. */
	log: (message: string) => void;
	/**
	 * Locks a path this step writes (absolute, inside the project) until the step
	 * ends; throws a TaskError naming the live run that holds it or an overlapping path.
	 */
	lock: (path: string) => void;
	/**
	 * Registers a path to remove when the step ends, however it ends (success,
	 * failure, Ctrl-C): staging directories, files with secrets.
	 */
	temporary: (path: string) => void;
	/**
	 * Registers something to undo when the step ends, however it ends (Ctrl-C
	 * too, awaited for up to 30 s), such as terminating a test instance. Returns
	 * a function that unregisters it, for when it was done already.
	 */
	cleanup: (action: () => Promise<void>) => () => void;
	/**
	 * Whether `task` ran earlier in this run: under --dry-run, what it would
	 * have made does not exist yet, and a later step says so instead of failing.
	 */
	ranEarlier: (task: string) => boolean;
}

/**
 * A task file's shape: its default export is the body. Declared as a method so a
 * body typed for its own options fits the catalog's general signature.
 */
export interface TaskModule<V> {
	default(context: TaskContext<V>): Promise<void>;
}

/** A preflight file's shape: its default export throws a TaskError when the check fails. */
export interface PreflightModule {
	default(): Promise<void>;
}

export interface TaskDefinition<O extends OptionSpecs = OptionSpecs> {
	/** First line: the `--list` summary. Further lines: shown by `--help`. */
	doc: string;
	options?: O;
	/** Tasks that run first, once per invocation, in this order. */
	depends?: readonly string[];
	/**
	 * A check that must pass before anything of an invocation that includes this
	 * task runs, its dependencies included (e.g. that AWS credentials resolve).
	 * Loaded lazily, like the body; a check shared by several tasks runs once.
	 */
	preflight?: () => Promise<PreflightModule>;
	/** The tool that receives arguments after `--`, e.g. "nix build"; absent means none is accepted. */
	passthrough?: string;
	/**
	 * Arguments after `--` this task refuses, each with why (e.g. `--out-link`:
	 * the task decides where nix writes): an exact match, or `name=value`.
	 */
	refusedArguments?: Readonly<Record<string, string>>;
	/**
	 * Dependencies that also receive this task's arguments after `--` and take
	 * what concerns them (deploy's --context settings must reach synth).
	 */
	forwardsTo?: readonly string[];
	/**
	 * Loads the body lazily, so listing and help import nothing heavy. A task
	 * without one only runs its dependencies (like `images`).
	 */
	load?: () => Promise<TaskModule<OptionValues<O>>>;
	/**
	 * The page of the project's manual that explains the task, relative to the
	 * project's root (e.g. "docs/releasing.md"): the last line of its `--help`.
	 * A project's catalog may require it of every task.
	 */
	manual?: string;
}

/** Declares a task, inferring its option value types for the body. */
export function defineTask<O extends OptionSpecs = Record<never, never>>(
	definition: TaskDefinition<O>,
): TaskDefinition<O> {
	return definition;
}

export type Catalog = Record<string, TaskDefinition<OptionSpecs>>;

/** Tasks whose names start with `_` are helpers: runnable, but not listed. */
export function isHidden(name: string): boolean {
	return name.startsWith("_");
}

export function summaryOf(definition: TaskDefinition<OptionSpecs>): string {
	return definition.doc.split("\n", 1)[0]?.trim() ?? "";
}

import { UsageError } from "./errors.ts";
import { checkChoice, type OptionSpec, type OptionValue } from "./options.ts";
import { acceptedOptions, lookupTask, passthroughRoute } from "./plan.ts";
import { didYouMean } from "./suggest.ts";
import type { Catalog } from "./task.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;
export type CompletionShell = (typeof SHELLS)[number];

/** Flags of the runner itself, valid with any task. */
export const GLOBAL_FLAGS = {
	help: { short: "h", doc: "Show a task's doc, options and dependencies; runs nothing." },
	list: { doc: "List every task with its one-line doc." },
	json: {
		doc: "With --list: print tasks, docs, options and dependencies as JSON.",
		// Means nothing to the runner after a task: a task may take it as its own (verify's report).
		taskMayDeclare: true,
	},
	"dry-run": { doc: "Print each command exactly as it would run, and run none." },
	completions: { doc: "Print a completion script for bash, zsh or fish." },
	version: { doc: "Print the project's version and Bun's." },
} as const;

export type Invocation =
	| { kind: "list"; json: boolean }
	| { kind: "help"; task?: string }
	| { kind: "completions"; shell: CompletionShell }
	| { kind: "version" }
	| {
			kind: "run";
			tasks: string[];
			given: Record<string, OptionValue>;
			/** Arguments after `--`. */
			passthrough: string[];
			/** Each task that receives them → the task they were given to (see passthroughRoute). */
			passthroughOwners: Record<string, string>;
			dryRun: boolean;
	  };

/** Every task option in the catalog, for tokenizing before the tasks are known. */
function allOptions(catalog: Catalog): Map<string, OptionSpec> {
	const options = new Map<string, OptionSpec>();
	for (const definition of Object.values(catalog)) {
		for (const [name, spec] of Object.entries(definition.options ?? {})) {
			if (!options.has(name)) options.set(name, spec);
		}
	}
	return options;
}

interface RawOption {
	name: string;
	rawName: string;
	value: string | undefined;
	inline: boolean;
}

function parseFlagValue(option: RawOption, spec: OptionSpec): OptionValue {
	const { name } = option;
	if (spec.type === "boolean") {
		if (option.value !== undefined) {
			throw new UsageError(`--${name} takes no value; write --${name} or --no-${name}.`);
		}
		return true;
	}
	if (option.value === undefined || (!option.inline && option.value.startsWith("--"))) {
		throw new UsageError(`--${name} needs a value: write --${name} <value> or --${name}=<value>.`);
	}
	checkChoice(name, spec, option.value, `--${name}`);
	return option.value;
}

/**
 * Splits argv into task names, options and what follows `--`. Hand-written
 * rather than node:util's parseArgs: importing node:util alone costs ~5 ms of
 * the 35 ms that `bun task --list` may take (measured with `bun run bench`).
 */
export function tokenize(
	argv: readonly string[],
	takesValue: (name: string) => boolean,
): { positionals: string[]; options: RawOption[]; passthrough: string[] } {
	const positionals: string[] = [];
	const options: RawOption[] = [];
	const terminator = argv.indexOf("--");
	const before = terminator === -1 ? argv : argv.slice(0, terminator);
	const passthrough = terminator === -1 ? [] : argv.slice(terminator + 1);
	for (let i = 0; i < before.length; i++) {
		const arg = before[i] ?? "";
		if (arg === "-h") {
			options.push({ name: "help", rawName: arg, value: undefined, inline: false });
		} else if (arg.startsWith("--")) {
			const equals = arg.indexOf("=");
			const name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
			const rawName = `--${name}`;
			if (equals !== -1) {
				options.push({ name, rawName, value: arg.slice(equals + 1), inline: true });
			} else if (takesValue(name)) {
				const value = before[i + 1];
				if (value !== undefined) i++;
				options.push({ name, rawName, value, inline: false });
			} else {
				options.push({ name, rawName, value: undefined, inline: false });
			}
		} else if (arg.startsWith("-") && arg.length > 1) {
			options.push({ name: arg.slice(1), rawName: arg, value: undefined, inline: false });
		} else {
			positionals.push(arg);
		}
	}
	return { positionals, options, passthrough };
}

/** Refuses an argument after `--` that the task decides itself, with the task's reason. */
function refuseArguments(
	task: string,
	refused: Readonly<Record<string, string>> | undefined,
	args: readonly string[],
): void {
	for (const arg of args) {
		const flag = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
		const why = refused?.[flag];
		if (why !== undefined) {
			throw new UsageError(`${flag} cannot follow -- for "${task}": ${why}`);
		}
	}
}

/**
 * Without a task, every option must be the runner's: a task's option says to
 * name the task, anything else is unknown (never silently the list).
 */
function refuseTaskOptions(options: readonly RawOption[], taskOptions: Map<string, OptionSpec>) {
	const [first] = options;
	if (first === undefined) return;
	const name = first.name.startsWith("no-") ? first.name.slice(3) : first.name;
	if (taskOptions.has(first.name) || taskOptions.get(name)?.type === "boolean") {
		throw new UsageError(
			`${first.rawName} is an option of tasks: name one, as in \`bun task <task> ${first.rawName}\` (\`bun task --list\` shows them).`,
		);
	}
	const runnerFlags = Object.keys(GLOBAL_FLAGS);
	throw new UsageError(
		`Unknown option ${first.rawName}.${didYouMean(first.name, runnerFlags, "--")} Run \`bun task --help\` to see the runner's options.`,
	);
}

/**
 * Whether a runner flag's name is also an option of a task named (`--json`:
 * the runner's with --list, verify's own after `verify`): then it is the task's.
 */
function taskFlag(name: string, tasks: readonly string[], catalog: Catalog): boolean {
	return (
		taskMayDeclare(name) && tasks.some((task) => Object.hasOwn(catalog[task]?.options ?? {}, name))
	);
}

/** Whether a task may declare an option of this runner flag's name (only --json). */
export function taskMayDeclare(name: string): boolean {
	const flag = (GLOBAL_FLAGS as Record<string, { taskMayDeclare?: boolean }>)[name];
	return flag?.taskMayDeclare === true;
}

/**
 * Reads `bun task` arguments: tasks, their options (typed and checked against
 * the tasks named), runner flags, and everything after `--`.
 */
export function parseCommandLine(argv: readonly string[], catalog: Catalog): Invocation {
	const taskOptions = allOptions(catalog);
	const {
		positionals: tasks,
		options: raw,
		passthrough,
	} = tokenize(argv, (name) => name === "completions" || taskOptions.get(name)?.type === "string");

	const flags = new Set<string>();
	let completions: string | undefined;
	const taskRaw: RawOption[] = [];
	for (const option of raw) {
		if (option.name === "completions") {
			completions = option.value ?? "";
		} else if (option.name in GLOBAL_FLAGS && !taskFlag(option.name, tasks, catalog)) {
			if (option.value !== undefined) {
				throw new UsageError(`${option.rawName} takes no value.`);
			}
			flags.add(option.name);
		} else if (option.name === "no-dry-run") {
			flags.delete("dry-run");
		} else taskRaw.push(option);
	}

	if (completions !== undefined) {
		if (!(SHELLS as readonly string[]).includes(completions)) {
			throw new UsageError(
				`--completions needs a shell: write \`bun task --completions ${SHELLS.join("|")}\`.`,
			);
		}
		return { kind: "completions", shell: completions as CompletionShell };
	}
	if (flags.has("version")) {
		if (tasks.length > 0 || raw.length > 1) {
			throw new UsageError("--version takes nothing else: run `bun task --version`.");
		}
		return { kind: "version" };
	}
	if (tasks.length === 0) refuseTaskOptions(taskRaw, taskOptions);
	if (flags.has("help")) {
		if (tasks.length > 1) {
			throw new UsageError(`--help describes one task; run \`bun task ${tasks[0]} --help\`.`);
		}
		const task = tasks[0];
		if (task !== undefined) lookupTask(catalog, task);
		return task === undefined ? { kind: "help" } : { kind: "help", task };
	}
	if (flags.has("list") || tasks.length === 0) {
		if (tasks.length > 0) {
			throw new UsageError(`--list takes no task; run \`bun task ${tasks[0]} --help\` instead.`);
		}
		return { kind: "list", json: flags.has("json") };
	}
	if (flags.has("json"))
		throw new UsageError("--json goes with --list: run `bun task --list --json`.");

	// An option no task knows is reported first: its value may look like a task name.
	for (const option of taskRaw) {
		const name = option.name.startsWith("no-") ? option.name.slice(3) : option.name;
		if (!taskOptions.has(option.name) && taskOptions.get(name)?.type !== "boolean") {
			const candidates = [...taskOptions.keys(), ...Object.keys(GLOBAL_FLAGS)];
			throw new UsageError(
				`Unknown option ${option.rawName}.${didYouMean(option.name, candidates, "--")} Run \`bun task ${tasks[0]} --help\` to see its options.`,
			);
		}
	}
	for (const task of tasks) lookupTask(catalog, task);
	const accepted = new Map<string, OptionSpec>();
	for (const task of tasks) {
		for (const [name, spec] of Object.entries(acceptedOptions(catalog, task))) {
			if (!accepted.has(name)) accepted.set(name, spec);
		}
	}
	const named = tasks.map((t) => `"${t}"`).join(" and ");
	const given: Record<string, OptionValue> = {};
	for (const option of taskRaw) {
		const negated = option.name.startsWith("no-") ? option.name.slice(3) : undefined;
		const negatedSpec = negated === undefined ? undefined : accepted.get(negated);
		if (negated !== undefined && negatedSpec?.type === "boolean" && !accepted.has(option.name)) {
			if (option.value !== undefined) {
				throw new UsageError(`${option.rawName} takes no value.`);
			}
			given[negated] = false;
			continue;
		}
		const spec = accepted.get(option.name);
		if (spec === undefined) {
			const candidates = [...accepted.keys(), ...Object.keys(GLOBAL_FLAGS)];
			const hint = didYouMean(option.name, candidates, "--");
			throw new UsageError(
				`Unknown option ${option.rawName} for ${named}.${hint} Run \`bun task ${tasks[0]} --help\` to see its options.`,
			);
		}
		given[option.name] = parseFlagValue(option, spec);
	}

	let passthroughOwners: Record<string, string> = {};
	if (passthrough.length > 0) {
		const route = passthroughRoute(catalog, tasks);
		if (route.tasks.length === 0) {
			throw new UsageError(
				`${named} take${tasks.length === 1 ? "s" : ""} no arguments after --; remove them or run a task that drives a tool.`,
			);
		}
		if (route.tools.length > 1) {
			throw new UsageError(
				`Arguments after -- would reach ${route.tools.join(" and ")}; run the task for one tool instead (${route.tasks.join(", ")}).`,
			);
		}
		for (const task of route.tasks)
			refuseArguments(task, catalog[task]?.refusedArguments, passthrough);
		passthroughOwners = route.owners;
	}
	return {
		kind: "run",
		tasks,
		given,
		passthrough,
		passthroughOwners,
		dryRun: flags.has("dry-run"),
	};
}

import {
	choicesOf,
	describeDefault,
	type OptionSpec,
	type OptionSpecs,
	usageOf,
} from "./options.ts";
import { GLOBAL_FLAGS } from "./parse.ts";
import { acceptedOptions, passthroughRoute } from "./plan.ts";
import { type Catalog, isHidden, summaryOf } from "./task.ts";

const USAGE = "Usage: bun task <task> [options] [-- arguments for the tool the task drives]";

function table(rows: readonly (readonly [string, string])[], indent = "  "): string[] {
	const width = Math.max(0, ...rows.map(([left]) => left.length));
	return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`.trimEnd());
}

export function visibleTasks(catalog: Catalog): string[] {
	return Object.keys(catalog).filter((name) => !isHidden(name));
}

/** `bun task --list`: every visible task in catalog order with its one-line doc. */
export function renderList(catalog: Catalog): string {
	const rows = visibleTasks(catalog).map((name) => {
		const definition = catalog[name];
		return [name, definition ? summaryOf(definition) : ""] as const;
	});
	return [
		USAGE,
		"",
		"Tasks:",
		...table(rows),
		"",
		"Run `bun task <task> --help` for a task's options and dependencies.",
		"",
	].join("\n");
}

/** An option's choices, or why they cannot be read: help works whatever state the data files are in. */
function readableChoices(spec: OptionSpec): readonly string[] | string | undefined {
	try {
		return choicesOf(spec);
	} catch (error) {
		return `(Its values cannot be read: ${(error as Error).message})`;
	}
}

function optionLines(specs: OptionSpecs): string[] {
	const rows: (readonly [string, string])[] = [];
	for (const [name, spec] of Object.entries(specs)) {
		const facts = [spec.doc];
		const choices = readableChoices(spec);
		if (typeof choices === "string") facts.push(choices);
		else if (choices) facts.push(`One of: ${choices.join(", ")}.`);
		const fallback = describeDefault(spec);
		if (fallback !== undefined) facts.push(`Default: ${fallback}.`);
		rows.push([usageOf(name, spec), facts.join(" ")]);
	}
	return table(rows);
}

/** `bun task <name> --help`: doc, options with types, defaults and variables, dependencies, its manual page. */
export function renderHelp(catalog: Catalog, task: string): string {
	const definition = catalog[task];
	if (definition === undefined) return renderList(catalog);
	const own = definition.options ?? {};
	const inherited = Object.fromEntries(
		Object.entries(acceptedOptions(catalog, task)).filter(([name]) => !(name in own)),
	);
	const { tools } = passthroughRoute(catalog, [task]);
	// Arguments after -- must reach exactly one tool (see parseCommandLine).
	const passthrough = tools.length === 1 ? ` [-- ${tools[0]} arguments]` : "";
	const lines = [`Usage: bun task ${task} [options]${passthrough}`, "", definition.doc.trim(), ""];
	if (Object.keys(own).length > 0) lines.push("Options:", ...optionLines(own), "");
	if (Object.keys(inherited).length > 0) {
		lines.push("Options handed to its dependencies:", ...optionLines(inherited), "");
	}
	lines.push(
		"Runner options:",
		...table([
			["--dry-run", GLOBAL_FLAGS["dry-run"].doc],
			["-h, --help", GLOBAL_FLAGS.help.doc],
		]),
		"",
	);
	const depends = definition.depends ?? [];
	lines.push(`Depends on: ${depends.length > 0 ? depends.join(", ") : "nothing"}.`);
	if (tools.length === 1) lines.push(`Arguments after -- go to \`${tools[0]}\`.`);
	// Last, so a reader who wants more than the help finds where to read on.
	if (definition.manual !== undefined) lines.push("", `Manual: ${definition.manual}`);
	lines.push("");
	return lines.join("\n");
}

/** `bun task --help` with no task: usage, runner options, and the list. */
export function renderGeneralHelp(catalog: Catalog): string {
	const flags = table([
		[
			"--list [--json]",
			"List every task with its one-line doc; --json: with options and dependencies.",
		],
		["<task> --help", GLOBAL_FLAGS.help.doc],
		["--dry-run", GLOBAL_FLAGS["dry-run"].doc],
		["--completions <shell>", GLOBAL_FLAGS.completions.doc],
		["--version", GLOBAL_FLAGS.version.doc],
	]);
	return [renderList(catalog).trimEnd(), "", "Runner options:", ...flags, ""].join("\n");
}

function jsonOption(name: string, spec: OptionSpec) {
	return {
		name,
		type: spec.type,
		doc: spec.doc,
		...(Array.isArray(readableChoices(spec)) ? { choices: readableChoices(spec) } : {}),
		...(describeDefault(spec) === undefined ? {} : { default: describeDefault(spec) }),
		...(spec.env ? { env: spec.env } : {}),
	};
}

/** `bun task --list --json`, for tooling and completions. */
export function renderJson(catalog: Catalog): string {
	const tasks = visibleTasks(catalog).map((name) => {
		const definition = catalog[name];
		return {
			name,
			doc: definition?.doc.trim() ?? "",
			summary: definition ? summaryOf(definition) : "",
			options: Object.entries(acceptedOptions(catalog, name)).map(([option, spec]) =>
				jsonOption(option, spec),
			),
			depends: definition?.depends ?? [],
			...(definition?.passthrough ? { passthrough: definition.passthrough } : {}),
			...(definition?.manual ? { manual: definition.manual } : {}),
		};
	});
	return `${JSON.stringify({ tasks }, null, 2)}\n`;
}

import { CatalogError, UsageError } from "./errors.ts";
import type { OptionSpecs, OptionValue } from "./options.ts";
import { didYouMean } from "./suggest.ts";
import { type Catalog, isHidden, type TaskDefinition } from "./task.ts";

/** One task to run, with the option values it resolved. */
export interface Step {
	task: string;
	options: Record<string, OptionValue>;
	/** Task and resolved options: a step with the same key runs once per invocation. */
	key: string;
}

export function lookupTask(catalog: Catalog, name: string): TaskDefinition<OptionSpecs> {
	const definition = catalog[name];
	if (definition !== undefined) return definition;
	const visible = Object.keys(catalog).filter((task) => !isHidden(task));
	throw new UsageError(
		`Unknown task "${name}".${didYouMean(name, visible)} Run \`bun task --list\` to see every task.`,
	);
}

function dependencyOf(catalog: Catalog, from: string, name: string): TaskDefinition<OptionSpecs> {
	const definition = catalog[name];
	if (definition === undefined) {
		throw new CatalogError(`Task "${from}" depends on "${name}", which is not in the catalog.`);
	}
	return definition;
}

/**
 * Walks a task and its dependencies depth-first, dependencies before dependents,
 * each once; a cycle is an error that names it.
 */
export function dependencyOrder(catalog: Catalog, roots: readonly string[]): string[] {
	const order: string[] = [];
	const done = new Set<string>();
	const path: string[] = [];
	const visit = (name: string): void => {
		if (done.has(name)) return;
		const start = path.indexOf(name);
		if (start !== -1) {
			const cycle = [...path.slice(start), name].join(" → ");
			throw new CatalogError(`Tasks depend on each other in a cycle: ${cycle}.`);
		}
		path.push(name);
		const definition = catalog[name] ?? lookupTask(catalog, name);
		for (const dependency of definition.depends ?? []) {
			dependencyOf(catalog, name, dependency);
			visit(dependency);
		}
		path.pop();
		done.add(name);
		order.push(name);
	};
	for (const root of roots) {
		lookupTask(catalog, root);
		visit(root);
	}
	return order;
}

/**
 * The options a task accepts: its own, then those of its dependencies (which it
 * hands down, like Babashka's inherited options). The first declaration of a name wins.
 */
export function acceptedOptions(catalog: Catalog, task: string): OptionSpecs {
	const accepted: OptionSpecs = {};
	for (const name of dependencyOrder(catalog, [task]).reverse()) {
		for (const [option, spec] of Object.entries(catalog[name]?.options ?? {})) {
			accepted[option] ??= spec;
		}
	}
	return accepted;
}

/**
 * Tasks that receive arguments after `--`: each named task that drives a tool;
 * for one that drives none (like `images`), the tasks it depends on, by the same rule.
 * So `deploy -- --verbose` reaches `cdk deploy` only, not `synth` before it.
 */
export function passthroughTargets(catalog: Catalog, roots: readonly string[]): string[] {
	dependencyOrder(catalog, roots);
	const targets: string[] = [];
	const visit = (name: string): void => {
		const definition = catalog[name];
		if (definition?.passthrough !== undefined) {
			if (!targets.includes(name)) targets.push(name);
			return;
		}
		for (const dependency of definition?.depends ?? []) visit(dependency);
	};
	for (const root of roots) visit(root);
	return targets;
}

/** Where arguments after `--` go. */
export interface PassthroughRoute {
	/** The tasks they are for: each drives a tool. */
	tasks: string[];
	/** The distinct tools those tasks drive. */
	tools: string[];
	/** Every task that receives them (the tasks above, and what they forward to) → the task they are for. */
	owners: Record<string, string>;
}

export function passthroughRoute(catalog: Catalog, roots: readonly string[]): PassthroughRoute {
	const tasks = passthroughTargets(catalog, roots);
	const tools = [...new Set(tasks.map((task) => catalog[task]?.passthrough ?? ""))];
	const owners: Record<string, string> = {};
	for (const task of tasks) {
		owners[task] = task;
		for (const receiver of catalog[task]?.forwardsTo ?? []) owners[receiver] ??= task;
	}
	return { tasks, tools, owners };
}

function keyOf(task: string, options: Record<string, OptionValue>): string {
	const parts = Object.keys(options)
		.sort()
		.map((name) => `${name}=${String(options[name])}`);
	return parts.length === 0 ? task : `${task}@${parts.join(",")}`;
}

/**
 * The steps of one invocation in the order they run. `resolve` turns a task's
 * declared options into values (command line, environment, default).
 */
export function plan(
	catalog: Catalog,
	roots: readonly string[],
	resolve: (task: string, specs: OptionSpecs) => Record<string, OptionValue>,
): Step[] {
	const steps: Step[] = [];
	const seen = new Set<string>();
	for (const task of dependencyOrder(catalog, roots)) {
		const options = resolve(task, catalog[task]?.options ?? {});
		const key = keyOf(task, options);
		if (seen.has(key)) continue;
		seen.add(key);
		steps.push({ task, options, key });
	}
	return steps;
}

import type { OptionSpec } from "./options.ts";
import { GLOBAL_FLAGS, taskMayDeclare } from "./parse.ts";
import { dependencyOrder } from "./plan.ts";
import type { Catalog } from "./task.ts";

const TASK_NAME = /^_?[a-z][a-z0-9-]*$/;

/**
 * Problems a catalog must not have, for a test to assert there are none:
 * dangling or cyclic dependencies, options that clash with the runner's flags
 * or with another task's option of the same name, missing docs.
 */
export function catalogProblems(catalog: Catalog): string[] {
	const problems: string[] = [];
	const types = new Map<string, { task: string; spec: OptionSpec }>();
	for (const [name, definition] of Object.entries(catalog)) {
		if (!TASK_NAME.test(name)) problems.push(`Task name "${name}" is not lower-case kebab-case.`);
		if (definition.doc.trim() === "") problems.push(`Task "${name}" has no doc.`);
		if (definition.load === undefined && (definition.depends ?? []).length === 0) {
			problems.push(`Task "${name}" has neither a body nor dependencies.`);
		}
		try {
			dependencyOrder(catalog, [name]);
		} catch (error) {
			problems.push((error as Error).message);
		}
		for (const [option, spec] of Object.entries(definition.options ?? {})) {
			if (
				(option in GLOBAL_FLAGS && !taskMayDeclare(option)) ||
				option === "h" ||
				option.startsWith("no-")
			) {
				problems.push(`Task "${name}" declares --${option}, which the runner reserves.`);
			}
			const earlier = types.get(option);
			if (earlier !== undefined && earlier.spec.type !== spec.type) {
				problems.push(
					`--${option} is a ${earlier.spec.type} in "${earlier.task}" but a ${spec.type} in "${name}".`,
				);
			}
			if (earlier === undefined) types.set(option, { task: name, spec });
			if (spec.doc.trim() === "") problems.push(`Option --${option} of "${name}" has no doc.`);
		}
	}
	return [...new Set(problems)];
}

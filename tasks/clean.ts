import { existsSync } from "node:fs";
import { relative } from "node:path";
import type { CleanOptions } from "./project/options.ts";
import { kindPaths, OUTPUT_KINDS, outputDir, outputsRoot } from "./project/outputs.ts";
import type { TaskContext } from "./runner/task.ts";

/** The directories `clean` removes for the given filters; all of them lie inside outputs/. */
export function cleanTargets(root: string, kind?: string, system?: string): string[] {
	if (kind === undefined && system === undefined) return [outputsRoot(root)];
	const kinds = OUTPUT_KINDS.filter((k) => kind === undefined || k === kind);
	return kinds.flatMap((k) =>
		system === undefined ? kindPaths(root, k) : [outputDir(root, k, system)],
	);
}

export default async function clean({ options, root, $, log }: TaskContext<CleanOptions>) {
	const targets = cleanTargets(root, options.kind, options.system).filter((path) =>
		existsSync(path),
	);
	if (targets.length === 0) {
		log("nothing to remove.");
		return;
	}
	await $`rm -rf -- ${targets.map((path) => relative(root, path))}`;
}

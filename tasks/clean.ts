import { existsSync } from "node:fs";
import { relative } from "node:path";
import type { CleanOptions } from "./project/options.ts";
import {
	kindPaths,
	OUTPUT_KINDS,
	outputDir,
	outputsRoot,
	SYSTEMLESS_KINDS,
} from "./project/outputs.ts";
import { UsageError } from "./runner/errors.ts";
import type { TaskContext } from "./runner/task.ts";

/** The directories `clean` removes for the given filters; all of them lie inside outputs/. */
export function cleanTargets(root: string, kind?: string, system?: string): string[] {
	if (kind === undefined && system === undefined) return [outputsRoot(root)];
	if (system !== undefined && (SYSTEMLESS_KINDS as readonly string[]).includes(kind ?? "")) {
		throw new UsageError(
			`--kind ${kind} has no systems, so --system does not apply to it; drop --system, or choose another --kind.`,
		);
	}
	const kinds = OUTPUT_KINDS.filter((k) => kind === undefined || k === kind);
	return kinds.flatMap((k) =>
		system === undefined ? kindPaths(root, k) : [outputDir(root, k, system)],
	);
}

export default async function clean({ options, root, $, log, lock }: TaskContext<CleanOptions>) {
	const targets = cleanTargets(root, options.kind, options.system).filter((path) =>
		existsSync(path),
	);
	if (targets.length === 0) {
		log("nothing to remove.");
		return;
	}
	// Nothing is removed while another run writes there.
	for (const target of targets) lock(target);
	await $`rm -rf -- ${targets.map((path) => relative(root, path))}`;
}

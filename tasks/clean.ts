import { existsSync, lstatSync, readdirSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { deleteStorePaths, storePathOf } from "./nix/store.ts";
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
function cleanTargets(root: string, kind?: string, system?: string): string[] {
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

/**
 * The Nix store paths the image result links under `targets` point at: an
 * image output is outputs/main/<kind>/<system>/result, so at most four
 * levels below outputs/.
 */
function imageStorePaths(targets: readonly string[]): string[] {
	const found = new Set<string>();
	const visit = (path: string, depth: number) => {
		const entry = lstatSync(path, { throwIfNoEntry: false });
		if (entry?.isSymbolicLink() && basename(path) === "result") {
			// A link whose path was collected already has nothing left to delete.
			const target = storePathOf(path);
			if (target?.startsWith("/nix/store/") && existsSync(target)) found.add(target);
			return;
		}
		if (!entry?.isDirectory() || depth === 0) return;
		for (const name of readdirSync(path)) visit(join(path, name), depth - 1);
	};
	for (const target of targets) visit(target, 4);
	return [...found].sort();
}

export default async function clean(context: TaskContext<CleanOptions>) {
	const { options, root, $, log, lock } = context;
	const targets = cleanTargets(root, options.kind, options.system).filter((path) =>
		existsSync(path),
	);
	if (targets.length === 0) {
		log("nothing to remove.");
		return;
	}
	// Nothing is removed while another run writes there.
	for (const target of targets) lock(target);
	const storePaths = options.store ? imageStorePaths(targets) : [];
	await $`rm -rf -- ${targets.map((path) => relative(root, path))}`;
	if (storePaths.length > 0) await deleteStorePaths(context, storePaths);
}

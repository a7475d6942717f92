/** Store paths of out-links, and deleting them: what `clean --store` does once an image's result link is gone. */
import { readlinkSync } from "node:fs";
import { TaskError } from "../runner/errors.ts";
import { commandFailed } from "../runner/shell.ts";
import type { TaskContext } from "../runner/task.ts";
import { NIX_FEATURES, requireNixTool } from "./cli.ts";

/** The store path an out-link points at, or undefined when it is no link. */
export function storePathOf(link: string): string | undefined {
	try {
		return readlinkSync(link);
	} catch {
		return undefined;
	}
}

/**
 * `nix store delete` of paths no longer rooted by their result links. A path
 * another GC root still keeps alive is not deleted: that is one sentence
 * naming it and how to find the root.
 */
export async function deleteStorePaths(
	{ $, log }: Pick<TaskContext, "$" | "log">,
	paths: readonly string[],
): Promise<void> {
	requireNixTool();
	const run = await $({ nothrow: true })`nix ${NIX_FEATURES} store delete ${paths}`;
	if (run.exitCode === 0) {
		log(`deleted ${paths.length} image store path(s).`);
		return;
	}
	const alive = /Cannot delete path '([^']+)' since it is still alive/.exec(run.stderr)?.[1];
	if (alive) {
		throw new TaskError(
			`${alive} is still kept alive by another GC root, so it was not deleted; \`nix-store --query --roots ${alive}\` names it: remove that root and run the task again.`,
		);
	}
	throw commandFailed(run);
}

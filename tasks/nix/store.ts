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

/** A store path's shape: <store dir>/<32-character hash>-<name>, nothing below it. */
const STORE_PATH = /^\/.+\/[0-9a-df-np-sv-z]{32}-[^/]+$/;

/**
 * Whether `path` is a valid path of the local Nix store (built or
 * substituted, registered, not garbage): `nix path-info --offline` knows it.
 * A read; it runs under --dry-run too.
 */
export async function validStorePath(
	{ $ }: Pick<TaskContext, "$">,
	path: string,
): Promise<boolean> {
	if (!STORE_PATH.test(path)) return false;
	requireNixTool();
	const run = await $({
		quiet: true,
		probe: true,
		nothrow: true,
	})`nix ${NIX_FEATURES} path-info --json --offline ${path}`;
	if (run.exitCode !== 0) return false;
	try {
		const [info] = JSON.parse(run.stdout) as { path?: string; valid?: boolean; narHash?: string }[];
		return info?.path === path && info.valid !== false && typeof info.narHash === "string";
	} catch {
		return false;
	}
}

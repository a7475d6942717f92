/**
 * The closure of an image's roots, read from the local store with
 * `nix path-info --json --recursive`: no flake evaluation, only what was built.
 * Nix has printed that JSON in three shapes, all read here:
 *   Nix ≤ 2.18   an array of objects, each with its `path`;
 *   Nix 2.19 on  an object keyed by store path (`--json-format 1` from 2.33);
 *   Nix 2.33 on  with `--json-format 2` (or 3): `{version, storeDir, info}`, `info`
 *                keyed by store path base name, references base names too.
 */

import { NIX_FEATURES, requireNixTool } from "../nix/cli.ts";
import { TaskError } from "../runner/errors.ts";
import { commandFailed } from "../runner/shell.ts";
import type { TaskContext } from "../runner/task.ts";
import { sha256Hex } from "./hashes.ts";
import { isStorePath } from "./names.ts";

export interface StoreObject {
	path: string;
	/** SHA-256 of the object's NAR serialisation, in hex. */
	narHash: string;
	/** Store paths it refers to, itself included where it does. */
	references: string[];
}

/** What path-info's JSON holds, or a message saying what is wrong with it. */
export class PathInfoError extends Error {}

function record(value: unknown): Record<string, unknown> | undefined {
	return typeof value === "object" && value !== null && !Array.isArray(value)
		? (value as Record<string, unknown>)
		: undefined;
}

/** One object's info; `resolve` turns a reference as printed into a store path. */
function storeObject(
	path: string,
	info: unknown,
	resolve: (reference: string) => string,
): StoreObject {
	const fields = record(info);
	// Nix prints an invalid path as null (2.19 on) or with "valid": false (before).
	if (fields === undefined || fields.valid === false) {
		throw new PathInfoError(`${path} is not valid in the local store`);
	}
	const narHash = sha256Hex(fields.narHash);
	if (narHash === undefined) {
		throw new PathInfoError(`${path} has no SHA-256 NAR hash Nix's JSON is known to print`);
	}
	const references = fields.references;
	if (!Array.isArray(references) || references.some((r) => typeof r !== "string")) {
		throw new PathInfoError(`${path} has no list of references`);
	}
	return { path, narHash, references: (references as string[]).map(resolve) };
}

/** Every store object of `nix path-info --json` output, in any of its shapes, sorted by path. */
export function parsePathInfo(json: unknown): StoreObject[] {
	const asIs = (reference: string) => reference;
	let objects: StoreObject[];
	const top = record(json);
	if (Array.isArray(json)) {
		objects = json.map((entry) => {
			const path = record(entry)?.path;
			if (typeof path !== "string") throw new PathInfoError("an entry has no path");
			return storeObject(path, entry, asIs);
		});
	} else if (top !== undefined && typeof top.version === "number" && record(top.info)) {
		const storeDir = top.storeDir;
		if (typeof storeDir !== "string" || !storeDir.startsWith("/")) {
			throw new PathInfoError("it has no storeDir");
		}
		const full = (baseName: string) => `${storeDir}/${baseName}`;
		objects = Object.entries(record(top.info) ?? {}).map(([baseName, info]) =>
			storeObject(full(baseName), info, full),
		);
	} else if (top !== undefined) {
		// Keyed by store path; anything else at the top (a storeDir, a version) is not an object.
		objects = Object.entries(top)
			.filter(([key]) => key.startsWith("/"))
			.map(([path, info]) => storeObject(path, info, asIs));
	} else {
		throw new PathInfoError("it is neither a list nor an object");
	}
	const listed = new Set(objects.map((object) => object.path));
	for (const object of objects) {
		if (!isStorePath(object.path)) throw new PathInfoError(`${object.path} is not a store path`);
		// A closure lists what it refers to: a dependency the SBOM cannot show is a broken one.
		const missing = object.references.find((reference) => !listed.has(reference));
		if (missing !== undefined) {
			throw new PathInfoError(`${object.path} refers to ${missing}, which it does not list`);
		}
	}
	return objects.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The arguments that choose path-info's JSON shape for the Nix whose
 * `nix --version` is `line`: `--json-format 2` from Nix 2.33, which warns
 * without it and will require it; none before (they refuse the flag), nor for
 * Lix, whose versions (2.9x) are numbered past Nix's without having it.
 */
export function jsonFormatArguments(line: string): string[] {
	if (/\bLix\b/.test(line)) return [];
	const versions = [...line.matchAll(/(\d+)\.(\d+)(?:\.\d+)?/g)];
	const last = versions[versions.length - 1];
	if (last === undefined) return [];
	const [major, minor] = [Number(last[1]), Number(last[2])];
	return major > 2 || (major === 2 && minor >= 33) ? ["--json-format", "2"] : [];
}

/** `nix --version`, asked once per run: both images' SBOMs read the same Nix. */
let versionLine: string | undefined;

/**
 * The closure of `roots` in the local store. A root that is not there (an
 * image whose contents were deleted under it) is one sentence naming it and
 * `rebuild`, the command that brings it back.
 */
export async function readClosure(
	{ $ }: Pick<TaskContext, "$">,
	roots: readonly string[],
	rebuild: string,
): Promise<StoreObject[]> {
	requireNixTool();
	versionLine ??= (await $({ quiet: true, probe: true })`nix --version`).stdout.trim();
	// One array, so an empty format leaves no gap in the echoed command.
	const args = [...jsonFormatArguments(versionLine), "--recursive", "--offline", ...roots];
	const run = await $({
		quiet: true,
		probe: true,
		nothrow: true,
	})`nix ${NIX_FEATURES} path-info --json ${args}`;
	if (run.exitCode !== 0) {
		const invalid = /path '([^']+)' is not valid/.exec(run.stderr)?.[1];
		if (invalid !== undefined) {
			throw new TaskError(
				`${invalid}, a store path the image's SBOM lists, is not in the local store; rebuild the image: ${rebuild}.`,
			);
		}
		throw commandFailed(run);
	}
	let json: unknown;
	try {
		json = JSON.parse(run.stdout);
	} catch {
		throw new TaskError(
			`nix path-info --json printed something that is not JSON; check \`nix --version\` (${versionLine}) and report it.`,
		);
	}
	try {
		return parsePathInfo(json);
	} catch (error) {
		if (!(error instanceof PathInfoError)) throw error;
		throw new TaskError(
			`nix path-info --json printed a closure this task cannot read (${error.message}); rebuild the image (${rebuild}), and if it persists report it with \`nix --version\` (${versionLine}).`,
		);
	}
}

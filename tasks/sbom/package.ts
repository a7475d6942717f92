/**
 * What an image package names for its SBOM in nix-support/ (written at
 * evaluation time by nix/sbom.nix): the roots of the closure the SBOM lists,
 * and the licenses nixpkgs' meta gave them. Read from the store path itself,
 * which Nix keeps read-only, so it is what the build wrote.
 */
import { existsSync, readFileSync } from "node:fs";
import { readJson } from "../project/files.ts";
import { TaskError } from "../runner/errors.ts";
import { isStorePath } from "./names.ts";

export interface SbomInputs {
	roots: string[];
	/** Store path → SPDX license ids, where the build knew them. */
	licenses: Map<string, string[]>;
}

export function readSbomInputs(store: string, rebuild: string): SbomInputs {
	const rootsFile = `${store}/nix-support/sbom-roots`;
	if (!existsSync(rootsFile)) {
		throw new TaskError(
			`${rootsFile} is missing: the image was built by an expression that names no SBOM roots; rebuild it with ${rebuild}.`,
		);
	}
	const roots = [
		...new Set(
			readFileSync(rootsFile, "utf8")
				.split("\n")
				.map((line) => line.trim())
				.filter((line) => line !== ""),
		),
	];
	const bad = roots.find((root) => !isStorePath(root));
	if (roots.length === 0 || bad !== undefined) {
		throw new TaskError(
			`${rootsFile} ${bad === undefined ? "names no store path" : `holds ${JSON.stringify(bad)}, which is not a store path`}; rebuild the image with ${rebuild}.`,
		);
	}
	const licenses = new Map<string, string[]>();
	const licensesFile = `${store}/nix-support/sbom-licenses.json`;
	// Optional: an image that knows no licenses writes none.
	if (existsSync(licensesFile)) {
		for (const [path, ids] of Object.entries(readJson(licensesFile))) {
			if (!Array.isArray(ids) || ids.some((id) => typeof id !== "string" || id === "")) {
				throw new TaskError(
					`${licensesFile} gives ${path} something other than a list of SPDX ids; rebuild the image with ${rebuild}.`,
				);
			}
			licenses.set(path, ids as string[]);
		}
	}
	return { roots, licenses };
}

/**
 * The release users get now, as this machine knows it: outputs/main/release.json
 * (the pipeline restores the published one there), if it reads as one.
 * Later releases compare with it, and retention keeps what it names.
 */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { readJson } from "../project/files.ts";
import { releaseOutput } from "../project/outputs.ts";
import type { ReleaseManifest } from "./manifest.ts";
import { checkManifest } from "./manifest-check.ts";

export function currentManifest(root: string): ReleaseManifest | undefined {
	const path = releaseOutput(root).json;
	if (!existsSync(path)) return undefined;
	try {
		return checkManifest(readJson(path), relative(root, path));
	} catch {
		return undefined;
	}
}

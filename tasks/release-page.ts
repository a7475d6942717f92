/**
 * `release-page`: the release page from release.json alone, without AWS, so
 * it can be rendered again (for an older release too, from the pipeline's
 * `release` artifact).
 */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { readJson } from "./project/files.ts";
import { releaseOutput } from "./project/outputs.ts";
import { checkManifest } from "./release/manifest-check.ts";
import { writePage } from "./release/page.ts";
import { TaskError } from "./runner/errors.ts";
import type { TaskContext } from "./runner/task.ts";

export default async function releasePage({ root, dryRun, log, lock }: TaskContext) {
	const output = releaseOutput(root);
	const shown = relative(root, output.json);
	if (!existsSync(output.json)) {
		throw new TaskError(
			`${shown} is missing; run \`bun task release\`, or put an earlier release's release.json there (the pipeline keeps it as the artifact "release").`,
		);
	}
	lock(output.dir);
	const manifest = checkManifest(readJson(output.json), shown);
	if (dryRun) {
		log(`would write ${relative(root, output.page)} for ${manifest.version}.`);
		return;
	}
	writePage(output.page, manifest);
	log(`wrote ${relative(root, output.page)} for ${manifest.version}.`);
}

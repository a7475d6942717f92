/**
 * `release-page`: the release page from release.json alone, without AWS, so
 * it can be rendered again (for an older release too, from the pipeline's
 * `release` artifact); with the history beside it (releases.json), every
 * kept release's page too.
 */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { readJson } from "./project/files.ts";
import { releaseOutput } from "./project/outputs.ts";
import { keptReleases, readHistory, writePages } from "./release/history.ts";
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
	// With the history the site keeps, when it has one: every page lists the others. A release
	// that is not the history's current one gets only its own kept page, never the site's.
	const history = readHistory(output.dir, manifest.stack);
	const current = history.releases.find((entry) => entry.current);
	if (history.releases.length === 0) {
		writePage(output.page, manifest);
		log(`wrote ${relative(root, output.page)} for ${manifest.version}.`);
	} else if (current?.releaseId === manifest.releaseId) {
		writePages(output.dir, history, keptReleases(output.dir, history), manifest);
		log(
			`wrote ${relative(root, output.page)} for ${manifest.version} and the pages of the ${history.releases.length} releases of the history.`,
		);
	} else {
		const entry = history.releases.find((other) => other.releaseId === manifest.releaseId);
		if (entry === undefined) {
			throw new TaskError(
				`${shown} is release ${manifest.version}, which the history beside the page (${relative(root, output.dir)}/releases.json) does not hold, and its current release is ${current?.version ?? "none"}; put the current release's release.json there, or render this one where no history is.`,
			);
		}
		const path = `${output.dir}/${entry.page}`;
		writePage(path, manifest, { history, base: "../../" });
		log(
			`wrote ${relative(root, path)} for ${manifest.version}, an earlier release of the history.`,
		);
	}
}

/**
 * `bun run bench`: every measurement compares against a baseline taken in the
 * same run, so the ratios hold on a noisy machine where absolute times do not.
 * `bun run bench runner` runs one section.
 */
import { resolve } from "node:path";
import { benchBuild } from "./bench/build.ts";
import { benchPublish } from "./bench/publish.ts";
import { benchPublishTask } from "./bench/publish-task.ts";
import { benchRunner } from "./bench/runner.ts";
import { benchSbom } from "./bench/sbom.ts";
import { benchSynth } from "./bench/synth.ts";
import { benchVerify } from "./bench/verify.ts";

const root = resolve(import.meta.dir, "..");
const sections: Record<string, () => unknown> = {
	runner: () => benchRunner(root),
	build: () => benchBuild(),
	synth: () => benchSynth(),
	publish: () => benchPublish(),
	"publish-task": () => benchPublishTask(),
	verify: () => benchVerify(),
	sbom: () => benchSbom(),
};

const wanted = Bun.argv.slice(2);
for (const name of wanted) {
	if (!(name in sections)) {
		console.error(
			`error: no bench section "${name}"; choose from ${Object.keys(sections).join(", ")}.`,
		);
		process.exit(2);
	}
}
for (const [name, run] of Object.entries(sections)) {
	if (wanted.length === 0 || wanted.includes(name)) await run();
}

/**
 * Runner overhead on a build: `bun task oci-container` against the raw
 * `nix build` it runs, both a no-op rebuild of the same fixture flake.
 * Target: ≤ 150 ms of overhead (median difference).
 */
import { join } from "node:path";
import { installable } from "../../tasks/nix/build-image.ts";
import { NIX_FEATURES } from "../../tasks/nix/cli.ts";
import {
	fixtureFlake,
	HOST,
	OFFLINE_NIX_CONFIG,
	projectCopy,
} from "../../test/fixtures/projects.ts";
import { type Measurement, measure, report } from "./measure.ts";

export function benchBuild(): Measurement[] {
	const flake = fixtureFlake();
	const project = projectCopy();
	try {
		const env = { ...process.env, NIX_CONFIG: OFFLINE_NIX_CONFIG } as Record<string, string>;
		const nixBuild = [
			"nix",
			...NIX_FEATURES,
			"build",
			installable(flake.dir, HOST, "oci-container"),
			"--out-link",
			join(flake.dir, "raw-result"),
			"--print-build-logs",
		];
		const bunTask = [process.execPath, "task", "oci-container", "--flake", flake.dir];
		// The warm-up runs build; every measured run is the same no-op rebuild.
		const results = [
			measure("nix build (no-op rebuild)", nixBuild, { env, runs: 20 }),
			measure("bun task oci-container (same)", bunTask, { env, cwd: project.dir, runs: 20 }),
		];
		report("Build overhead", results);
		const [raw, task] = results;
		if (raw && task) {
			const overhead = task.median - raw.median;
			console.log(
				`  runner overhead: ${overhead.toFixed(0)} ms (target ≤ 150 ms: ${overhead <= 150 ? "met" : "missed"})`,
			);
		}
		return results;
	} finally {
		project.dispose();
		flake.dispose();
	}
}

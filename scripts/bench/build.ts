/**
 * Runner overhead on a build: `bun task oci-container` against the raw
 * `nix build` it runs, both a no-op rebuild of the same fixture flake.
 * Target: ≤ 150 ms of overhead (median difference).
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Measurement, measure, report } from "./measure.ts";

const PROJECT_FILES = ["tasks", "nix", "package.json", "bun.lock", "bunfig.toml"];

export function benchBuild(root: string): Measurement[] {
	const system = process.arch === "arm64" ? "aarch64-linux" : "x86_64-linux";
	const work = mkdtempSync(join(tmpdir(), "nix-images-bench-build-"));
	try {
		const flake = join(work, "flake");
		cpSync(join(root, "test/fixtures/images/flake.nix"), join(flake, "flake.nix"));
		writeFileSync(join(flake, "mode.nix"), '"good"');
		writeFileSync(join(flake, "nonce.nix"), JSON.stringify(`bench-${Date.now()}`));
		const project = join(work, "project");
		for (const entry of PROJECT_FILES)
			cpSync(join(root, entry), join(project, entry), { recursive: true });
		symlinkSync(join(root, "node_modules"), join(project, "node_modules"));
		const env = {
			...process.env,
			NIX_CONFIG: "substituters =\nflake-registry =\nwarn-dirty = false",
		} as Record<string, string>;
		const nixBuild = [
			"nix",
			"--extra-experimental-features",
			"nix-command flakes",
			"build",
			`${flake}#packages.${system}.oci-container`,
			"--out-link",
			join(work, "raw-result"),
			"--print-build-logs",
		];
		const bunTask = [process.execPath, "task", "oci-container", "--flake", flake];
		// The first runs build; every measured run is the same no-op rebuild.
		const results = [
			measure("nix build (no-op rebuild)", nixBuild, { env, runs: 20 }),
			measure("bun task oci-container (same)", bunTask, { env, cwd: project, runs: 20 }),
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
		rmSync(work, { recursive: true, force: true });
	}
}

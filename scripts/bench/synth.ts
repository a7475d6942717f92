/**
 * `bun task synth` against `cdk synth` of the same app, both writing the same
 * assembly. Targets: ≤ 2 s median, and at least 4× faster than the original
 * project's synth (nbb + cdk CLI, ≈ 7.7 s median on this kind of machine).
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Measurement, measure, report } from "./measure.ts";

const PROJECT_FILES = [
	"tasks",
	"infra",
	"nix",
	"cdk.json",
	"package.json",
	"bun.lock",
	"bunfig.toml",
];
const ORIGINAL_SYNTH_MS = 7700;

export function benchSynth(root: string): Measurement[] {
	const project = mkdtempSync(join(tmpdir(), "nix-images-bench-synth-"));
	try {
		for (const entry of PROJECT_FILES)
			cpSync(join(root, entry), join(project, entry), { recursive: true });
		symlinkSync(join(root, "node_modules"), join(project, "node_modules"));
		const cli = join(project, "node_modules/aws-cdk/bin/cdk");
		const node = Bun.which("node");
		const settings = { cwd: project, runs: 5, warmup: 1 };
		const results = [
			...(node
				? [
						measure(
							"cdk synth (CLI on Node.js)",
							[node, cli, "synth", "--quiet", "--no-notices"],
							settings,
						),
					]
				: []),
			measure(
				"cdk synth (CLI on Bun)",
				[process.execPath, cli, "synth", "--quiet", "--no-notices"],
				settings,
			),
			measure("bun task synth --force", [process.execPath, "task", "synth", "--force"], settings),
			measure("bun task synth (up to date)", [process.execPath, "task", "synth"], {
				...settings,
				runs: 10,
			}),
		];
		report("Synth", results);
		const ours = results.find((m) => m.label === "bun task synth --force");
		if (ours) {
			console.log(
				`  bun task synth --force: ${(ours.median / 1000).toFixed(2)} s (target ≤ 2 s: ${ours.median <= 2000 ? "met" : "missed"}); ${(ORIGINAL_SYNTH_MS / ours.median).toFixed(1)}× faster than the original's ≈ 7.7 s (target ≥ 4×)`,
			);
		}
		return results;
	} finally {
		rmSync(project, { recursive: true, force: true });
	}
}

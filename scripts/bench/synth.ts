/**
 * `bun task synth` against `cdk synth` of the same app, both writing the same
 * assembly. Targets: ≤ 2 s median, and at least 4× faster than the original
 * project's synth (nbb + cdk CLI, ≈ 7.7 s median on this kind of machine).
 * With BENCH_BEFORE=<git revision>, `bun task synth --force` of that revision
 * is measured in the same run too (a change's before and after).
 */
import { cdkCli } from "../../tasks/cdk/cli.ts";
import { projectAt, projectCopy } from "../../test/fixtures/projects.ts";
import { type Measurement, measure, report } from "./measure.ts";

const ORIGINAL_SYNTH_MS = 7700;

export function benchSynth(): Measurement[] {
	const copy = projectCopy();
	const project = copy.dir;
	const revision = process.env.BENCH_BEFORE;
	const before = revision ? projectAt(revision) : undefined;
	try {
		const cli = cdkCli(project);
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
			...(before
				? [
						measure(
							`bun task synth --force (${revision})`,
							[process.execPath, "task", "synth", "--force"],
							{ ...settings, cwd: before.dir },
						),
					]
				: []),
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
		copy.dispose();
		before?.dispose();
	}
}

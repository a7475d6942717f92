/**
 * `bun task sbom` against what it is made of: `nix path-info --json
 * --recursive` of the same roots (the store query it runs), with bare
 * `bun -e ''` as the floor, both images of the fixture flake built once.
 * The difference is the task's own work: the runner, reading the package,
 * making and validating two CycloneDX documents, and writing them.
 */
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { NIX_FEATURES } from "../../tasks/nix/cli.ts";
import { fixtureFlake, HOST, KVM_NIX_CONFIG, projectCopy } from "../../test/fixtures/projects.ts";
import { type Measurement, measure, report } from "./measure.ts";

export function benchSbom(): Measurement[] {
	const flake = fixtureFlake();
	const project = projectCopy();
	try {
		const env = { ...process.env, NIX_CONFIG: KVM_NIX_CONFIG } as Record<string, string>;
		const built = Bun.spawnSync([process.execPath, "task", "images", "--flake", flake.dir], {
			cwd: project.dir,
			env,
			stderr: "pipe",
		});
		if (built.exitCode !== 0)
			throw new Error(`the fixture's images did not build: ${built.stderr}`);
		const roots = ["oci-container", "virtual-machine"].flatMap((kind) => {
			const store = realpathSync(join(project.dir, "outputs/main", kind, HOST, "result"));
			return readFileSync(join(store, "nix-support/sbom-roots"), "utf8").trim().split("\n");
		});
		const results = [
			measure("bun -e ''", [process.execPath, "-e", ""], { runs: 20 }),
			measure(
				"nix path-info --json --recursive (both images' roots)",
				["nix", ...NIX_FEATURES, "path-info", "--json", "--recursive", "--offline", ...roots],
				{ env, runs: 20 },
			),
			measure("bun task sbom (both images)", [process.execPath, "task", "sbom"], {
				env,
				cwd: project.dir,
				runs: 20,
			}),
		];
		report("SBOM", results);
		return results;
	} finally {
		project.dispose();
		flake.dispose();
	}
}

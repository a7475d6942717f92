/**
 * `bun task verify` of 2 systems × the 17 default regions against the
 * stand-in with 50 ms of latency on every request: wall time and requests
 * per region. Baselines in the same run: bare `bun -e ''`, and verify of a
 * release in one region only (one region's sequential chain plus the fixed
 * cost: start-up, the stack's outputs). The 17-region run should cost about
 * that one chain, not 17 of them: regions are checked at once, each paced
 * to at most 10 requests a second.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AWS_REGIONS } from "../../infra/vocabulary.ts";
import { pointParameters, type SeedSystem, seedBuild, seededRelease } from "../../test/aws/seed.ts";
import { standInAccount } from "../../test/aws/start.ts";
import { projectCopy } from "../../test/fixtures/projects.ts";
import { median } from "./measure.ts";

const LATENCY_MS = 50;
const RUNS = 5;

async function timed(project: string, env: Record<string, string>, file: string) {
	const started = performance.now();
	const child = Bun.spawn([process.execPath, "task", "verify", "--release", file], {
		cwd: project,
		// Only the stand-in's credentials and endpoint: never a profile of the machine's.
		env: { PATH: process.env.PATH ?? "", HOME: project, ...env },
		stdout: "pipe",
		stderr: "pipe",
	});
	const [stdout, stderr, code] = await Promise.all([
		new Response(child.stdout).text(),
		new Response(child.stderr).text(),
		child.exited,
	]);
	if (code !== 0) throw new Error(`verify exited ${code}:\n${stdout}\n${stderr.slice(-1500)}`);
	return performance.now() - started;
}

export async function benchVerify() {
	const project = projectCopy();
	const { world, standIn } = await standInAccount();
	try {
		const regions = [...AWS_REGIONS.default];
		const stack = world.stacks.get("Production");
		if (stack) stack.outputs.DistributionRegions = regions.join(",");
		const builds = (["x86_64-linux", "aarch64-linux"] as SeedSystem[]).map((system, i) =>
			seedBuild(world, { system, buildId: `${i + 1}`.repeat(16), daysAgo: 1, regions }),
		);
		for (const build of builds) pointParameters(world, build);
		const dir = join(project.dir, "outputs/main");
		mkdirSync(dir, { recursive: true });
		const all = join(dir, "release.json");
		writeFileSync(all, JSON.stringify(seededRelease(builds, regions)));
		// One region: the same builds, only their home-region copies.
		const one = join(project.dir, "one-region.json");
		const home = builds.map((build) => ({
			...build,
			copies: { "us-east-1": build.copies["us-east-1"] as string },
		}));
		writeFileSync(one, JSON.stringify(seededRelease(home, ["us-east-1"])));
		standIn.latency.ms = LATENCY_MS;

		const bare: number[] = [];
		const single: number[] = [];
		const whole: number[] = [];
		let perRegion = new Map<string, number>();
		for (let run = 0; run < RUNS + 1; run++) {
			const started = performance.now();
			Bun.spawnSync([process.execPath, "-e", ""]);
			const bareMs = performance.now() - started;
			const oneMs = await timed(project.dir, standIn.env, one);
			const first = standIn.regions.length;
			const allMs = await timed(project.dir, standIn.env, all);
			perRegion = new Map();
			for (const region of standIn.regions.slice(first)) {
				perRegion.set(region, (perRegion.get(region) ?? 0) + 1);
			}
			if (run === 0) continue; // warm-up
			bare.push(bareMs);
			single.push(oneMs);
			whole.push(allMs);
		}
		const counts = [...perRegion.entries()].sort(([a], [b]) => a.localeCompare(b));
		const others = counts.filter(([region]) => region !== "us-east-1").map(([, n]) => n);
		console.log(
			`verify, 2 systems × ${regions.length} regions, ${LATENCY_MS} ms latency per request, median of ${RUNS}:`,
		);
		console.log(`  bun -e ''                    ${median(bare).toFixed(0)} ms`);
		console.log(`  verify, 1 region             ${median(single).toFixed(0)} ms`);
		console.log(
			`  verify, ${regions.length} regions           ${median(whole).toFixed(0)} ms  (${(median(whole) / median(single)).toFixed(2)}× one region)`,
		);
		console.log(
			`  requests: us-east-1 ${perRegion.get("us-east-1")} (with the stack's outputs), each other region ${Math.min(...others)}–${Math.max(...others)}, ${standIn.regions.length === 0 ? 0 : [...perRegion.values()].reduce((a, b) => a + b, 0)} in all`,
		);
	} finally {
		await standIn.stop();
		project.dispose();
	}
}

/**
 * The whole `bun task publish --only vm` of a 2 GiB disk image (a quarter of
 * it data) that a fixture flake put in the Nix store, against the stand-in
 * account in a process of its own: its peak memory (GNU time's maximum
 * resident set, over the task and its children; target ≤ 150 MiB) and wall
 * time; then the same with new snapshots invisible for a real 60 seconds,
 * which must complete.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { hostSystem } from "../../tasks/project/systems.ts";
import { fixtureFlake, OFFLINE_NIX_CONFIG, projectCopy } from "../../test/fixtures/projects.ts";

function startAccount(invisibleMs: number) {
	const child = Bun.spawn([process.execPath, join(import.meta.dir, "account.ts")], {
		env: { ...process.env, SNAPSHOT_INVISIBLE_MS: String(invisibleMs) },
		stdout: "pipe",
		stderr: "inherit",
	});
	return {
		env: (async () => {
			const reader = child.stdout.getReader();
			const line = new TextDecoder().decode((await reader.read()).value);
			reader.releaseLock();
			return JSON.parse(line) as Record<string, string>;
		})(),
		stop: async () => {
			child.kill();
			await child.exited;
		},
	};
}

/** One publish under GNU time: seconds and max RSS in MiB. GNU time's report goes to a file. */
async function timedPublish(project: string, env: Record<string, string>) {
	const report = join(project, "time.txt");
	const child = Bun.spawn(
		["/usr/bin/time", "-v", "-o", report, process.execPath, "task", "publish", "--only", "vm"],
		{
			cwd: project,
			env: { ...process.env, ...env, HOME: project },
			stdout: "ignore",
			stderr: "pipe",
		},
	);
	const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
	if (exitCode !== 0) throw new Error(`publish failed (exit ${exitCode}):\n${stderr.slice(-2000)}`);
	const text = readFileSync(report, "utf8");
	const kib = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(text)?.[1]);
	const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(text)?.[1] ?? "";
	const seconds = wall.split(":").reduce((total, part) => total * 60 + Number(part), 0);
	return { seconds, rssMiB: kib / 1024 };
}

export async function benchPublishTask() {
	if (Bun.which("nix") === null)
		throw new Error("bench publish-task needs nix: apt-get install nix-bin");
	const copy = projectCopy();
	const flake = fixtureFlake();
	try {
		flake.build("big");
		const build = Bun.spawnSync(
			[process.execPath, "task", "virtual-machine", "--flake", flake.dir],
			{
				cwd: copy.dir,
				env: { ...process.env, NIX_CONFIG: `${OFFLINE_NIX_CONFIG}\nsystem-features = kvm` },
				stdout: "ignore",
				stderr: "pipe",
			},
		);
		if (build.exitCode !== 0) throw new Error(`the 2 GiB fixture did not build: ${build.stderr}`);
		console.log(
			"\nbun task publish --only vm (2 GiB image in the Nix store, 25% data; one run each)",
		);
		const cases = [
			["against the stand-in", 0],
			["new snapshots invisible for a real 60 s", 60_000],
		] as const;
		// BENCH_QUICK: the first case only (for trying a change).
		for (const [label, invisibleMs] of process.env.BENCH_QUICK ? cases.slice(0, 1) : cases) {
			const account = startAccount(invisibleMs);
			try {
				// Each run a first publish of the build: no record, no state (the hash is not cached either).
				const dir = join(copy.dir, "outputs/main/virtual-machine", hostSystem());
				rmSync(join(dir, "ami.json"), { force: true });
				rmSync(join(dir, "publish-state.json"), { force: true });
				const { seconds, rssMiB } = await timedPublish(copy.dir, await account.env);
				console.log(
					`  ${label.padEnd(40)} ${seconds.toFixed(1).padStart(6)} s  peak RSS ${rssMiB.toFixed(0)} MiB (target ≤ 150 MiB: ${rssMiB <= 150 ? "met" : "missed"})`,
				);
			} finally {
				await account.stop();
			}
		}
	} finally {
		flake.dispose();
		copy.dispose();
	}
}

/**
 * What a careless or hostile user can do to the runner, synth, deploy and the
 * builds, end to end through `bun task` in throwaway copies of the project:
 * each test asserts the exit code, the one sentence, and what outputs/ holds after.
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
	chmodSync,
	existsSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
	bunTask,
	cleanEnv,
	FAKE_AWS,
	fixtureFlake,
	HOST,
	NO_AWS,
	OFFLINE_NIX_CONFIG,
	projectCopy,
	requireTool,
	tempDir,
	tmpfs,
} from "./helpers.ts";

function inProject(project: { dir: string }) {
	return (args: string[], env: Record<string, string | undefined> = {}) =>
		bunTask(args, { cwd: project.dir, env: { ...NO_AWS, ...env } });
}

/** `bun task oci-container` of the fixture flake in a project copy, offline. */
function buildFixture(
	project: { dir: string },
	flake: { dir: string },
	args: string[] = [],
	env: Record<string, string | undefined> = {},
) {
	return bunTask(["oci-container", "--flake", flake.dir, ...args], {
		cwd: project.dir,
		env: { NIX_CONFIG: OFFLINE_NIX_CONFIG, ...env },
	});
}

function template(dir: string) {
	return JSON.parse(
		readFileSync(join(dir, "outputs/main/infrastructure/Production.template.json"), "utf8"),
	) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
}

function distributions(dir: string) {
	const [configuration] = Object.values(template(dir).Resources).filter(
		(resource) => resource.Type === "AWS::ImageBuilder::DistributionConfiguration",
	);
	return configuration?.Properties.Distributions as {
		AmiDistributionConfiguration: Record<string, unknown>;
	}[];
}

/** What synth leaves beside the assembly: nothing but the assembly and its stamp. */
function infrastructureEntries(dir: string): string[] {
	return readdirSync(join(dir, "outputs/main"))
		.filter((name) => name.startsWith("infrastructure"))
		.sort();
}

describe("1. settings after -- to deploy", () => {
	const project = projectCopy();
	afterAll(project.dispose);
	const task = inProject(project);

	test("reach synth, so the template deployed has them, and do not reach cdk deploy again", async () => {
		expect((await task(["synth"])).exitCode).toBe(0);
		expect(distributions(project.dir)[0]?.AmiDistributionConfiguration).toHaveProperty(
			"LaunchPermissionConfiguration",
		);
		const run = await task(
			["deploy", "--", "--context", "publicAmis=false", "--verbose"],
			FAKE_AWS,
		);
		expect(run.stderr).toContain("publicAmis=false");
		expect(run.stderr).toContain("synth: wrote outputs/main/infrastructure");
		for (const distribution of distributions(project.dir)) {
			expect(distribution.AmiDistributionConfiguration).not.toHaveProperty(
				"LaunchPermissionConfiguration",
			);
		}
		expect(run.stderr).toMatch(
			/cdk deploy Production --app outputs\/main\/infrastructure .* --no-notices --verbose\n/,
		);
		expect(run.stderr).not.toContain(
			"deploy Production --app outputs/main/infrastructure --context",
		);
	}, 60_000);

	test("that would replace the assembly or the outputs file are refused before anything runs", async () => {
		const run = await task(["deploy", "--", "--app", "elsewhere"], FAKE_AWS);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toBe(
			'error: --app cannot follow -- for "deploy": deploy deploys the assembly synth wrote (outputs/main/infrastructure); change settings with --context key=value instead.\n',
		);
	});
});

describe("2. unknown settings", () => {
	const project = projectCopy();
	afterAll(project.dispose);
	const task = inProject(project);

	test("after -- are a usage error with a suggestion", async () => {
		const run = await task(["synth", "--", "--context", "lifecyleKeep=7"]);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain(
			'Unknown CDK context "lifecyleKeep". Did you mean "lifecycleKeep"? The settings are stackName,',
		);
		expect(existsSync(join(project.dir, "outputs/main/infrastructure"))).toBe(false);
	});
	test("in cdk.json too, and with the CDK CLI run directly", async () => {
		const cdkJson = join(project.dir, "cdk.json");
		const original = readFileSync(cdkJson, "utf8");
		writeFileSync(
			cdkJson,
			JSON.stringify({ ...JSON.parse(original), context: { publicAmi: false } }),
		);
		const run = await task(["synth"]);
		const cli = Bun.spawnSync(
			[process.execPath, "node_modules/aws-cdk/bin/cdk", "synth", "--quiet", "--no-notices"],
			{ cwd: project.dir, env: cleanEnv(NO_AWS), stderr: "pipe" },
		);
		writeFileSync(cdkJson, original);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain('Unknown CDK context "publicAmi". Did you mean "publicAmis"?');
		expect(cli.exitCode).not.toBe(0);
		expect(cli.stderr.toString()).toContain('Unknown CDK context "publicAmi".');
	}, 60_000);
});

describe("3. arguments after -- that would fake a build", () => {
	requireTool("nix", "apt-get install nix-bin");
	const project = projectCopy();
	const flake = fixtureFlake();
	afterAll(() => {
		project.dispose();
		flake.dispose();
	});
	const build = (args: string[], env: Record<string, string | undefined> = {}) =>
		buildFixture(project, flake, args, env);
	const result = join(project.dir, `outputs/main/oci-container/${HOST}/result`);

	test("are refused before anything runs, each with its reason", async () => {
		expect((await build([])).exitCode).toBe(0);
		const before = readFileSync(join(result, "nix.tar.gz"));
		for (const args of [
			["--dry-run"],
			["--no-link"],
			["--out-link", "x"],
			["-o", "x"],
			["--out-link=x"],
		]) {
			flake.build("good");
			const run = await build(["--", ...args]);
			expect(run.exitCode).toBe(2);
			expect(run.stderr).toStartWith(
				`error: ${args[0]?.split("=")[0]} cannot follow -- for "oci-container": `,
			);
			expect(run.stderr).not.toContain("▶");
		}
		expect(readFileSync(join(result, "nix.tar.gz"))).toEqual(before);
	});

	test("a nix that succeeds without writing the out-link is caught", async () => {
		const bin = tempDir("fake-nix");
		writeFileSync(join(bin, "nix"), "#!/bin/sh\nexit 0\n");
		chmodSync(join(bin, "nix"), 0o755);
		const run = await build([], { PATH: `${bin}:${process.env.PATH}` });
		rmSync(bin, { recursive: true, force: true });
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`nix build succeeded but did not write outputs/main/oci-container/${HOST}/result, so no new image was built;`,
		);
	});
});

describe("4. two runs at once", () => {
	const project = projectCopy();
	afterAll(project.dispose);
	const task = inProject(project);

	test("never interleave: one synthesizes, the other refuses naming the holder", async () => {
		// The second starts once the first holds the lock: they overlap for certain.
		const first = task(["synth", "--force"]);
		const lock = join(project.dir, "outputs/.locks/outputs%main%infrastructure.lock");
		for (let i = 0; i < 600 && !existsSync(lock); i++) await Bun.sleep(25);
		const runs = await Promise.all([first, task(["synth", "--force"])]);
		const codes = runs.map((run) => run.exitCode).sort();
		expect(codes).toEqual([0, 1]);
		const refused = runs.find((run) => run.exitCode === 1);
		expect(refused?.stderr).toMatch(
			/✗ Task "synth" failed: outputs\/main\/infrastructure is being written by another run \(pid \d+: bun task synth --force, since \d\d:\d\d:\d\d\); wait for it to finish, or stop it, and run the task again\.\n$/,
		);
		expect(infrastructureEntries(project.dir)).toEqual([
			"infrastructure",
			"infrastructure.stamp.json",
		]);
		expect(existsSync(join(project.dir, "outputs/main/infrastructure/manifest.json"))).toBe(true);
		expect(readdirSync(join(project.dir, "outputs/.locks"))).toEqual([]);
	}, 60_000);

	test("a lock left by a dead process is taken over", async () => {
		const locks = join(project.dir, "outputs/.locks");
		writeFileSync(
			join(locks, "outputs%main%infrastructure.lock"),
			JSON.stringify({
				pid: 999_999_999,
				started: "1",
				command: "bun task synth",
				path: "outputs/main/infrastructure",
				since: "00:00:00",
			}),
		);
		const run = await task(["synth", "--force"]);
		expect(run.exitCode).toBe(0);
		expect(readdirSync(locks)).toEqual([]);
	}, 60_000);

	test("clean refuses while a build of something inside outputs/ holds its lock", async () => {
		const locks = join(project.dir, "outputs/.locks");
		const holder = Bun.spawn(["sleep", "30"]);
		const started = readFileSync(`/proc/${holder.pid}/stat`, "utf8");
		writeFileSync(
			join(locks, `outputs%main%oci-container%${HOST}.lock`),
			JSON.stringify({
				pid: holder.pid,
				started: started.slice(started.lastIndexOf(")") + 2).split(" ")[19],
				command: "bun task oci-container",
				path: `outputs/main/oci-container/${HOST}`,
				since: "12:00:00",
			}),
		);
		const run = await task(["clean"]).finally(async () => {
			holder.kill();
			await holder.exited;
		});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`outputs (through outputs/main/oci-container/${HOST}) is being written by another run (pid ${holder.pid}: bun task oci-container, since 12:00:00)`,
		);
		expect(existsSync(join(project.dir, "outputs/main/infrastructure/manifest.json"))).toBe(true);
	});
});

describe("5. file-system faults", () => {
	test("outputs being a file is one sentence, and nothing else is touched", async () => {
		const project = projectCopy();
		writeFileSync(join(project.dir, "outputs"), "not a directory");
		const run = await inProject(project)(["synth"]);
		project.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			'✗ Task "synth" failed: outputs is a file where a directory belongs; move it away and run the task again.\n',
		);
		expect(run.stderr).not.toContain("this is a bug");
	});

	test("a directory where a link belongs is refused before building", async () => {
		requireTool("nix", "apt-get install nix-bin");
		const project = projectCopy();
		const flake = fixtureFlake();
		mkdirSync(join(project.dir, `outputs/main/oci-container/${HOST}/nix.tar.gz`), {
			recursive: true,
		});
		const run = await buildFixture(project, flake);
		const left = readdirSync(join(project.dir, `outputs/main/oci-container/${HOST}`));
		project.dispose();
		flake.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`outputs/main/oci-container/${HOST}/nix.tar.gz is a directory where the task keeps a link into the Nix store; move it away and run the task again.`,
		);
		expect(run.stderr).not.toContain("$ nix");
		expect(left).toEqual(["nix.tar.gz"]);
	});

	describe("on a small tmpfs", () => {
		const project = projectCopy();
		const outputs = join(project.dir, "outputs");
		const disk = tmpfs(outputs, "4m");
		afterAll(() => {
			disk.dispose();
			project.dispose();
		});
		const task = inProject(project);
		const template = () =>
			readFileSync(join(outputs, "main/infrastructure/Production.template.json"));
		/** The assembly before the failed run is the one in place, with nothing half-written beside it. */
		const expectPreviousAssembly = (before: ReturnType<typeof template>) => {
			expect(template()).toEqual(before);
			expect(infrastructureEntries(project.dir)).toEqual([
				"infrastructure",
				"infrastructure.stamp.json",
			]);
		};

		test("a read-only tree: one sentence, the previous assembly intact, nothing half-written", async () => {
			expect((await task(["synth"])).exitCode).toBe(0);
			const before = template();
			disk.remount("ro");
			const run = await task(["synth", "--force"]);
			disk.remount("rw");
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain(
				'✗ Task "synth" failed: outputs/.locks is on a read-only file system; make it writable, or work in a writable checkout, and run the task again.',
			);
			expectPreviousAssembly(before);
		}, 60_000);

		test("a full disk: one sentence, the previous assembly intact, nothing half-written", async () => {
			const before = template();
			// Leave a few KiB: room for the lock and the context file, not for an assembly.
			const filler = join(outputs, "filler");
			const free = () => {
				const stat = Bun.spawnSync(["stat", "-f", "-c", "%a %S", outputs]).stdout.toString();
				const [blocks = "0", size = "0"] = stat.trim().split(" ");
				return Number(blocks) * Number(size);
			};
			writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 16 * 1024)));
			const run = await task(["synth", "--force"]);
			rmSync(filler);
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain(
				'✗ Task "synth" failed: The CDK app could not write the assembly to outputs/main/infrastructure.staging (ENOSPC: no space left); free some space and run the task again. The previous assembly is unchanged.\n',
			);
			expect(run.stderr).not.toContain("this is a bug");
			expectPreviousAssembly(before);
		}, 60_000);
	});

	test("Ctrl-C during synth leaves no staging directory or context file", async () => {
		const project = projectCopy();
		const child = Bun.spawn([process.execPath, "task", "synth", "--force"], {
			cwd: project.dir,
			env: cleanEnv(NO_AWS),
			stderr: "pipe",
			stdout: "ignore",
		});
		// Wait until the CDK app runs, then interrupt.
		const reader = child.stderr.getReader();
		let seen = "";
		for (let i = 0; i < 200 && !seen.includes("infra/app.ts"); i++) {
			const { value, done } = await reader.read();
			if (done) break;
			seen += new TextDecoder().decode(value);
		}
		child.kill("SIGINT");
		const exitCode = await child.exited;
		const left = infrastructureEntries(project.dir);
		const locks = readdirSync(join(project.dir, "outputs/.locks"));
		project.dispose();
		expect(exitCode).toBe(130);
		expect(left).toEqual([]);
		expect(locks).toEqual([]);
	}, 60_000);

	test("an unwritable $GITHUB_STEP_SUMMARY does not fail a run that succeeded", async () => {
		const project = projectCopy();
		const run = await inProject(project)(["clean"], {
			GITHUB_ACTIONS: "true",
			GITHUB_STEP_SUMMARY: "/nonexistent/directory/summary.md",
		});
		project.dispose();
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toContain("warning: could not append to $GITHUB_STEP_SUMMARY (ENOENT).");
	});
});

describe("6. broken data files", () => {
	const project = projectCopy();
	afterAll(project.dispose);
	const task = inProject(project);

	test("a broken nix/systems.json: listing and help work, a task that needs it says what is wrong", async () => {
		const systems = join(project.dir, "nix/systems.json");
		const before = readFileSync(systems, "utf8");
		try {
			await brokenSystems();
		} finally {
			writeFileSync(systems, before);
		}
	});
	async function brokenSystems() {
		writeFileSync(join(project.dir, "nix/systems.json"), '["x86_64-linux",');
		const list = await task(["--list"]);
		expect(list.exitCode).toBe(0);
		expect(list.stderr).toBe("");
		const help = await task(["oci-container", "--help"]);
		expect(help.exitCode).toBe(0);
		expect(help.stdout).toContain(
			"(Its values cannot be read: nix/systems.json cannot be read as JSON",
		);
		const run = await task(["oci-container"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toBe(
			'error: nix/systems.json cannot be read as JSON (JSON Parse error: Unexpected EOF); fix it (a JSON list such as ["x86_64-linux", "aarch64-linux"]) and run the task again.\n',
		);
		writeFileSync(join(project.dir, "nix/systems.json"), '["x86_64-linux", "mips"]');
		const bad = await task(["oci-container", "--system", "x86_64-linux"]);
		expect(bad.stderr).toContain('nix/systems.json lists "mips", which is not a Linux Nix system;');
	}

	test("a deleted cdk.json is reported as missing", async () => {
		rmSync(join(project.dir, "cdk.json"));
		const run = await task(["synth"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`${join(project.dir, "cdk.json")} is missing; restore it (\`git checkout -- <file>\` in a checkout) and run the task again.`,
		);
	});
});

describe("7. runner flags", () => {
	test("an unknown one is a usage error with a suggestion; --version is real", async () => {
		for (const [flag, hint] of [
			["--bogus", ""],
			["--verison", ' Did you mean "--version"?'],
		] as const) {
			const run = await bunTask([flag]);
			expect(run.exitCode).toBe(2);
			expect(run.stderr).toBe(
				`error: Unknown option ${flag}.${hint} Run \`bun task --help\` to see the runner's options.\n`,
			);
			expect(run.stdout).toBe("");
		}
		const version = await bunTask(["--version"]);
		expect(version.exitCode).toBe(0);
		expect(version.stdout).toMatch(/^nix-images \d+\.\d+\.\d+ \(bun task, Bun \d+\.\d+\.\d+\)\n$/);
		const option = await bunTask(["--system", "x86_64-linux"]);
		expect(option.exitCode).toBe(2);
		expect(option.stderr).toContain("--system is an option of tasks: name one");
	});
});

describe("9. a build that fails before any builder ran", () => {
	requireTool("nix", "apt-get install nix-bin");
	test("says nix's error once, names no derivation, and leaves no empty directories", async () => {
		const project = projectCopy();
		const flake = fixtureFlake();
		flake.build("broken");
		const run = await buildFixture(project, flake);
		const left = readdirSync(join(project.dir, "outputs"));
		project.dispose();
		flake.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"nix build failed with exit code 1 before any builder ran: the fixture's evaluation is broken. The previous image, if any, is still in place.",
		);
		expect(run.stderr).not.toContain("nix log");
		expect(run.stderr).not.toContain("The end of its log");
		expect(left).toEqual([".locks"]);
	});
});

describe("10. smaller things", () => {
	test("the credentials preflight is no task: not in help, not in progress lines", async () => {
		const help = await bunTask(["deploy", "--help"]);
		expect(help.stdout).toContain("Depends on: synth.");
		expect(help.stdout).not.toContain("_aws");
		const project = projectCopy();
		const run = await inProject(project)(["deploy"]);
		project.dispose();
		expect(run.stderr).not.toContain("_aws");
		expect(run.stderr).toContain('✗ Task "deploy" cannot start: No AWS credentials were found');
	});
	test("synth echoes a short command and the settings in a readable line", async () => {
		const project = projectCopy();
		const run = await inProject(project)(["synth", "--dry-run"]);
		project.dispose();
		const echoed = run.stderr.split("\n").filter((line) => line.startsWith("$ "));
		expect(echoed).toHaveLength(1);
		expect(echoed[0]?.length).toBeLessThan(220);
		expect(run.stderr).toContain(
			"synth: settings: stackName=Production, repositoryName=nix, regions=the 17 default regions, publicAmis=true,",
		);
	});
	test("clean --kind infrastructure --system is a usage error, not 'nothing to remove'", async () => {
		const project = projectCopy();
		mkdirSync(join(project.dir, "outputs/main/infrastructure"), { recursive: true });
		const run = await inProject(project)(["clean", "--kind", "infrastructure", "--system", HOST]);
		const kept = existsSync(join(project.dir, "outputs/main/infrastructure"));
		project.dispose();
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain(
			"--kind infrastructure has no systems, so --system does not apply to it; drop --system, or choose another --kind.",
		);
		expect(kept).toBe(true);
	});
});

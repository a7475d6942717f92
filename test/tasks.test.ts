/** The project's own tasks end to end, through `bun task` in a throwaway copy of the project. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
	existsSync,
	mkdirSync,
	readFileSync,
	renameSync,
	symlinkSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { bunTask, pathWithout, projectCopy, REPO, requireTool, tempDir } from "./helpers.ts";

describe("bun task in the repository", () => {
	test("--list shows the project's tasks", async () => {
		const run = await bunTask(["--list"]);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toContain("  clean ");
		expect(run.stdout).toContain("  analyze ");
	});
	test("the README shows exactly what --list prints", async () => {
		const run = await bunTask(["--list"]);
		const readme = readFileSync(join(REPO, "README.md"), "utf8");
		expect(readme).toContain(`\`\`\`\n${run.stdout}\`\`\`\n`);
	});
	test("--completions bash completes the project's tasks", async () => {
		const run = await bunTask(["--completions", "bash"]);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toContain(
			"clean) flags='--kind --system --store --no-store --dry-run --help'",
		);
	});
});

describe("listing and help load no dependency", () => {
	// With an empty node_modules, importing zx (or anything else installed) would fail.
	const bare = projectCopy({ withoutDependencies: true });
	afterAll(bare.dispose);
	test("--list, --list --json, --help, --completions and usage errors work without node_modules", async () => {
		for (const args of [
			["--list"],
			["--list", "--json"],
			["clean", "--help"],
			["--completions", "fish"],
		]) {
			const run = await bunTask(args, { cwd: bare.dir });
			expect(run.stderr).toBe("");
			expect(run.exitCode).toBe(0);
		}
		const typo = await bunTask(["claen"], { cwd: bare.dir });
		expect(typo.exitCode).toBe(2);
		expect(typo.stderr).toContain('Did you mean "clean"?');
	});
});

describe("clean", () => {
	const project = projectCopy();
	const outside = tempDir("outside");
	afterAll(project.dispose);
	const path = (...parts: string[]) => join(project.dir, ...parts);
	const fill = () => {
		for (const part of [
			"oci-container/x86_64-linux",
			"oci-container/aarch64-linux",
			"virtual-machine/x86_64-linux",
		]) {
			mkdirSync(path("outputs/main", part), { recursive: true });
			writeFileSync(path("outputs/main", part, "image"), "x");
		}
		mkdirSync(path("outputs/main/infrastructure"), { recursive: true });
		writeFileSync(join(outside, "kept"), "not ours");
		// Like a Nix out-link: a link into a directory that is not ours.
		symlinkSync(outside, path("outputs/main/virtual-machine/aarch64-linux"));
	};
	const clean = (...args: string[]) => bunTask(["clean", ...args], { cwd: project.dir });

	test("--dry-run removes nothing", async () => {
		fill();
		const run = await clean("--dry-run");
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toContain("$ rm -rf -- outputs\n");
		expect(existsSync(path("outputs/main/oci-container/x86_64-linux/image"))).toBe(true);
	});
	test("--system removes that system of every kind, and only that", async () => {
		const run = await clean("--system", "x86_64-linux");
		expect(run.exitCode).toBe(0);
		expect(existsSync(path("outputs/main/oci-container/x86_64-linux"))).toBe(false);
		expect(existsSync(path("outputs/main/virtual-machine/x86_64-linux"))).toBe(false);
		expect(existsSync(path("outputs/main/oci-container/aarch64-linux/image"))).toBe(true);
	});
	test("--kind with --system removes one directory, and a link is removed, not followed", async () => {
		const run = await clean("--kind", "virtual-machine", "--system", "aarch64-linux");
		expect(run.exitCode).toBe(0);
		expect(existsSync(path("outputs/main/virtual-machine/aarch64-linux"))).toBe(false);
		expect(readFileSync(join(outside, "kept"), "utf8")).toBe("not ours");
		expect(existsSync(path("outputs/main/oci-container/aarch64-linux/image"))).toBe(true);
	});
	test("--kind infrastructure also removes synth's working paths beside the assembly", async () => {
		for (const name of ["infrastructure", "infrastructure.rejected", "infrastructure.staging"]) {
			mkdirSync(path("outputs/main", name), { recursive: true });
		}
		writeFileSync(path("outputs/main/infrastructure.stamp.json"), "{}");
		const run = await clean("--kind", "infrastructure");
		expect(run.exitCode).toBe(0);
		for (const name of [
			"infrastructure",
			"infrastructure.rejected",
			"infrastructure.staging",
			"infrastructure.stamp.json",
		]) {
			expect(existsSync(path("outputs/main", name))).toBe(false);
		}
		expect(existsSync(path("outputs/main/oci-container/aarch64-linux/image"))).toBe(true);
	});
	test("no filter removes outputs/ and nothing else; a second run has nothing to do", async () => {
		const run = await clean();
		expect(run.exitCode).toBe(0);
		expect(existsSync(path("outputs"))).toBe(false);
		expect(existsSync(path("package.json"))).toBe(true);
		const again = await clean();
		expect(again.exitCode).toBe(0);
		expect(again.stderr).toContain("clean: nothing to remove.");
	});
	test("a bad --kind is a usage error", async () => {
		const run = await clean("--kind", "everything");
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain(
			'Invalid value "everything" for --kind; use one of oci-container, virtual-machine, infrastructure, release.',
		);
	});
});

describe("analyze", () => {
	requireTool("nix-instantiate", "apt-get install nix-bin");
	requireTool("git", "apt-get install git");
	const project = projectCopy();
	afterAll(project.dispose);
	const path = (...parts: string[]) => join(project.dir, ...parts);
	const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: project.dir });
	beforeAll(() => {
		git("init", "-q");
		writeFileSync(path("nix/example.nix"), "{ a = 1; }\n");
		git("add", "-A");
	});
	// No global flake registry (it is fetched too); the task itself asks nix for one download attempt.
	const offline = { NIX_CONFIG: "flake-registry =" };
	const analyze = (env: Record<string, string> = {}) =>
		bunTask(["analyze"], { cwd: project.dir, env: { ...offline, ...env } });

	test("fixes formatting, type-checks, and syntax-checks the Nix files when the formatter cannot be fetched", async () => {
		writeFileSync(path("tasks/unformatted.ts"), "export const   x = {a:1}\n");
		git("add", "-A");
		const run = await analyze();
		expect(run.stderr).toContain("check --write .");
		expect(run.stderr).toContain("--noEmit -p .");
		expect(run.stderr).toContain("--option download-attempts 1 fmt -- ");
		expect(run.stderr).toContain("analyze: nix fmt could not run (unable to download");
		expect(run.stderr).toContain(
			"fell back to a syntax check with nix-instantiate --parse and a check of nixfmt's line width.",
		);
		expect(run.stderr).toMatch(/\$ nix-instantiate --parse .*nix\/example.nix.* >\/dev\/null/);
		expect(run.exitCode).toBe(0);
		expect(readFileSync(path("tasks/unformatted.ts"), "utf8")).toBe("export const x = { a: 1 };\n");
	});
	test("a flake without a formatter is syntax-checked and says so", async () => {
		git("rm", "-q", "--cached", "flake.nix");
		renameSync(path("flake.nix"), path("flake.nix.away"));
		const run = await analyze();
		renameSync(path("flake.nix.away"), path("flake.nix"));
		git("add", "flake.nix");
		expect(run.stderr).toContain(
			"analyze: the flake has no formatter; fell back to a syntax check",
		);
		expect(run.exitCode).toBe(0);
	});
	test("a Nix syntax error fails the task with nix-instantiate's message", async () => {
		writeFileSync(path("nix/example.nix"), "{ a = 1 }\n");
		const run = await analyze();
		expect(run.exitCode).not.toBe(0);
		expect(run.stderr).toContain("syntax error");
		expect(run.stderr).toContain("the Nix check found problems (shown above)");
		writeFileSync(path("nix/example.nix"), "{ a = 1; }\n");
	});
	test("offline, a line nixfmt would break fails the task, naming the file and line", async () => {
		writeFileSync(
			path("nix/example.nix"),
			`{\n  a = if true then "${"x".repeat(50)}" else "${"y".repeat(50)}";\n}\n`,
		);
		git("add", "-A");
		const run = await analyze();
		writeFileSync(path("nix/example.nix"), "{ a = 1; }\n");
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"nix/example.nix:2: 128 columns, wider than nixfmt's 100; break it as nixfmt would.",
		);
		expect(run.stderr).toContain("the Nix check found problems (shown above)");
	});
	test("a type error fails the task and names tsc", async () => {
		writeFileSync(path("tasks/unformatted.ts"), 'export const x: number = "text";\n');
		const run = await analyze();
		expect(run.exitCode).not.toBe(0);
		expect(run.stderr).toContain("tsc found problems (shown above)");
		writeFileSync(path("tasks/unformatted.ts"), "export const x = 1;\n");
	});
	test("without nix on PATH the Nix part is reported and the TypeScript part still runs", async () => {
		const noNix = pathWithout(["nix", "nix-instantiate"]);
		const run = await analyze({ PATH: noNix.path });
		noNix.dispose();
		expect(run.stderr).toContain(
			"analyze: nix is not on PATH, so the Nix files were not checked; install it",
		);
		expect(run.stderr).toContain("--noEmit -p .");
		expect(run.exitCode).toBe(0);
	});
});

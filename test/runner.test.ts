/**
 * The runner end to end: `bun task …` spawned as a user would, in a fixture
 * project whose tasks leave marks, run real commands and can be interrupted.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bunTask, cleanEnv, HOST, RUNNER_FIXTURE, tempDir } from "./helpers.ts";

const dir = tempDir("runner");
const marks = join(dir, "marks.log");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => rmSync(marks, { force: true }));

function fixture(args: string[], env: Record<string, string> = {}) {
	return bunTask(args, { cwd: RUNNER_FIXTURE, env: { FIXTURE_MARKS: marks, ...env } });
}

function marked(): string[] {
	return existsSync(marks) ? readFileSync(marks, "utf8").trim().split("\n") : [];
}

describe("usage errors", () => {
	test("an unknown task exits 2 with a suggestion and a pointer to --list", async () => {
		const run = await fixture(["mrak"]);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toBe(
			'error: Unknown task "mrak". Did you mean "mark"? Run `bun task --list` to see every task.\n',
		);
		expect(run.stdout).toBe("");
	});
	test("an unknown option exits 2 with a suggestion", async () => {
		const run = await fixture(["mark", "--lable", "x"]);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain('Unknown option --lable. Did you mean "--label"?');
		expect(marked()).toEqual([]);
	});
	test("a bad --system exits 2 before anything runs", async () => {
		const run = await fixture(["top", "--system", "riscv64-linux"]);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toBe(
			'error: Invalid value "riscv64-linux" for --system; use one of x86_64-linux, aarch64-linux.\n',
		);
		expect(marked()).toEqual([]);
	});
	test("a bad $system exits 2 naming the variable", async () => {
		const run = await fixture(["mark"], { system: "x86_64-darwin" });
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain('$system is "x86_64-darwin"');
	});
});

describe("listing and help", () => {
	test("bare `bun task` lists visible tasks in catalog order", async () => {
		const run = await fixture([]);
		expect(run.exitCode).toBe(0);
		const names = run.stdout
			.split("\n")
			.filter((line) => line.startsWith("  "))
			.map((line) => line.trim().split(/\s+/)[0]);
		expect(names).toEqual([
			"mark",
			"left",
			"right",
			"top",
			"echo",
			"wrapper",
			"fail",
			"after",
			"sleep",
			"broken",
		]);
	});
	test("--list --json is parseable", async () => {
		const run = await fixture(["--list", "--json"]);
		const tasks = JSON.parse(run.stdout).tasks as { name: string; depends: string[] }[];
		expect(tasks.find((t) => t.name === "top")?.depends).toEqual(["left", "right"]);
	});
	test("--help runs nothing, dependencies included", async () => {
		const run = await fixture(["top", "--help"]);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toContain("Diamond: depends on left and right");
		expect(run.stdout).toContain("Depends on: left, right.");
		expect(run.stdout).toContain("--system <system>");
		expect(marked()).toEqual([]);
		const short = await fixture(["mark", "-h"]);
		expect(short.stdout).toContain("A second line for --help only.");
		expect(marked()).toEqual([]);
	});
});

describe("running", () => {
	test("dependencies run once each, in order, with the options they declare", async () => {
		const run = await fixture(["top", "--system", "aarch64-linux", "--label=diamond"]);
		expect(run.exitCode).toBe(0);
		expect(marked()).toEqual([
			'mark {"system":"aarch64-linux","label":"diamond","loud":false}',
			"left {}",
			"right {}",
			"top {}",
		]);
	});
	test("a task named twice, or named and depended on, runs once", async () => {
		await fixture(["mark", "top", "mark"]);
		expect(marked().filter((line) => line.startsWith("mark "))).toHaveLength(1);
	});
	test("--system defaults to $system, then to the host; booleans come from their variable", async () => {
		await fixture(["mark"], { system: "aarch64-linux", FIXTURE_LOUD: "1" });
		expect(marked()).toEqual(['MARK {"SYSTEM":"AARCH64-LINUX","LABEL":"PLAIN","LOUD":TRUE}']);
		rmSync(marks);
		await fixture(["mark", "--no-loud"], { FIXTURE_LOUD: "1" });
		expect(marked()).toEqual([`mark {"system":"${HOST}","label":"plain","loud":false}`]);
	});
	test("--dry-run prints every command and runs none", async () => {
		const run = await fixture(["top", "--dry-run"]);
		expect(run.exitCode).toBe(0);
		expect(marked()).toEqual([]);
		const commands = run.stderr.split("\n").filter((line) => line.startsWith("$ "));
		expect(commands).toHaveLength(4);
		expect(commands[0]).toBe(
			`$ echo 'mark {"system":"${HOST}","label":"plain","loud":false}' >> ${marks}`,
		);
	});
	test("arguments after -- reach the tool, also through a dependency", async () => {
		const run = await fixture(["echo", "--", "a", "b c", "--max-jobs", "$HOME"]);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toBe("[a]\n[b c]\n[--max-jobs]\n[$HOME]\n");
		const through = await fixture(["wrapper", "--", "via-dependency"]);
		expect(through.stdout).toBe("[via-dependency]\n");
		const refused = await fixture(["mark", "--", "x"]);
		expect(refused.exitCode).toBe(2);
	});
	test("a failing command's exit code is the runner's, and later tasks do not run", async () => {
		const run = await fixture(["after"]);
		expect(run.exitCode).toBe(7);
		expect(run.stderr).toContain("about to fail");
		expect(run.stderr).toContain(
			`✗ Task "fail" failed: \`sh -c 'echo about to fail >&2; exit 7'\` exited with code 7.`,
		);
		expect(marked().map((line) => line.split(" ")[0])).toEqual(["mark"]);
	});
	test("an unexpected error exits 1 with its stack and says it is a bug", async () => {
		const run = await fixture(["broken"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain("boom from the broken task");
		expect(run.stderr).toContain("broken.ts");
		expect(run.stderr).toContain("this is a bug in the task");
	});
	test("a preflight check runs once, before any step, dependencies included", async () => {
		const run = await fixture(["_guarded-right"]);
		expect(run.exitCode).toBe(0);
		expect(marked().map((line) => line.split(" ")[0])).toEqual([
			"preflight",
			"mark",
			"_guarded-left",
			"_guarded-right",
		]);
	});
	test("a failed preflight check runs nothing and says which task cannot start", async () => {
		const run = await fixture(["_guarded-right"], { FIXTURE_PREFLIGHT: "fail" });
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`✗ Task "_guarded-left" cannot start: The fixture's preflight refuses; unset FIXTURE_PREFLIGHT.`,
		);
		expect(run.stderr).not.toContain("▶");
		expect(marked()).toEqual(["preflight"]);
	});
	test("a dependency cycle is an error that names it", async () => {
		const run = await fixture(["_cycle-a"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain("cycle: _cycle-a → _cycle-b → _cycle-a.");
	});
});

describe("signals", () => {
	async function interrupt(signal: "SIGINT" | "SIGTERM") {
		const seconds = String(3000 + Math.floor(Math.random() * 6000));
		const child = Bun.spawn([process.execPath, "task", "sleep", "--seconds", seconds], {
			cwd: RUNNER_FIXTURE,
			env: cleanEnv(),
			stdout: "pipe",
			stderr: "pipe",
		});
		const sleeping = () =>
			Bun.spawnSync(["pgrep", "-f", `^sleep ${seconds}$`])
				.stdout.toString()
				.trim();
		for (let i = 0; i < 100 && sleeping() === ""; i++) await Bun.sleep(50);
		expect(sleeping()).not.toBe("");
		child.kill(signal);
		const [exitCode, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
		return { exitCode, stderr, left: sleeping() };
	}
	test("SIGTERM kills the running command's tree, leaves nothing behind, exits 143", async () => {
		const { exitCode, stderr, left } = await interrupt("SIGTERM");
		expect(exitCode).toBe(143);
		expect(stderr).toContain("Got SIGTERM: stopping 1 running command.");
		expect(left).toBe("");
	});
	test("SIGINT does the same and exits 130", async () => {
		const { exitCode, stderr, left } = await interrupt("SIGINT");
		expect(exitCode).toBe(130);
		expect(stderr).toContain("Got SIGINT");
		expect(left).toBe("");
	});
});

describe("GitHub Actions", () => {
	test("groups each task, annotates the failure, and writes a timing table", async () => {
		const summary = join(dir, "summary.md");
		const run = await fixture(["after"], { GITHUB_ACTIONS: "true", GITHUB_STEP_SUMMARY: summary });
		expect(run.exitCode).toBe(7);
		expect(run.stderr).toContain(`::group::mark --system=${HOST} --label=plain\n`);
		expect(run.stderr).toContain("::group::fail\n");
		expect(run.stderr.match(/::endgroup::/g)).toHaveLength(2);
		expect(run.stderr).toContain('::error title=Task fail failed::Task "fail" failed: ');
		expect(run.stderr).toContain("exited with code 7.%0Aabout to fail\n");
		const table = readFileSync(summary, "utf8");
		expect(table).toContain(`| mark --system=${HOST} --label=plain | succeeded |`);
		expect(table).toContain("| fail | failed (exit 7) |");
		expect(table).toContain("| after | not run | – |");
	});
});

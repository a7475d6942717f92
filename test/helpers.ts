/** Spawning `bun task …` as a user would, and what tests need around it. */
import {
	chmodSync,
	existsSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { REPO, tempDir } from "./fixtures/projects.ts";

export {
	type FixtureMode,
	fixtureFlake,
	HOST,
	KVM_NIX_CONFIG,
	OFFLINE_NIX_CONFIG,
	projectCopy,
	REPO,
	tempDir,
} from "./fixtures/projects.ts";
export const RUNNER_FIXTURE = join(REPO, "test", "fixtures", "runner");

export interface Run {
	exitCode: number;
	stdout: string;
	stderr: string;
}

export interface RunSettings {
	cwd?: string;
	env?: Record<string, string | undefined>;
}

/** The environment a test starts from: this one, minus what would change the runner's behaviour. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
	const env: Record<string, string | undefined> = { ...process.env };
	for (const name of ["system", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "NIX_CONFIG"])
		delete env[name];
	Object.assign(env, extra);
	return Object.fromEntries(
		Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
	);
}

/** Runs `bun task <args>` in `cwd` (default: the repository) and waits for it. */
export async function bunTask(args: readonly string[], settings: RunSettings = {}): Promise<Run> {
	const child = Bun.spawn([process.execPath, "task", ...args], {
		cwd: settings.cwd ?? REPO,
		env: cleanEnv(settings.env),
		stdout: "pipe",
		stderr: "pipe",
		stdin: "ignore",
	});
	const [stdout, stderr, exitCode] = await Promise.all([
		new Response(child.stdout).text(),
		new Response(child.stderr).text(),
		child.exited,
	]);
	return { exitCode, stdout, stderr };
}

/**
 * The runner itself (tasks/main.ts), for tests that kill it: `bun task`'s
 * `bun run` would die alone on a SIGKILL and orphan it. Its output is not kept.
 */
export function spawnRunner(args: readonly string[], settings: RunSettings = {}) {
	return Bun.spawn([process.execPath, "tasks/main.ts", ...args], {
		cwd: settings.cwd ?? REPO,
		env: cleanEnv(settings.env),
		stdout: "ignore",
		stderr: "ignore",
		stdin: "ignore",
	});
}

/**
 * A tool in front of the real one (found on PATH now, so the spy works in a
 * dev shell too), written to `dir`, which the test puts first on PATH with
 * SPY_DIR=`dir`. `preamble` is shell that runs before the real tool: `case`
 * arms on " $* " that log, or call `pause` (see waitForPause) to hold the
 * run at that step, or `run_then_pause` to do the step first.
 */
export function spyTool(dir: string, name: string, preamble: string[]): void {
	const real = requireTool(name, `apt-get install ${name}`);
	mkdirSync(dir, { recursive: true });
	const path = join(dir, name);
	writeFileSync(
		path,
		[
			"#!/bin/sh",
			// The pid goes to a temporary name first: a reader never sees the file empty.
			'pause() { echo $$ > "$SPY_DIR/paused.tmp"; mv "$SPY_DIR/paused.tmp" "$SPY_DIR/paused"; exec sleep 60; }',
			`run_then_pause() { ${real} "$@" || exit; pause; }`,
			...preamble,
			`exec ${real} "$@"`,
		].join("\n"),
	);
	chmodSync(path, 0o755);
}

/** Waits (up to 30 s) until a spy in `dir` pauses, and returns its pid: the test kills it after the runner. */
export async function waitForPause(dir: string): Promise<number> {
	const paused = join(dir, "paused");
	for (let i = 0; i < 600 && !existsSync(paused); i++) await Bun.sleep(50);
	const pid = existsSync(paused) ? Number(readFileSync(paused, "utf8")) : Number.NaN;
	if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no spy paused in ${dir}`);
	rmSync(paused);
	return pid;
}

/** Fails with the install command when a tool a test needs is missing (never a silent skip). */
export function requireTool(tool: string, install: string): string {
	const path = Bun.which(tool);
	if (path === null) throw new Error(`This test needs \`${tool}\`; install it with: ${install}`);
	return path;
}

/**
 * A PATH under which the named tools do not exist: a directory of links to
 * everything else on PATH (so the test sees exactly a machine without them).
 */
export function pathWithout(tools: readonly string[]): { path: string; dispose: () => void } {
	const dir = tempDir("path");
	const seen = new Set(tools);
	for (const entry of (process.env.PATH ?? "").split(":")) {
		let names: string[];
		try {
			names = readdirSync(entry);
		} catch {
			continue;
		}
		for (const name of names) {
			if (seen.has(name)) continue;
			seen.add(name);
			symlinkSync(join(entry, name), join(dir, name));
		}
	}
	return { path: dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A small tmpfs mounted on `dir` (created if needed), for real full-disk and
 * read-only faults; needs root, as CI has. `remount("ro")` makes it read-only.
 */
export function tmpfs(
	dir: string,
	size: string,
): { remount: (options: string) => void; dispose: () => void } {
	if (process.getuid?.() !== 0) {
		throw new Error(
			`This test mounts a tmpfs on ${dir} and needs root; run the tests as root (CI does).`,
		);
	}
	mkdirSync(dir, { recursive: true });
	const mount = (...args: string[]) => {
		const run = Bun.spawnSync(["mount", ...args], { stderr: "pipe" });
		if (run.exitCode !== 0) throw new Error(`mount ${args.join(" ")}: ${run.stderr.toString()}`);
	};
	mount("-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir);
	return {
		remount: (options) => mount("-o", `remount,${options}`, dir),
		dispose: () => {
			Bun.spawnSync(["umount", dir]);
		},
	};
}

/** Nothing from this machine's AWS setup, and the metadata service off: tests never reach AWS. */
export const NO_AWS = {
	HOME: tempDir("home"),
	AWS_PROFILE: undefined,
	AWS_ACCESS_KEY_ID: undefined,
	AWS_SECRET_ACCESS_KEY: undefined,
	AWS_SESSION_TOKEN: undefined,
	AWS_EC2_METADATA_DISABLED: "true",
};

/** Made-up credentials and every AWS endpoint on a closed local port: the CDK CLI gets as far as asking AWS. */
export const FAKE_AWS = {
	AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
	AWS_SECRET_ACCESS_KEY: "not-a-real-secret",
	AWS_ENDPOINT_URL: "http://127.0.0.1:9",
	AWS_MAX_ATTEMPTS: "1",
};

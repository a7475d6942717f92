/**
 * Spawning `bun task …` as a user would, throwaway copies of the project, and
 * the fixture flake; shared by the tests and the bench.
 */
import {
	cpSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	rmSync,
	symlinkSync,
	writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { hostSystem } from "../tasks/systems.ts";

export const REPO = resolve(import.meta.dir, "..");
export const RUNNER_FIXTURE = join(REPO, "test", "fixtures", "runner");

/** This machine's Nix system. */
export const HOST = hostSystem();

/** nix.conf settings for this offline machine: no binary cache, no global flake registry. */
export const OFFLINE_NIX_CONFIG = "substituters =\nflake-registry =\nwarn-dirty = false";

export type FixtureMode = "good" | "fail" | "missing";

/**
 * A copy of test/fixtures/images, an input-less flake following the images'
 * output contract. `build(mode)` sets what it builds next, with a fresh nonce
 * so every build is a new derivation, and returns the nonce.
 */
export function fixtureFlake(): {
	dir: string;
	build: (mode: FixtureMode) => string;
	dispose: () => void;
} {
	const dir = tempDir("flake");
	cpSync(join(REPO, "test/fixtures/images/flake.nix"), join(dir, "flake.nix"));
	const build = (mode: FixtureMode) => {
		const nonce = `${mode}-${Date.now()}-${Math.random()}`;
		writeFileSync(join(dir, "mode.nix"), JSON.stringify(mode));
		writeFileSync(join(dir, "nonce.nix"), JSON.stringify(nonce));
		return nonce;
	};
	build("good");
	return { dir, build, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

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

export function tempDir(prefix: string): string {
	return mkdtempSync(join(tmpdir(), `nix-images-${prefix}-`));
}

const PROJECT_FILES = [
	"tasks",
	"infra",
	"cdk.json",
	"nix",
	"test",
	"scripts",
	"flake.nix",
	"flake.lock",
	"package.json",
	"bun.lock",
	"bunfig.toml",
	"tsconfig.json",
	"biome.json",
	".gitignore",
];

/**
 * A throwaway copy of the project (sharing node_modules, or with an empty one),
 * so tasks that write or delete can run for real without touching the checkout.
 */
export function projectCopy(settings: { withoutDependencies?: boolean } = {}): {
	dir: string;
	dispose: () => void;
} {
	const dir = tempDir("project");
	for (const entry of PROJECT_FILES) {
		cpSync(join(REPO, entry), join(dir, entry), { recursive: true });
	}
	// An empty node_modules, not a missing one: without any, Bun would auto-install on import.
	if (settings.withoutDependencies) mkdirSync(join(dir, "node_modules"));
	else symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
	return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
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

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers.ts";
import { CommandFailed } from "./errors.ts";
import { createShell, quoteArgument } from "./shell.ts";

const dir = tempDir("shell");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function recordingShell(dryRun = false) {
	const echoed: string[] = [];
	return { echoed, $: createShell({ dryRun, echo: (line) => echoed.push(line) }, { cwd: dir }) };
}

describe("shell", () => {
	test("passes each interpolated value as one literal argument and echoes the quoted command", async () => {
		const { echoed, $ } = recordingShell();
		const args = ["x86_64-linux; touch pwned", "with space", "$HOME", "`id`"];
		const result = await $({ quiet: true })`printf '[%s]\n' ${args}`;
		expect(result.stdout).toBe("[x86_64-linux; touch pwned]\n[with space]\n[$HOME]\n[`id`]\n");
		expect(existsSync(join(dir, "pwned"))).toBe(false);
		expect(echoed).toEqual([
			"$ printf '[%s]\n' 'x86_64-linux; touch pwned' 'with space' '$HOME' '`id`'",
		]);
	});
	test("quotes as any POSIX shell reads it: plain words bare, $'…' only for control characters", async () => {
		expect(quoteArgument("nix-command")).toBe("nix-command");
		expect(quoteArgument("/tmp/flake#packages.x86_64-linux.a")).toBe(
			"/tmp/flake#packages.x86_64-linux.a",
		);
		expect(quoteArgument("#comment")).toBe("'#comment'");
		expect(quoteArgument("nix-command flakes")).toBe("'nix-command flakes'");
		expect(quoteArgument("it's")).toBe("'it'\\''s'");
		expect(quoteArgument("")).toBe("''");
		expect(quoteArgument("a\nb")).toBe("$'a\\nb'");
		const { $ } = recordingShell();
		const strange = ["it's", "a\nb", "#x", "", "$(id)"];
		const result = await $({ quiet: true })`printf '[%s]' ${strange}`;
		expect(result.stdout).toBe("[it's][a\nb][#x][][$(id)]");
	});
	test("the echo has no trailing space when an interpolated list is empty", async () => {
		const { echoed, $ } = recordingShell(true);
		await $`true ${[]}`;
		expect(echoed).toEqual(["$ true"]);
	});
	test("--dry-run prints the command and runs nothing", async () => {
		const { echoed, $ } = recordingShell(true);
		const marker = join(dir, "dry-run-marker");
		const result = await $`touch ${marker}`;
		expect(result.skipped).toBe(true);
		expect(existsSync(marker)).toBe(false);
		expect(echoed).toEqual([`$ touch ${marker}`]);
	});
	test("a probe runs under --dry-run, because later commands depend on its answer", async () => {
		const { $ } = recordingShell(true);
		const result = await $({ probe: true, quiet: true })`echo probed`;
		expect(result).toMatchObject({ stdout: "probed\n", skipped: false, exitCode: 0 });
	});
	test("a failing command throws CommandFailed with its exit code and the tail of stderr", async () => {
		const { $ } = recordingShell();
		const failing = $({ quiet: true })`sh -c ${"echo first >&2; echo last >&2; exit 42"}`;
		await expect(failing).rejects.toBeInstanceOf(CommandFailed);
		const error = (await failing.catch((e) => e)) as CommandFailed;
		expect(error.exitCode).toBe(42);
		expect(error.stderrTail).toEqual(["first", "last"]);
		expect(error.message).toBe(
			"`sh -c 'echo first >&2; echo last >&2; exit 42'` exited with code 42",
		);
	});
	test("nothrow returns the exit code instead", async () => {
		const { $ } = recordingShell();
		const result = await $({ quiet: true, nothrow: true })`sh -c ${"exit 3"}`;
		expect(result.exitCode).toBe(3);
	});
	test("a child killed by a signal reports 128 + its number", async () => {
		const { $ } = recordingShell();
		const result = await $({ quiet: true, nothrow: true })`sh -c ${"kill -TERM $$"}`;
		expect(result.exitCode).toBe(143);
	});
	test("sets, overrides and removes environment variables, and runs in cwd", async () => {
		const { $ } = recordingShell();
		process.env.SHELL_TEST_REMOVED = "still here";
		const $env = $({
			quiet: true,
			nothrow: true,
			env: { SHELL_TEST_ADDED: "added", SHELL_TEST_REMOVED: undefined },
		});
		const added = await $env`printenv SHELL_TEST_ADDED`;
		const removed = await $env`printenv SHELL_TEST_REMOVED`;
		const cwd = await $env`pwd`;
		delete process.env.SHELL_TEST_REMOVED;
		expect(added.stdout).toBe("added\n");
		expect(removed.exitCode).toBe(1);
		expect(cwd.stdout).toBe(`${dir}\n`);
	});
});

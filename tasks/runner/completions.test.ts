/** Completion scripts, loaded into the real shells and asked for completions. */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireTool, tempDir } from "../../test/helpers.ts";
import { renderCompletions } from "./completions.ts";
import { type Catalog, defineTask } from "./task.ts";

const load = () => Promise.resolve({ default: async () => {} });
const catalog: Catalog = {
	clean: defineTask({
		doc: "Delete outputs: it's 'quoted'.",
		options: {
			kind: { type: "string", doc: "Kind.", choices: ["oci-container", "virtual-machine"] },
		},
		load,
	}),
	build: defineTask({
		doc: "Build: one image.",
		options: {
			system: { type: "string", doc: "System.", choices: ["x86_64-linux", "aarch64-linux"] },
			flake: { type: "string", doc: "Flake reference." },
			fast: { type: "boolean", doc: "Fast." },
		},
		load,
	}),
	images: defineTask({ doc: "Both.", depends: ["build"], load }),
	_hidden: defineTask({ doc: "Hidden.", load }),
};

const dir = tempDir("completions");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(shell: "bash" | "zsh" | "fish"): string {
	const file = join(dir, `completions.${shell}`);
	writeFileSync(file, renderCompletions(catalog, shell));
	return file;
}

function run(command: string[]): string {
	const result = Bun.spawnSync(command, { cwd: dir, stderr: "pipe" });
	if (result.exitCode !== 0) throw new Error(`${command.join(" ")}: ${result.stderr.toString()}`);
	return result.stdout.toString();
}

describe("bash completions", () => {
	const bash = requireTool("bash", "apt-get install bash");
	const complete = (words: string[]) =>
		run([
			bash,
			"-c",
			`_bun_original() { COMPREPLY=(bun-own); }; complete -F _bun_original bun; source ${script("bash")}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}
__bun_task_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
		])
			.trim()
			.split("\n")
			.filter(Boolean);
	test("completes visible task names", () => {
		expect(complete(["bun", "task", ""])).toEqual(["clean", "build", "images"]);
		expect(complete(["bun", "task", "cl"])).toEqual(["clean"]);
	});
	test("completes a task's own and inherited options", () => {
		expect(complete(["bun", "task", "images", "--"])).toEqual([
			"--system",
			"--flake",
			"--fast",
			"--no-fast",
			"--dry-run",
			"--help",
		]);
		expect(complete(["bun", "task", "clean", "--k"])).toEqual(["--kind"]);
	});
	test("completes option values, also after =", () => {
		expect(complete(["bun", "task", "build", "--system", "aa"])).toEqual(["aarch64-linux"]);
		expect(complete(["bun", "task", "build", "--system", "=", ""])).toEqual([
			"x86_64-linux",
			"aarch64-linux",
		]);
		expect(complete(["bun", "task", "--completions", ""])).toEqual(["bash", "zsh", "fish"]);
	});
	test("finds the task after an option value", () => {
		expect(complete(["bun", "task", "--system", "x86_64-linux", "build", "--f"])).toEqual([
			"--flake",
			"--fast",
		]);
	});
	test("leaves other bun commands to the completion loaded before", () => {
		expect(complete(["bun", "run", ""])).toEqual(["bun-own"]);
	});
});

describe("fish completions", () => {
	const fish = requireTool("fish", "apt-get install fish");
	const complete = (line: string) =>
		run([
			fish,
			"--no-config",
			"-c",
			`source ${script("fish")}; complete -C ${JSON.stringify(line)}`,
		])
			.trim()
			.split("\n");
	test("completes tasks with their summaries", () => {
		// fish sorts candidates itself.
		expect(complete("bun task ")).toEqual([
			"build\tBuild: one image.",
			"clean\tDelete outputs: it's 'quoted'.",
			"images\tBoth.",
		]);
	});
	test("completes a task's options and their values", () => {
		expect(complete("bun task images --sy")).toEqual(["--system\tSystem."]);
		expect(complete("bun task build --system ")).toEqual([
			"aarch64-linux\tSystem.",
			"x86_64-linux\tSystem.",
		]);
		expect(complete("bun task clean --")).toEqual([
			"--dry-run\tPrint each command exactly as it would run, and run none.",
			"--help\tShow a task's doc, options and dependencies; runs nothing.",
			"--kind\tKind.",
		]);
	});
});

describe("zsh completions", () => {
	const zsh = requireTool("zsh", "apt-get install zsh");
	test("parse and register under compinit", () => {
		const file = script("zsh");
		run([zsh, "-n", file]);
		const out = run([
			zsh,
			"-f",
			"-c",
			`autoload -Uz compinit && compinit -u -d ${join(dir, "zcompdump")} && source ${file} && print -r -- $_comps[bun]`,
		]);
		expect(out.trim()).toBe("__bun_task_complete");
	});
	test("carry every task summary and option", () => {
		const text = renderCompletions(catalog, "zsh");
		expect(text).toContain("'build:Build: one image.'");
		expect(text).toContain("'clean:Delete outputs: it'\\''s '\\''quoted'\\''.'");
		expect(text).toContain("'--no-fast:Turn --fast off.'");
		expect(text).toContain("--system) compadd -- 'x86_64-linux' 'aarch64-linux'; return ;;");
		expect(text).not.toContain("_hidden");
	});
});

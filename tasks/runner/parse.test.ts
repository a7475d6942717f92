import { describe, expect, test } from "bun:test";
import { UsageError } from "./errors.ts";
import { parseCommandLine, tokenize } from "./parse.ts";
import { type Catalog, defineTask } from "./task.ts";

const load = () => Promise.resolve({ default: async () => {} });
const catalog: Catalog = {
	build: defineTask({
		doc: "Build.",
		options: {
			system: { type: "string", doc: "System.", choices: ["x86_64-linux", "aarch64-linux"] },
			flake: { type: "string", doc: "Flake.", default: "." },
			fast: { type: "boolean", doc: "Fast." },
		},
		passthrough: "nix build",
		load,
	}),
	images: defineTask({ doc: "Images.", depends: ["build"], load }),
	clean: defineTask({
		doc: "Clean.",
		options: { kind: { type: "string", doc: "Kind.", choices: ["a", "b"] } },
		load,
	}),
};

function usageError(argv: string[]): string {
	try {
		parseCommandLine(argv, catalog);
	} catch (error) {
		expect(error).toBeInstanceOf(UsageError);
		return (error as Error).message;
	}
	throw new Error(`expected a usage error for ${argv.join(" ")}`);
}

describe("tokenize", () => {
	test("splits tasks, --name value, --name=value, flags, -h and what follows --", () => {
		const result = tokenize(
			[
				"images",
				"--system",
				"aarch64-linux",
				"--flake=../x",
				"--fast",
				"-h",
				"--",
				"--max-jobs",
				"2",
			],
			(name) => name === "system" || name === "flake",
		);
		expect(result.positionals).toEqual(["images"]);
		expect(result.passthrough).toEqual(["--max-jobs", "2"]);
		expect(result.options.map((o) => [o.name, o.value, o.inline])).toEqual([
			["system", "aarch64-linux", false],
			["flake", "../x", true],
			["fast", undefined, false],
			["help", undefined, false],
		]);
	});
	test("keeps an = inside the value", () => {
		expect(tokenize(["--flake=path:/x?a=b"], () => true).options[0]?.value).toBe("path:/x?a=b");
	});
});

describe("parseCommandLine", () => {
	test("no arguments and --list list; --list --json for tooling", () => {
		expect(parseCommandLine([], catalog)).toEqual({ kind: "list", json: false });
		expect(parseCommandLine(["--list"], catalog)).toEqual({ kind: "list", json: false });
		expect(parseCommandLine(["--list", "--json"], catalog)).toEqual({ kind: "list", json: true });
	});
	test("--help and -h describe a task, or the runner", () => {
		expect(parseCommandLine(["build", "--help"], catalog)).toEqual({ kind: "help", task: "build" });
		expect(parseCommandLine(["-h", "build"], catalog)).toEqual({ kind: "help", task: "build" });
		expect(parseCommandLine(["--help"], catalog)).toEqual({ kind: "help" });
	});
	test("--help wins over options that would otherwise be wrong", () => {
		expect(parseCommandLine(["build", "--system", "nonsense", "--help"], catalog).kind).toBe(
			"help",
		);
	});
	test("reads typed options, both spellings, and --no- for booleans", () => {
		expect(
			parseCommandLine(
				["build", "--system", "aarch64-linux", "--flake=github:o/r", "--no-fast"],
				catalog,
			),
		).toEqual({
			kind: "run",
			tasks: ["build"],
			given: { system: "aarch64-linux", flake: "github:o/r", fast: false },
			passthrough: [],
			passthroughOwners: {},
			dryRun: false,
		});
	});
	test("accepts the options of dependencies and passes -- arguments through", () => {
		expect(
			parseCommandLine(["images", "--system=x86_64-linux", "--dry-run", "--", "-L"], catalog),
		).toEqual({
			kind: "run",
			tasks: ["images"],
			given: { system: "x86_64-linux" },
			passthrough: ["-L"],
			passthroughOwners: { build: "build" },
			dryRun: true,
		});
	});
	test("several tasks share the options either accepts", () => {
		const invocation = parseCommandLine(
			["clean", "images", "--kind", "a", "--system", "aarch64-linux"],
			catalog,
		);
		expect(invocation).toMatchObject({
			tasks: ["clean", "images"],
			given: { kind: "a", system: "aarch64-linux" },
		});
	});
	test("an unknown task suggests the closest and points to --list", () => {
		expect(usageError(["imgaes"])).toBe(
			'Unknown task "imgaes". Did you mean "images"? Run `bun task --list` to see every task.',
		);
		expect(usageError(["zzz"])).toBe(
			'Unknown task "zzz". Run `bun task --list` to see every task.',
		);
	});
	test("an unknown option suggests the closest, before its value is mistaken for a task", () => {
		expect(usageError(["build", "--sytem", "aarch64-linux"])).toBe(
			'Unknown option --sytem. Did you mean "--system"? Run `bun task build --help` to see its options.',
		);
		expect(usageError(["build", "--dryrun"])).toContain('Did you mean "--dry-run"?');
	});
	test("an option of another task is refused for this one", () => {
		expect(usageError(["clean", "--flake", "."])).toBe(
			'Unknown option --flake for "clean". Run `bun task clean --help` to see its options.',
		);
	});
	test("values are checked against their choices", () => {
		expect(usageError(["build", "--system", "x86_64-darwin"])).toBe(
			'Invalid value "x86_64-darwin" for --system; use one of x86_64-linux, aarch64-linux.',
		);
	});
	test("a string option needs a value and a boolean takes none", () => {
		expect(usageError(["build", "--system"])).toBe(
			"--system needs a value: write --system <value> or --system=<value>.",
		);
		expect(usageError(["build", "--flake", "--fast"])).toContain("--flake needs a value");
		expect(usageError(["build", "--fast=yes"])).toBe(
			"--fast takes no value; write --fast or --no-fast.",
		);
		expect(usageError(["build", "--dry-run=1"])).toBe("--dry-run takes no value.");
	});
	test("arguments after -- must reach one tool", () => {
		const mixed: Catalog = {
			...catalog,
			cdk: defineTask({ doc: "Cdk.", passthrough: "cdk deploy", load }),
			both: defineTask({ doc: "Both.", depends: ["build", "cdk"] }),
		};
		expect(() => parseCommandLine(["both", "--", "-x"], mixed)).toThrow(
			"Arguments after -- would reach nix build and cdk deploy; run the task for one tool instead (build, cdk).",
		);
		expect(parseCommandLine(["both"], mixed).kind).toBe("run");
	});
	test("arguments after -- need a task that drives a tool", () => {
		expect(usageError(["clean", "--", "x"])).toBe(
			'"clean" takes no arguments after --; remove them or run a task that drives a tool.',
		);
	});
	test("--json alone, --list with a task, --help with two tasks are refused", () => {
		expect(usageError(["build", "--json"])).toContain("bun task --list --json");
		expect(usageError(["build", "--list"])).toContain("bun task build --help");
		expect(usageError(["build", "clean", "--help"])).toContain("one task");
	});
	test("--completions takes bash, zsh or fish", () => {
		expect(parseCommandLine(["--completions", "fish"], catalog)).toEqual({
			kind: "completions",
			shell: "fish",
		});
		expect(parseCommandLine(["--completions=zsh"], catalog)).toEqual({
			kind: "completions",
			shell: "zsh",
		});
		expect(usageError(["--completions", "tcsh"])).toContain("bash|zsh|fish");
		expect(usageError(["--completions"])).toContain("bash|zsh|fish");
	});
});

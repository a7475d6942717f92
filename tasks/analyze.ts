import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { INSTALL_NIX, NIX_FEATURES } from "./nix/cli.ts";
import { NIX_LINE_WIDTH, wideLines } from "./nix/line-width.ts";
import { TaskError } from "./runner/errors.ts";
import type { CommandResult } from "./runner/shell.ts";
import type { TaskContext } from "./runner/task.ts";

interface CheckResult {
	name: string;
	exitCode: number;
}

/** Errors from `nix fmt` that mean the formatter could not be fetched or does not exist. */
const FORMATTER_UNAVAILABLE = [
	/unable to download/i,
	/could not resolve host/i,
	/couldn't resolve host/i,
	/does not provide attribute '[^']*formatter/i,
];

/** The reason nix fmt could not run, preferring its error over its warnings. */
export function formatterUnavailable(stderr: string): string | undefined {
	const matching = stderr
		.split("\n")
		.filter((line) => FORMATTER_UNAVAILABLE.some((pattern) => pattern.test(line)));
	const line = matching.find((l) => l.startsWith("error:")) ?? matching[0];
	return line?.replace(/^error:\s*/, "").trim();
}

function flakeHasFormatter(root: string): boolean {
	const flake = join(root, "flake.nix");
	return existsSync(flake) && /\bformatter\b/.test(readFileSync(flake, "utf8"));
}

/** Lines nixfmt would break, in files it could not check itself; one line each on stderr. */
function reportWideLines(root: string, files: readonly string[]): number {
	let found = 0;
	for (const file of files) {
		for (const { line, columns } of wideLines(readFileSync(join(root, file), "utf8"))) {
			process.stderr.write(
				`${file}:${line}: ${columns} columns, wider than nixfmt's ${NIX_LINE_WIDTH}; break it as nixfmt would.\n`,
			);
			found++;
		}
	}
	return found;
}

/** The exit code of the Nix check, or undefined when it could not run. */
async function checkNix({ root, $, log, dryRun }: TaskContext): Promise<number | undefined> {
	if (Bun.which("nix") === null || Bun.which("nix-instantiate") === null) {
		log(`nix is not on PATH, so the Nix files were not checked; ${INSTALL_NIX}.`);
		return undefined;
	}
	const listing = await $({ quiet: true, probe: true })`git ls-files -z -- ${"*.nix"}`;
	const files = listing.stdout.split("\0").filter((file) => file.length > 0);
	if (files.length === 0) {
		log("no tracked .nix files to check.");
		return undefined;
	}
	if (flakeHasFormatter(root)) {
		// One download attempt: offline, nix's five retries cost ~9 s before the fallback below.
		const format = await $({
			nothrow: true,
		})`nix ${NIX_FEATURES} --option download-attempts 1 fmt -- ${files}`;
		if (format.exitCode === 0) return 0;
		const reason = formatterUnavailable(format.stderr);
		if (reason === undefined) return format.exitCode;
		log(
			`nix fmt could not run (${reason}); fell back to a syntax check with nix-instantiate --parse and a check of nixfmt's line width.`,
		);
	} else {
		log(
			"the flake has no formatter; fell back to a syntax check with nix-instantiate --parse and a check of nixfmt's line width.",
		);
	}
	const parse = await $({ nothrow: true })`nix-instantiate --parse ${files} >/dev/null`;
	if (parse.exitCode !== 0 || dryRun) return parse.exitCode;
	return reportWideLines(root, files) > 0 ? 1 : 0;
}

export default async function analyze(context: TaskContext) {
	const { root, $ } = context;
	const bin = (tool: string) => join(root, "node_modules", ".bin", tool);
	const checks: CheckResult[] = [];
	const record = (name: string, result: CommandResult | number | undefined) => {
		if (result === undefined) return;
		checks.push({ name, exitCode: typeof result === "number" ? result : result.exitCode });
	};
	record("Biome", await $({ nothrow: true })`${bin("biome")} check --write .`);
	record("tsc", await $({ nothrow: true })`${bin("tsc")} --noEmit -p .`);
	record("the Nix check", await checkNix(context));
	const failed = checks.filter((check) => check.exitCode !== 0);
	const first = failed[0];
	if (first !== undefined) {
		throw new TaskError(
			`${failed.map((check) => check.name).join(", ")} found problems (shown above); fix them and run \`bun task analyze\` again.`,
			first.exitCode,
		);
	}
}

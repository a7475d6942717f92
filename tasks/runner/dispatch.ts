/**
 * The dispatcher of `bun task …`: parse, then list, describe or run. Listing
 * and help import nothing heavy; the executor (zx) and task bodies load only to run.
 */
import { CatalogError, TaskError, UsageError } from "./errors.ts";
import { resolveOptions } from "./options.ts";
import { parseCommandLine } from "./parse.ts";
import { plan } from "./plan.ts";
import { renderGeneralHelp, renderHelp, renderJson, renderList } from "./render.ts";
import type { Catalog } from "./task.ts";

export interface CliSettings {
	/** The project's root directory; commands run there. */
	root: string;
	/** Where the locks on what tasks write live. */
	lockDir: string;
	/** The project's version, for `--version` (read only then). */
	version?: () => Promise<string>;
	env?: Record<string, string | undefined>;
}

/**
 * Prints text that ends in a newline. console.log, not process.stdout.write:
 * the first touch of process.stdout builds Node streams, ~20 ms of `bun task --list`.
 */
function print(text: string, to: "stdout" | "stderr" = "stdout"): void {
	const line = text.endsWith("\n") ? text.slice(0, -1) : text;
	if (to === "stdout") console.log(line);
	else console.error(line);
}

async function dispatch(catalog: Catalog, argv: readonly string[], settings: CliSettings) {
	const env = settings.env ?? process.env;
	const invocation = parseCommandLine(argv, catalog);
	switch (invocation.kind) {
		case "list":
			print(invocation.json ? renderJson(catalog) : renderList(catalog));
			return 0;
		case "help":
			print(
				invocation.task === undefined
					? renderGeneralHelp(catalog)
					: renderHelp(catalog, invocation.task),
			);
			return 0;
		case "version": {
			const project = settings.version ? `${await settings.version()} ` : "";
			print(`${project}(bun task, Bun ${Bun.version})`);
			return 0;
		}
		case "completions": {
			const { renderCompletions } = await import("./completions.ts");
			print(renderCompletions(catalog, invocation.shell));
			return 0;
		}
		case "run": {
			const steps = plan(catalog, invocation.tasks, (_task, specs) =>
				resolveOptions(specs, invocation.given, env),
			);
			const { installLockedPackages } = await import("./install.ts");
			installLockedPackages(settings.root);
			const { execute } = await import("./execute.ts");
			return execute(catalog, steps, {
				dryRun: invocation.dryRun,
				passthrough: invocation.passthrough,
				passthroughOwners: invocation.passthroughOwners,
				root: settings.root,
				lockDir: settings.lockDir,
				commandLine: ["bun task", ...argv].join(" "),
				env,
			});
		}
	}
}

/** Runs the command line and returns the process exit code. */
export async function runCli(
	catalog: Catalog,
	argv: readonly string[],
	settings: CliSettings,
): Promise<number> {
	try {
		return await dispatch(catalog, argv, settings);
	} catch (error) {
		if (error instanceof UsageError || error instanceof TaskError) {
			print(`error: ${error.message}`, "stderr");
			return error.exitCode;
		}
		if (error instanceof CatalogError) {
			print(`error: ${error.message} Fix tasks/catalog.ts.`, "stderr");
			return 1;
		}
		throw error;
	}
}

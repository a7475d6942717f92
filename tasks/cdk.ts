/**
 * How tasks drive the CDK: the app, its context exactly as the CDK CLI builds
 * it, and the pinned CLI itself (run with Bun: no Node.js needed).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { readSettings, SettingsError, type StackSettings } from "../infra/settings.ts";
import { TaskError } from "./runner/errors.ts";

/** The app cdk.json names ("bun infra/app.ts"), as arguments for Bun. */
export const CDK_APP = ["infra/app.ts"] as const;

/** Context keys the CDK CLI adds for every app (aws-cdk 2.1148.1). */
const CLI_CONTEXT = {
	"aws:cdk:enable-path-metadata": true,
	"aws:cdk:enable-asset-metadata": true,
	"aws:cdk:version-reporting": true,
	"aws:cdk:bundling-stacks": ["**"],
	// The CLI reports validation itself; so does `synth`, from validation-report.json.
	"@aws-cdk/core:failSynthOnValidationErrors": false,
};

export function cdkCli(root: string): string {
	return join(root, "node_modules", "aws-cdk", "bin", "cdk");
}

function readJson(path: string): Record<string, unknown> {
	try {
		return JSON.parse(readFileSync(path, "utf8"));
	} catch (error) {
		throw new TaskError(
			`${path} is not valid JSON (${(error as Error).message}); fix it and run the task again.`,
		);
	}
}

/** `-c key=value` / `--context key=value` / `--context=key=value` after `--`, as the CLI reads them. */
export function contextArguments(args: readonly string[]): Record<string, string> {
	const context: Record<string, string> = {};
	for (let i = 0; i < args.length; i++) {
		const arg = args[i] ?? "";
		let pair: string | undefined;
		if (arg === "-c" || arg === "--context") pair = args[++i];
		else if (arg.startsWith("--context=")) pair = arg.slice("--context=".length);
		else {
			throw new TaskError(
				`Only --context key=value (or -c key=value) can follow -- here, not ${JSON.stringify(arg)}.`,
				2,
			);
		}
		const equals = pair?.indexOf("=") ?? -1;
		if (pair === undefined || equals <= 0) {
			throw new TaskError(`--context needs key=value, as in --context publicAmis=false.`, 2);
		}
		context[pair.slice(0, equals)] = pair.slice(equals + 1);
	}
	return context;
}

/**
 * The context the CDK CLI hands the app: cdk.json "context", then
 * cdk.context.json, then --context arguments, then the CLI's own keys.
 */
export function cdkContext(
	root: string,
	overrides: Record<string, string> = {},
): Record<string, unknown> {
	const cdkJson = readJson(join(root, "cdk.json"));
	const contextFile = join(root, "cdk.context.json");
	return {
		...((cdkJson.context as Record<string, unknown> | undefined) ?? {}),
		...(existsSync(contextFile) ? readJson(contextFile) : {}),
		...overrides,
		...CLI_CONTEXT,
	};
}

/** The stack's settings from this context, or a usage error naming the bad key. */
export function stackSettings(context: Record<string, unknown>): StackSettings {
	try {
		return readSettings((key) => context[key]);
	} catch (error) {
		if (error instanceof SettingsError) throw new TaskError(error.message, 2);
		throw error;
	}
}

/** The one stack in a synthesized cloud assembly, read from its manifest. */
export function assemblyStack(root: string, dir: string): string {
	const manifest = join(dir, "manifest.json");
	if (!existsSync(manifest)) {
		throw new TaskError(
			`${relative(root, dir)} holds no cloud assembly; run \`bun task synth\` first.`,
		);
	}
	const artifacts = (readJson(manifest).artifacts ?? {}) as Record<string, { type?: string }>;
	const stacks = Object.entries(artifacts).filter(([, a]) => a.type === "aws:cloudformation:stack");
	const [stack] = stacks;
	if (stacks.length !== 1 || stack === undefined) {
		throw new TaskError(
			`${relative(root, manifest)} should describe one stack, not ${stacks.length}; run \`bun task synth --force\`.`,
		);
	}
	return stack[0];
}

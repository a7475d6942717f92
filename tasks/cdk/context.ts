/** The CDK context exactly as the CDK CLI builds it, and the stack settings read from it. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultRegions } from "../../infra/regions.ts";
import { readSettings, SettingsError, type StackSettings } from "../../infra/settings.ts";
import { readJson } from "../project/files.ts";
import { TaskError } from "../runner/errors.ts";
import { didYouMean } from "../runner/suggest.ts";

/** Context keys the CDK CLI adds for every app (aws-cdk 2.1148.1). */
const CLI_CONTEXT = {
	"aws:cdk:enable-path-metadata": true,
	"aws:cdk:enable-asset-metadata": true,
	"aws:cdk:version-reporting": true,
	"aws:cdk:bundling-stacks": ["**"],
	// The CLI reports validation itself; so does `synth`, from validation-report.json.
	"@aws-cdk/core:failSynthOnValidationErrors": false,
};

/**
 * Splits arguments after `--` into the `-c key=value` / `--context key=value` /
 * `--context=key=value` settings, as the CLI reads them, and everything else.
 */
export function splitContextArguments(args: readonly string[]): {
	context: Record<string, string>;
	rest: string[];
} {
	const context: Record<string, string> = {};
	const rest: string[] = [];
	for (let i = 0; i < args.length; i++) {
		const arg = args[i] ?? "";
		let pair: string | undefined;
		if (arg === "-c" || arg === "--context") pair = args[++i];
		else if (arg.startsWith("--context=")) pair = arg.slice("--context=".length);
		else {
			rest.push(arg);
			continue;
		}
		const equals = pair?.indexOf("=") ?? -1;
		if (pair === undefined || equals <= 0) {
			throw new TaskError(`--context needs key=value, as in --context publicAmis=false.`, 2);
		}
		context[pair.slice(0, equals)] = pair.slice(equals + 1);
	}
	return { context, rest };
}

/** The settings after `--` of a task that takes nothing else there (synth). */
export function contextArguments(args: readonly string[]): Record<string, string> {
	const { context, rest } = splitContextArguments(args);
	if (rest.length > 0) {
		throw new TaskError(
			`Only --context key=value (or -c key=value) can follow -- here, not ${JSON.stringify(rest[0])}.`,
			2,
		);
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

/** The settings as one readable line: `stackName=Production, regions=17 default, …`. */
export function describeSettings(settings: StackSettings): string {
	return Object.entries(settings)
		.map(([key, value]) => {
			if (key !== "regions") return `${key}=${value}`;
			const regions = value as string[];
			const isDefault = regions.join() === defaultRegions().join();
			return `regions=${isDefault ? `the ${regions.length} default regions` : regions.join(",")}`;
		})
		.join(", ");
}

/** The stack's settings from this context, or a usage error naming the bad key. */
export function stackSettings(context: Record<string, unknown>): StackSettings {
	try {
		return readSettings((key) => context[key], { keys: Object.keys(context), suggest: didYouMean });
	} catch (error) {
		if (error instanceof SettingsError) throw new TaskError(error.message, 2);
		throw error;
	}
}

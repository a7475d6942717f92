import { UsageError } from "./errors.ts";

/** A default computed when a task runs, described for `--help` without computing it. */
export interface ComputedDefault {
	/** How `--help` describes the default, e.g. "this host's system". */
	describe: string;
	/** Computes the value; throws a UsageError when it cannot (e.g. an unsupported host). */
	resolve: () => string;
}

interface OptionBase {
	/** One line for `--help`. */
	doc: string;
	/** Environment variable the value comes from when the option is not given. */
	env?: string;
}

export interface StringOption extends OptionBase {
	type: "string";
	/**
	 * The only accepted values, checked before anything runs. A function when
	 * they come from a data file, which is read only when they are needed (and
	 * may throw a TaskError saying what is wrong with it).
	 */
	choices?: readonly string[] | (() => readonly string[]);
	/** Placeholder in `--help`, e.g. `--flake <ref>`. */
	placeholder?: string;
	default?: string | ComputedDefault;
}

export interface BooleanOption extends OptionBase {
	type: "boolean";
	default?: boolean;
}

export type OptionSpec = StringOption | BooleanOption;
export type OptionSpecs = Record<string, OptionSpec>;
export type OptionValue = string | boolean | undefined;

type ValueOf<S extends OptionSpec> = S extends BooleanOption
	? boolean
	: S extends { default: string | ComputedDefault }
		? string
		: string | undefined;

/** The values a task body receives for its options. */
export type OptionValues<O extends OptionSpecs> = { [K in keyof O]: ValueOf<O[K]> };

/** `--system <system>`: the name and value shape for help and completions. */
export function usageOf(name: string, spec: OptionSpec): string {
	if (spec.type === "boolean") return `--${name}`;
	return `--${name} <${spec.placeholder ?? name}>`;
}

export function describeDefault(spec: OptionSpec): string | undefined {
	const base =
		spec.default === undefined
			? spec.type === "boolean"
				? "false"
				: undefined
			: typeof spec.default === "object"
				? spec.default.describe
				: JSON.stringify(spec.default);
	if (spec.env === undefined) return base;
	return base === undefined ? `$${spec.env}` : `$${spec.env}, else ${base}`;
}

/** The values a string option accepts, or undefined when any value is. */
export function choicesOf(spec: OptionSpec): readonly string[] | undefined {
	if (spec.type !== "string" || spec.choices === undefined) return undefined;
	return typeof spec.choices === "function" ? spec.choices() : spec.choices;
}

/** Checks a value from the command line (`source` "--kind") or the environment ("$system"). */
export function checkChoice(name: string, spec: OptionSpec, value: string, source: string): void {
	const allowed = choicesOf(spec);
	if (allowed === undefined || allowed.includes(value)) return;
	const choices = allowed.join(", ");
	throw new UsageError(
		source.startsWith("$")
			? `${source} is "${value}", which is not one of ${choices}; unset it or pass --${name} with one of them.`
			: `Invalid value "${value}" for --${name}; use one of ${choices}.`,
	);
}

const TRUE_WORDS = new Set(["1", "true", "yes", "on"]);
const FALSE_WORDS = new Set(["0", "false", "no", "off", ""]);

function fromEnvironment(
	name: string,
	spec: OptionSpec,
	env: Record<string, string | undefined>,
): OptionValue {
	if (spec.env === undefined) return undefined;
	const raw = env[spec.env];
	if (raw === undefined) return undefined;
	const source = `$${spec.env}`;
	if (spec.type === "boolean") {
		const word = raw.trim().toLowerCase();
		if (TRUE_WORDS.has(word)) return true;
		if (FALSE_WORDS.has(word)) return false;
		throw new UsageError(
			`${source} is "${raw}", which is not a boolean; set it to true or false, or pass --${name} / --no-${name}.`,
		);
	}
	if (raw === "") return undefined;
	checkChoice(name, spec, raw, source);
	return raw;
}

/**
 * Resolves one task's option values: the command line first, then the option's
 * environment variable, then its default.
 */
export function resolveOptions(
	specs: OptionSpecs,
	given: Record<string, OptionValue>,
	env: Record<string, string | undefined>,
): Record<string, OptionValue> {
	const values: Record<string, OptionValue> = {};
	for (const [name, spec] of Object.entries(specs)) {
		let value = given[name] ?? fromEnvironment(name, spec, env);
		if (value === undefined) {
			const fallback = spec.default;
			value =
				typeof fallback === "object"
					? fallback.resolve()
					: (fallback ?? (spec.type === "boolean" ? false : undefined));
		}
		values[name] = value;
	}
	return values;
}

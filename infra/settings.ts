/**
 * The stack's settings, read from CDK context (cdk.json "context", or
 * `--context key=value`), each checked with a one-sentence error that names
 * the key and the values it allows.
 */
import { defaultRegions, partitionRegions } from "./regions.ts";
import { MAX_DEPRECATION_DAYS, MAX_PUBLIC_DEPRECATION_DAYS } from "./vocabulary.ts";

export interface StackSettings {
	stackName: string;
	repositoryName: string;
	/** Regions the AMIs are distributed to. */
	regions: string[];
	/** Launch permission for everyone on the distributed AMIs. */
	publicAmis: boolean;
	/** The lifecycle policy keeps at least this many AMIs… */
	lifecycleKeep: number;
	/** …and deletes the rest (AMIs and snapshots) once older than this. */
	lifecycleMaxAgeDays: number;
	/** owner/name: when set, the GitHub OIDC provider and the deploy, publish, release and verify roles are created. */
	githubRepository?: string;
	/** The GitHub environment the deploy role trusts. */
	githubEnvironment: string;
	/** The GitHub environment the publish role trusts: another one, so a publishing job cannot deploy. */
	githubPublishEnvironment: string;
	/** The GitHub environment the release role trusts: a third one, so a job that builds cannot release. */
	githubReleaseEnvironment: string;
	/** The GitHub environment the verify role trusts: a fourth one, for the verify job, which reads only and also runs on a schedule. */
	githubVerifyEnvironment: string;
	/** An existing GitHub OIDC provider (one per account): used instead of creating one. */
	githubOidcProviderArn?: string;
	/** The subnet of us-east-1 the smoke test launches in, instead of the default VPC's. */
	smokeTestSubnet?: string;
}

export class SettingsError extends Error {
	override readonly name = "SettingsError";
}

export const CONTEXT_KEYS = [
	"stackName",
	"repositoryName",
	"regions",
	"publicAmis",
	"lifecycleKeep",
	"lifecycleMaxAgeDays",
	"githubRepository",
	"githubEnvironment",
	"githubPublishEnvironment",
	"githubReleaseEnvironment",
	"githubVerifyEnvironment",
	"githubOidcProviderArn",
	"smokeTestSubnet",
] as const;
export type ContextKey = (typeof CONTEXT_KEYS)[number];

type Lookup = (key: ContextKey) => unknown;

function invalid(key: ContextKey, value: unknown, allowed: string): SettingsError {
	return new SettingsError(
		`Invalid CDK context "${key}": ${JSON.stringify(value)}; use ${allowed} (set it in cdk.json "context" or pass --context ${key}=…).`,
	);
}

/** Each setting's default, here and nowhere else (cdk.json holds only what a user changes). */
export const DEFAULT_SETTINGS = {
	stackName: "Production",
	repositoryName: "nix",
	publicAmis: true,
	// With AWS's default of 5 public AMIs per region and 2 systems, the current release and the
	// one before it (rollback's target) fill 4: see docs/retention.md, "The arithmetic".
	lifecycleKeep: 2,
	lifecycleMaxAgeDays: 90,
	githubEnvironment: "Production",
	githubPublishEnvironment: "Images",
	githubReleaseEnvironment: "Release",
	githubVerifyEnvironment: "Verify",
} as const satisfies Partial<Record<ContextKey, unknown>>;
type Defaulted = keyof typeof DEFAULT_SETTINGS;

/** The value set for `key`, else its default. */
function settingOrDefault(lookup: Lookup, key: ContextKey): unknown {
	return lookup(key) ?? (DEFAULT_SETTINGS as Partial<Record<ContextKey, unknown>>)[key];
}

function optionalText(lookup: Lookup, key: ContextKey, pattern: RegExp, allowed: string) {
	const value = settingOrDefault(lookup, key);
	if (value === undefined) return undefined;
	if (typeof value !== "string" || !pattern.test(value)) throw invalid(key, value, allowed);
	return value;
}

function text(lookup: Lookup, key: Defaulted, pattern: RegExp, allowed: string): string {
	// A key with a default always has a value.
	return optionalText(lookup, key, pattern, allowed) as string;
}

function wholeNumber(lookup: Lookup, key: Defaulted, min: number, max: number, why = ""): number {
	const value = settingOrDefault(lookup, key);
	const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
	if (typeof number !== "number" || !Number.isInteger(number) || number < min || number > max) {
		throw invalid(key, value, `a whole number from ${min} to ${max}${why}`);
	}
	return number;
}

function flag(lookup: Lookup, key: Defaulted): boolean {
	const value = settingOrDefault(lookup, key);
	if (value === true || value === "true") return true;
	if (value === false || value === "false") return false;
	throw invalid(key, value, "true or false");
}

function regionList(lookup: Lookup): string[] {
	const value = lookup("regions");
	if (value === undefined) return defaultRegions();
	const allowed =
		'a list of aws-partition regions such as ["us-east-1", "eu-west-1"], each at most once';
	const list = typeof value === "string" ? value.split(",").map((region) => region.trim()) : value;
	if (
		!Array.isArray(list) ||
		list.length === 0 ||
		list.some((region) => typeof region !== "string")
	) {
		throw invalid("regions", value, allowed);
	}
	const known = new Set(partitionRegions());
	const unknown = list.filter((region) => !known.has(region));
	if (unknown.length > 0)
		throw invalid("regions", value, `${allowed} (unknown: ${unknown.join(", ")})`);
	const repeated = list.filter((region, index) => list.indexOf(region) !== index);
	if (repeated.length > 0)
		throw invalid("regions", value, `${allowed} (repeated: ${repeated.join(", ")})`);
	return list;
}

export interface ReadOptions {
	/** Every context key that is set: a key without a colon (not the CDK's own) must be a setting. */
	keys?: readonly string[];
	/** ` Did you mean "x"?` for a misspelt key (the runner's suggester), or "" for none. */
	suggest?: (key: string, candidates: readonly string[]) => string;
}

/** Refuses a context key that is no setting: a typo must not silently leave the default in place. */
function checkKeys({ keys = [], suggest = () => "" }: ReadOptions): void {
	// Keys with a colon are the CDK's: feature flags (@aws-cdk/…:…), aws:cdk:…, context lookups.
	const unknown = keys.find(
		(key) => !key.includes(":") && !(CONTEXT_KEYS as readonly string[]).includes(key),
	);
	if (unknown === undefined) return;
	throw new SettingsError(
		`Unknown CDK context "${unknown}".${suggest(unknown, CONTEXT_KEYS)} The settings are ${CONTEXT_KEYS.join(", ")} (in cdk.json "context", or --context key=… after --).`,
	);
}

/**
 * Reads and checks every setting; `lookup` is `app.node.tryGetContext` or a
 * test's map, and `options.keys` every key that is set (unknown ones are refused).
 */
export function readSettings(lookup: Lookup, options: ReadOptions = {}): StackSettings {
	checkKeys(options);
	const githubRepository = optionalText(
		lookup,
		"githubRepository",
		/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/,
		'a GitHub repository as "owner/name"',
	);
	const githubOidcProviderArn = optionalText(
		lookup,
		"githubOidcProviderArn",
		/^arn:aws:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/,
		"the ARN of the account's token.actions.githubusercontent.com OIDC provider",
	);
	const smokeTestSubnet = optionalText(
		lookup,
		"smokeTestSubnet",
		/^subnet-[0-9a-f]{8,17}$/,
		"a subnet id of us-east-1 such as subnet-0123456789abcdef0",
	);
	const environment = /^[^\s,'"`]{1,255}$/;
	const environmentAllowed = "a GitHub environment name without spaces, commas or quotes";
	const githubEnvironment = text(lookup, "githubEnvironment", environment, environmentAllowed);
	const githubPublishEnvironment = text(
		lookup,
		"githubPublishEnvironment",
		environment,
		environmentAllowed,
	);
	const githubReleaseEnvironment = text(
		lookup,
		"githubReleaseEnvironment",
		environment,
		environmentAllowed,
	);
	const githubVerifyEnvironment = text(
		lookup,
		"githubVerifyEnvironment",
		environment,
		environmentAllowed,
	);
	// Each role its own environment: a job that deploys, one that runs the builds' code and
	// publishes, one that releases (makes public) and one that only reads can never stand in
	// for each other.
	if (githubPublishEnvironment === githubEnvironment) {
		throw invalid(
			"githubPublishEnvironment",
			githubPublishEnvironment,
			`another environment than githubEnvironment ("${githubEnvironment}"), so that a job that publishes cannot assume the deploy role`,
		);
	}
	if (
		githubReleaseEnvironment === githubEnvironment ||
		githubReleaseEnvironment === githubPublishEnvironment
	) {
		throw invalid(
			"githubReleaseEnvironment",
			githubReleaseEnvironment,
			`another environment than githubEnvironment ("${githubEnvironment}") and githubPublishEnvironment ("${githubPublishEnvironment}"), so that a job that builds and publishes cannot assume the release role`,
		);
	}
	// A job in another role's environment gets a token that role trusts: the verify job, which
	// runs daily and by hand, would then hold a role that writes.
	if (
		[githubEnvironment, githubPublishEnvironment, githubReleaseEnvironment].includes(
			githubVerifyEnvironment,
		)
	) {
		throw invalid(
			"githubVerifyEnvironment",
			githubVerifyEnvironment,
			`another environment than githubEnvironment ("${githubEnvironment}"), githubPublishEnvironment ("${githubPublishEnvironment}") and githubReleaseEnvironment ("${githubReleaseEnvironment}"), so that a job that only verifies cannot assume a role that writes`,
		);
	}
	const publicAmis = flag(lookup, "publicAmis");
	return {
		stackName: text(
			lookup,
			"stackName",
			/^[A-Za-z][A-Za-z0-9-]{0,127}$/,
			"a CloudFormation stack name (a letter, then letters, digits and hyphens)",
		),
		repositoryName: text(
			lookup,
			"repositoryName",
			/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/,
			"an ECR repository name (lower-case letters, digits, . _ - and /)",
		),
		regions: regionList(lookup),
		publicAmis,
		// CloudFormation's retainAtLeast allows 1 to 10.
		lifecycleKeep: wholeNumber(
			lookup,
			"lifecycleKeep",
			1,
			10,
			", what the lifecycle policy's retainAtLeast allows",
		),
		// AMIs are deprecated at this age (publish's default): AWS allows 10 years ahead, 2 for public ones.
		lifecycleMaxAgeDays: wholeNumber(
			lookup,
			"lifecycleMaxAgeDays",
			1,
			publicAmis ? MAX_PUBLIC_DEPRECATION_DAYS : MAX_DEPRECATION_DAYS,
			publicAmis
				? ", since AMIs are deprecated at this age and AWS deprecates public AMIs at most 2 years after their creation"
				: ", since AMIs are deprecated at this age, at most 10 years ahead",
		),
		...(githubRepository === undefined ? {} : { githubRepository }),
		githubEnvironment,
		githubPublishEnvironment,
		githubReleaseEnvironment,
		githubVerifyEnvironment,
		...(githubOidcProviderArn === undefined ? {} : { githubOidcProviderArn }),
		...(smokeTestSubnet === undefined ? {} : { smokeTestSubnet }),
	};
}

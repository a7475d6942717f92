/**
 * The options of the project's tasks. The catalog composes its rows from
 * these specs and each body takes its option types from here, so no body
 * imports the catalog that lists it.
 */
import type { OptionValues, StringOption } from "../runner/options.ts";
import { OUTPUT_KINDS } from "./outputs.ts";
import { hostSystem, systems } from "./systems.ts";

/** `--system` for tasks that build: defaults to $system (set by Nix shells), then to this host. */
export const systemOption = {
	type: "string",
	doc: "Nix system of the images.",
	choices: systems,
	placeholder: "system",
	env: "system",
	default: { describe: "this host's system", resolve: () => hostSystem() },
} as const satisfies StringOption;

/** `--system` for tasks where it narrows what they act on; absent means every system. */
const systemFilterOption = {
	type: "string",
	doc: "Only this system.",
	choices: systems,
	placeholder: "system",
} as const satisfies StringOption;

export const cleanOptions = {
	kind: {
		type: "string",
		doc: "Only this kind of output.",
		choices: OUTPUT_KINDS,
		placeholder: "kind",
	},
	system: systemFilterOption,
	store: {
		type: "boolean",
		doc: "Also delete the removed images' Nix store paths, which their result links kept alive (a CI cache must not hold images).",
	},
} as const;
export type CleanOptions = OptionValues<typeof cleanOptions>;

/** The image builds: oci-container and virtual-machine. */
export const buildOptions = {
	system: systemOption,
	flake: {
		type: "string",
		doc: "Flake to build from: a path, or a reference such as github:owner/nix-images/<rev>.",
		placeholder: "ref",
		default: ".",
	},
} as const;
export type BuildOptions = OptionValues<typeof buildOptions>;

export const synthOptions = {
	force: {
		type: "boolean",
		doc: "Synthesize even when nothing the assembly is made from changed.",
	},
} as const;
export type SynthOptions = OptionValues<typeof synthOptions>;

/** The parts of `publish`. */
export const PUBLISH_PARTS = ["vm", "container"] as const;

export const publishOptions = {
	system: systemOption,
	only: {
		type: "string",
		doc: "Publish only this part: vm (the disk image as an AMI) or container (the image to ECR Public).",
		choices: PUBLISH_PARTS,
		placeholder: "part",
	},
	"deprecate-days": {
		type: "string",
		doc: "Days after which the AMI is deprecated; default: the lifecycleMaxAgeDays setting (90).",
		placeholder: "days",
	},
} as const;
export type PublishOptions = OptionValues<typeof publishOptions>;

/** verify's, and release's checks after the distribution (the same checks). */
const retryForOption = {
	type: "string",
	doc: "How long failing checks of the release are looked at again before they count (EC2 and SSM are eventually consistent): seconds or minutes.",
	placeholder: "duration",
	default: "60s",
} as const;

const allowRolledBackOption = {
	type: "boolean",
	doc: "Release (or roll back to) a build that an earlier rollback took users off.",
} as const;

export const releaseOptions = {
	"smoke-test": {
		type: "boolean",
		doc: "Boot each private AMI on EC2 and wait for its boot marker before anything is distributed.",
		default: true,
	},
	"smoke-test-timeout": {
		type: "string",
		doc: "How long the smoke test waits for the boot marker: seconds (90s) or minutes (10m).",
		placeholder: "duration",
		default: "10m",
	},
	"allow-older": {
		type: "boolean",
		doc: "Release builds older than the ones users get now (which moves them back to those builds).",
	},
	"make-room": {
		type: "boolean",
		doc: "Where the public-AMI quota leaves no room, first retire this stack's oldest public AMIs there (users launching them by id lose them).",
		// The pipeline sets it from the repository variable RELEASE_MAKE_ROOM.
		env: "NIX_IMAGES_MAKE_ROOM",
	},
	"allow-rolled-back": allowRolledBackOption,
	"retry-for": retryForOption,
} as const;
export type ReleaseOptions = OptionValues<typeof releaseOptions>;

export const verifyOptions = {
	release: {
		type: "string",
		doc: "The release.json to check (default outputs/main/release.json, the current release); an older one's SSM parameters and moving tags are reported as superseded.",
		placeholder: "file",
	},
	deep: {
		type: "boolean",
		doc: "Also read each system's source snapshot back from EBS and compare its blocks and checksum with what publish recorded (and the local nixos.img, where it is here); billed per block.",
	},
	json: {
		type: "boolean",
		doc: "Print the results as JSON instead of the table.",
	},
	provenance: {
		type: "boolean",
		doc: "Also check the release's SBOMs and attestations (sbom/ and attestations/ beside release.json, as the pipeline publishes them): each signed by this repository's pipeline, about the released digests.",
	},
	"trusted-root": {
		type: "string",
		doc: "Sigstore's trusted root for --provenance: what `gh attestation trusted-root > trusted_root.jsonl` writes.",
		placeholder: "file",
		env: "NIX_IMAGES_TRUSTED_ROOT",
	},
	repository: {
		type: "string",
		doc: "The GitHub repository (owner/name) whose pipeline must have signed the attestations; else cdk.json's githubRepository, else $GITHUB_REPOSITORY.",
		placeholder: "owner/name",
	},
	"retry-for": retryForOption,
} as const;
export type VerifyTaskOptions = OptionValues<typeof verifyOptions>;

export const accountOptions = {
	"request-public-ami-quota": {
		type: "string",
		doc: 'Ask Service Quotas for this many "Public AMIs" in every region where the quota is lower (not again where a request is open).',
		placeholder: "count",
	},
} as const;
export type AccountOptions = OptionValues<typeof accountOptions>;

export const sbomOptions = {
	system: systemOption,
} as const;
export type SbomOptions = OptionValues<typeof sbomOptions>;

export const rollbackOptions = {
	to: {
		type: "string",
		doc: "The release to put users back on: its release id (or version) from the history, or `previous` (the newest before the current one that is not rolled back).",
		placeholder: "release",
	},
	deprecate: {
		type: "boolean",
		doc: "Also deprecate the AMIs of the release left behind, now (never deregistered).",
	},
	"allow-rolled-back": allowRolledBackOption,
	"retry-for": retryForOption,
} as const;
export type RollbackOptions = OptionValues<typeof rollbackOptions>;

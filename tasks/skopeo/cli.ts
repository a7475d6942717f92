/**
 * How tasks drive skopeo (a well-kept registry client, in the dev shell and
 * on GitHub's runners): credentials only through a private auth file, never
 * on a command line or in its environment.
 */

import { WITHOUT_AWS_CREDENTIALS } from "../aws/credentials.ts";
import { TaskError } from "../runner/errors.ts";
import type { RunOptions, Shell } from "../runner/shell.ts";
import type { SkopeoFiles } from "./auth.ts";

const INSTALL_SKOPEO =
	"enter the dev shell (`nix develop`), or install skopeo (`apt-get install skopeo` on Debian and Ubuntu; GitHub's runners have it)";

export function requireSkopeo(): void {
	if (Bun.which("skopeo") === null)
		throw new TaskError(`\`skopeo\` is not on PATH; ${INSTALL_SKOPEO}.`);
}

/** skopeo's environment: the runner's, without AWS credentials (it needs none: the auth file logs it in). */
export function withoutCredentials($: Shell, options: RunOptions = {}) {
	return $({ ...options, env: { ...WITHOUT_AWS_CREDENTIALS, ...options.env } });
}

/**
 * The manifest the registry serves for `reference` (its bytes and their
 * sha256 digest), or undefined when the tag does not exist. A read: it runs
 * under --dry-run too.
 */
export async function servedManifest(
	$: Shell,
	reference: string,
	files: SkopeoFiles,
): Promise<{ digest: string; raw: string } | undefined> {
	const inspect = await withoutCredentials($, {
		quiet: true,
		probe: true,
		nothrow: true,
	})`skopeo --policy ${files.policy} inspect --raw --retry-times 3 --authfile ${files.authFile} ${reference}`;
	if (inspect.exitCode === 0) {
		const digest = `sha256:${new Bun.CryptoHasher("sha256").update(inspect.stdout).digest("hex")}`;
		return { digest, raw: inspect.stdout };
	}
	if (/manifest unknown|not found|unknown tag|404/i.test(inspect.stderr)) return undefined;
	throw new TaskError(
		`skopeo could not read ${reference} (${inspect.stderr.trim().split("\n").pop()}); check the registry and run the task again.`,
	);
}

/**
 * The image configuration of the manifest `reference` names (a digest
 * reference: repository@sha256:…), as the registry serves it: where an
 * image's platform is recorded. A read.
 */
export async function servedConfig(
	$: Shell,
	reference: string,
	files: SkopeoFiles,
): Promise<{ architecture?: string; os?: string }> {
	const inspect = await withoutCredentials($, {
		quiet: true,
		probe: true,
		nothrow: true,
	})`skopeo --policy ${files.policy} inspect --config --raw --retry-times 3 --authfile ${files.authFile} ${reference}`;
	if (inspect.exitCode === 0) {
		try {
			const config = JSON.parse(inspect.stdout);
			if (typeof config === "object" && config !== null) return config;
		} catch {}
		return {};
	}
	throw new TaskError(
		`skopeo could not read the configuration of ${reference} (${inspect.stderr.trim().split("\n").pop()}); check the registry and run the task again.`,
	);
}

/** The digest the registry serves for `reference`, or undefined when the tag does not exist. */
export async function servedDigest(
	$: Shell,
	reference: string,
	files: SkopeoFiles,
): Promise<string | undefined> {
	return (await servedManifest($, reference, files))?.digest;
}

/**
 * Pushes one image of an OCI layout byte for byte (--preserve-digests fails
 * rather than recompress), so the registry serves the build's own digest.
 * Pushing the same layout to the same tag again changes nothing (same
 * digest); callers check what the tag serves first and push only when it differs.
 */
export async function pushLayout(
	$: Shell,
	layout: string,
	refName: string,
	reference: string,
	files: SkopeoFiles,
): Promise<void> {
	await withoutCredentials(
		$,
	)`skopeo --policy ${files.policy} copy --preserve-digests --retry-times 3 --dest-authfile ${files.authFile} oci:${layout}:${refName} ${reference}`;
}

/**
 * Points `tag` at what `digest` names in the same repository (an index with
 * its images): a moving tag, idempotent on the digest it serves (moved only
 * when it does not already point there).
 */
export async function moveTag(
	$: Shell,
	repository: string,
	digest: string,
	tag: string,
	files: SkopeoFiles,
): Promise<"moved" | "unchanged"> {
	const target = `docker://${repository}:${tag}`;
	if ((await servedDigest($, target, files)) === digest) return "unchanged";
	await withoutCredentials(
		$,
	)`skopeo --policy ${files.policy} copy --all --preserve-digests --retry-times 3 --src-authfile ${files.authFile} --dest-authfile ${files.authFile} docker://${repository}@${digest} ${target}`;
	return "moved";
}

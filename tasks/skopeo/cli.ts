/**
 * How tasks drive skopeo (a well-kept registry client, in the dev shell and
 * on GitHub's runners): credentials only through a private auth file, never
 * on a command line or in its environment.
 */

import { WITHOUT_AWS_CREDENTIALS } from "../aws/credentials.ts";
import { TaskError } from "../runner/errors.ts";
import type { RunOptions, Shell } from "../runner/shell.ts";

export const INSTALL_SKOPEO =
	"enter the dev shell (`nix develop`), or install skopeo (`apt-get install skopeo` on Debian and Ubuntu; GitHub's runners have it)";

export function requireSkopeo(): void {
	if (Bun.which("skopeo") === null)
		throw new TaskError(`\`skopeo\` is not on PATH; ${INSTALL_SKOPEO}.`);
}

/** Files skopeo reads: the registry login and a signature policy that accepts our own image. */
export interface SkopeoFiles {
	authFile: string;
	policy: string;
}

/** skopeo's environment: the runner's, without AWS credentials (it needs none: the auth file logs it in). */
function skopeo($: Shell, options: RunOptions = {}) {
	return $({ ...options, env: { ...WITHOUT_AWS_CREDENTIALS, ...options.env } });
}

/**
 * The digest the registry serves for `reference` (sha256 of the manifest's
 * bytes), or undefined when the tag does not exist. A read: it runs under --dry-run too.
 */
export async function servedDigest(
	$: Shell,
	reference: string,
	files: SkopeoFiles,
): Promise<string | undefined> {
	const inspect = await skopeo($, {
		quiet: true,
		probe: true,
		nothrow: true,
	})`skopeo --policy ${files.policy} inspect --raw --retry-times 3 --authfile ${files.authFile} ${reference}`;
	if (inspect.exitCode === 0) {
		return `sha256:${new Bun.CryptoHasher("sha256").update(inspect.stdout).digest("hex")}`;
	}
	if (/manifest unknown|not found|unknown tag|404/i.test(inspect.stderr)) return undefined;
	throw new TaskError(
		`skopeo could not read ${reference} (${inspect.stderr.trim().split("\n").pop()}); check the registry and run the task again.`,
	);
}

/**
 * Pushes one image of an OCI layout byte for byte (--preserve-digests fails
 * rather than recompress), so the registry serves the build's own digest.
 */
export async function pushLayout(
	$: Shell,
	layout: string,
	refName: string,
	reference: string,
	files: SkopeoFiles,
): Promise<void> {
	await skopeo(
		$,
	)`skopeo --policy ${files.policy} copy --preserve-digests --retry-times 3 --dest-authfile ${files.authFile} oci:${layout}:${refName} ${reference}`;
}

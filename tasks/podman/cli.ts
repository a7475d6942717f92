/**
 * How tasks drive podman: only for what skopeo cannot do, joining images
 * already in a registry under one multi-arch index. Its storage is private
 * to the run and removed with it, so nothing of it outlives the task.
 */
import { privateDirectory, removeStaleDirectories, temporaryBase } from "../project/files.ts";
import { TaskError } from "../runner/errors.ts";
import type { Shell } from "../runner/shell.ts";
import type { TaskContext } from "../runner/task.ts";
import type { SkopeoFiles } from "../skopeo/auth.ts";
import { withoutCredentials } from "../skopeo/cli.ts";

const INSTALL_PODMAN =
	"enter the dev shell (`nix develop`), or install podman (`apt-get install podman` on Debian and Ubuntu; GitHub's runners have it)";

const RUN_ROOT_PREFIX = "nix-images-podman-";

/** Where podman's run state goes: it refuses a run root longer than 50 characters, so not under a long TMPDIR. */
function runRootBase(): string {
	const base = temporaryBase();
	return `${base}/${RUN_ROOT_PREFIX}1234567-123456`.length <= 50 ? base : "/tmp";
}

/** Refuses a machine without podman; removes the run state of killed runs, even when this one needs no podman. */
export function requirePodman(): void {
	if (Bun.which("podman") === null)
		throw new TaskError(`\`podman\` is not on PATH; ${INSTALL_PODMAN}.`);
	removeStaleDirectories(runRootBase(), RUN_ROOT_PREFIX);
}

/** `podman` with storage of its own: images in the auth directory, run state in a short path. */
export function privatePodman(context: TaskContext, files: SkopeoFiles): string[] {
	const runRoot = privateDirectory(context, runRootBase(), RUN_ROOT_PREFIX);
	return [
		"podman",
		"--root",
		`${files.dir}/storage`,
		"--runroot",
		runRoot,
		"--tmpdir",
		`${files.dir}/tmp`,
		"--storage-driver",
		"vfs",
		"--events-backend",
		"none",
	];
}

/**
 * Pushes an OCI image index of `digests` (images already in `repository`,
 * each with its platform read from its config) under `tag`; the images
 * themselves are not copied again. Not idempotent by itself: the caller
 * pushes only when `tag` does not already index exactly these digests.
 */
export async function pushIndex(
	$: Shell,
	podman: readonly string[],
	repository: string,
	digests: readonly string[],
	tag: string,
	files: SkopeoFiles,
): Promise<void> {
	const run = withoutCredentials($);
	const list = `localhost/nix-images-release:${tag}`;
	await run`${podman} manifest create ${list}`;
	for (const digest of digests) {
		await run`${podman} manifest add --authfile ${files.authFile} ${list} ${`docker://${repository}@${digest}`}`;
	}
	await run`${podman} manifest push --all=false --format oci --authfile ${files.authFile} ${list} ${`docker://${repository}:${tag}`}`;
}

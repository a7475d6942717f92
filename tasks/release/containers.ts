/**
 * The containers' half of `release`: the per-architecture images publish
 * pushed, joined under one multi-arch OCI index with podman (skopeo cannot
 * make indexes), tagged `<nix version>-<release id>` (immutable); the moving
 * tags (`<nix version>`, `latest`) are pointed at it last, by the caller.
 */
import { privatePodman, pushIndex, requirePodman } from "../podman/cli.ts";
import { systems } from "../project/systems.ts";
import type { ContainerRecord } from "../publish/container.ts";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import type { SkopeoFiles } from "../skopeo/auth.ts";
import { moveTag, requireSkopeo, servedManifest } from "../skopeo/cli.ts";
import type { CheckedContainer } from "./checks.ts";

export interface ContainerIndex {
	repository: string;
	nixVersion: string;
	/** sha256:… of the index; undefined under --dry-run when it does not exist yet. */
	digest: string | undefined;
	tags: { release: string; version: string; latest: string };
	files: SkopeoFiles;
	/** The systems whose image the index lacks: the moving tags stay where they are until none is missing. */
	missing: string[];
}

/** What the index joins: one Nix version's images, and the systems that have none. */
export interface IndexPlan {
	nixVersion: string;
	/** The systems of nix/systems.json without a record. */
	missing: string[];
}

/**
 * Checks, before anything changes, that the tools are there and that the
 * records belong together (one Nix version).
 */
export function planIndex(records: readonly ContainerRecord[]): IndexPlan {
	requireSkopeo();
	requirePodman();
	const repositories = [...new Set(records.map((record) => record.repositoryUri))];
	const versions = [...new Set(records.map((record) => record.nixVersion))];
	// One repository is checked against the stack's before anything is read (checks.ts).
	if (versions.length !== 1) {
		throw new TaskError(
			`The container images were published to ${repositories.join(" and ")} with Nix ${versions.join(" and ")}; release joins images of one build of one repository: publish every system's image from the same commit and release again.`,
		);
	}
	const missing = systems().filter((system) => !records.some((record) => record.system === system));
	return { nixVersion: versions[0] as string, missing };
}

/** The images to index, as checked against the stack's repository (checks.ts), with its login. */
export interface CheckedImages {
	repository: string;
	files: SkopeoFiles;
	images: readonly CheckedContainer[];
}

/** Whether a served manifest is an index of exactly these image digests. */
function indexes(raw: string, digests: readonly string[]): boolean {
	try {
		const index = JSON.parse(raw) as { manifests?: { digest?: string }[] };
		const listed = (index.manifests ?? []).map((manifest) => manifest.digest).sort();
		return JSON.stringify(listed) === JSON.stringify([...digests].sort());
	} catch {
		return false;
	}
}

/**
 * The index under its immutable release tag, idempotent on that tag: one
 * that already lists exactly these digests is used as it is.
 */
export async function indexContainers(
	context: TaskContext,
	plan: IndexPlan,
	{ repository, files, images }: CheckedImages,
	releaseId: string,
): Promise<ContainerIndex> {
	const { $, log, dryRun } = context;
	const { nixVersion, missing } = plan;
	const tags = { release: `${nixVersion}-${releaseId}`, version: nixVersion, latest: "latest" };
	const digests = images.map((image) => image.digest);
	const reference = `docker://${repository}:${tags.release}`;
	const served = await servedManifest($, reference, files);
	if (served !== undefined && indexes(served.raw, digests)) {
		log(
			`${repository}:${tags.release} already indexes ${digests.length} image(s): ${served.digest}.`,
		);
		return { repository, nixVersion, digest: served.digest, tags, files, missing };
	}
	if (served !== undefined) {
		throw new TaskError(
			`${repository}:${tags.release} exists and indexes other images than this release's; delete that tag from the repository and release again.`,
		);
	}
	await pushIndex($, privatePodman(context, files), repository, digests, tags.release, files);
	const pushed = dryRun ? undefined : await servedManifest($, reference, files);
	if (!dryRun && (pushed === undefined || !indexes(pushed.raw, digests))) {
		throw new TaskError(
			`After the push ${repository}:${tags.release} does not index this release's images; release again.`,
		);
	}
	if (pushed) log(`pushed the index ${repository}:${tags.release} (${pushed.digest}).`);
	return { repository, nixVersion, digest: pushed?.digest, tags, files, missing };
}

/**
 * The moving tags, pointed at the index last, and only at an index of every
 * system (one of fewer would take the others away from their users):
 * idempotent on the digest each already serves. Returns the tags that point
 * at the index.
 */
export async function moveContainerTags(
	context: TaskContext,
	index: ContainerIndex,
): Promise<string[]> {
	const moving = [index.tags.version, index.tags.latest];
	if (index.missing.length > 0) {
		context.log(
			`${moving.join(" and ")} stay where they are: the index has no image for ${index.missing.join(", ")}; publish ${index.missing.length === 1 ? "its" : "their"} container (on a machine of that system, or in CI), bring its container.json here and release again.`,
		);
		return [];
	}
	if (index.digest === undefined) {
		context.log(`would point ${moving.join(" and ")} at the index`);
		return moving;
	}
	for (const tag of moving) {
		const moved = await moveTag(context.$, index.repository, index.digest, tag, index.files);
		const what =
			moved === "unchanged" ? "already pointed" : context.dryRun ? "would point" : "now points";
		context.log(`${index.repository}:${tag} ${what} at ${index.digest}.`);
	}
	return moving;
}

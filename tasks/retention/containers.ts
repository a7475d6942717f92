/**
 * ECR Public has no lifecycle rules, so every build's tags would stay for
 * ever: prune deletes the images that belong to no kept release. Kept: the
 * index the current release.json names, what a moving tag (`latest`, a Nix
 * version) serves, and the `lifecycleKeep` newest release tags
 * (`<nix version>-<release id>`); with each kept index, every platform
 * manifest it lists; with each kept image, the attestations tagged
 * `sha256-<its digest>…` (the referrers fallback). Only what follows from the
 * registry is decided here; deleting is ecr-public.ts's.
 */
import type { RepositoryImage } from "../../infra/prune/container-images.ts";
import type { Shell } from "../runner/shell.ts";
import type { SkopeoFiles } from "../skopeo/auth.ts";
import { servedManifest } from "../skopeo/cli.ts";

/** A release's own tag: `<nix version>-<release id>` (tasks/release/containers.ts). */
const RELEASE_TAG = /^[0-9][\w.+-]*-[0-9a-f]{12}$/;
/** A moving tag: latest, or a Nix version. */
const MOVING_TAG = /^(latest|[0-9]+(\.[0-9]+)+)$/;
/** An attestation or signature of a subject, in the tag scheme where the referrers API is missing. */
const ATTACHED = /^sha256-([0-9a-f]{64})/;

export interface ImagePlan {
	kept: Map<string, string>;
	deleted: { image: RepositoryImage; reason: string }[];
}

/**
 * Which images stay (digest → why) and which go, reading each kept index
 * from the registry for its platform manifests. A read.
 */
export async function planImages(
	$: Shell,
	repository: string,
	files: SkopeoFiles,
	images: readonly RepositoryImage[],
	keep: number,
	currentIndex: string | undefined,
): Promise<ImagePlan> {
	const kept = new Map<string, string>();
	if (currentIndex) kept.set(currentIndex, "the current release's index");
	for (const image of images) {
		const moving = image.tags.filter((tag) => MOVING_TAG.test(tag));
		if (moving.length > 0) kept.set(image.digest, `served by ${moving.join(", ")}`);
	}
	const releases = images
		.filter((image) => image.tags.some((tag) => RELEASE_TAG.test(tag)))
		.sort((a, b) => b.pushedAt - a.pushedAt)
		.slice(0, keep);
	for (const image of releases) {
		if (!kept.has(image.digest)) kept.set(image.digest, `one of the ${keep} newest releases`);
	}
	// An index keeps its platform manifests.
	for (const [digest] of [...kept]) {
		const served = await servedManifest($, `docker://${repository}@${digest}`, files);
		const listed = served ? manifestsOf(served.raw) : [];
		for (const manifest of listed) {
			if (!kept.has(manifest)) kept.set(manifest, `in the kept index ${digest}`);
		}
	}
	// What is attached to a kept image stays with it; to any other, goes with it.
	for (const image of images) {
		const subject = image.tags.map((tag) => ATTACHED.exec(tag)?.[1]).find(Boolean);
		if (subject && kept.has(`sha256:${subject}`) && !kept.has(image.digest)) {
			kept.set(image.digest, `attached to sha256:${subject}`);
		}
	}
	const deleted = images
		.filter((image) => !kept.has(image.digest))
		.map((image) => ({
			image,
			reason:
				image.tags.length > 0
					? `tags ${image.tags.join(", ")}: no kept release`
					: "untagged, in no kept release",
		}));
	return { kept, deleted };
}

/** The digests an OCI index or Docker manifest list names (none for a plain image manifest). */
function manifestsOf(raw: string): string[] {
	try {
		const parsed = JSON.parse(raw) as { manifests?: { digest?: string }[] };
		return (parsed.manifests ?? []).flatMap((manifest) => manifest.digest ?? []);
	} catch {
		return [];
	}
}

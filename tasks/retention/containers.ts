/**
 * ECR Public has no lifecycle rules, so every build's tags would stay for
 * ever: prune deletes the images that belong to no kept release. Kept: the
 * index the current release.json names, what a moving tag (`latest`, a Nix
 * version) serves, and the `lifecycleKeep` newest release tags
 * (`<nix version>-<release id>`); with each kept index, every platform
 * manifest it lists; with each kept image, what is attached to it. Attached:
 * what ECR Public holds under the tag scheme of the referrers fallback
 * (`sha256-<hex of its subject's digest>`, and cosign's `….sig`, `….att`,
 * `….sbom`): attestations and signatures of that subject, and of those in
 * turn. They stay exactly while their subject does, and go with it, listed
 * in the plan as such. Only what follows from the registry is decided here;
 * deleting is ecr-public.ts's.
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
const ATTACHED = /^sha256-([0-9a-f]{64})(\.(sig|att|sbom))?$/;

/** The subjects an image is attached to (by its tags), as digests: none for an image of its own. */
function subjectsOf(image: RepositoryImage): string[] {
	return image.tags.flatMap((tag) => {
		const hex = ATTACHED.exec(tag)?.[1];
		return hex === undefined ? [] : [`sha256:${hex}`];
	});
}

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
	// What is attached to a kept image stays with it (a signature of a kept attestation too, so
	// until nothing more is kept); to any other, goes with it.
	let more = true;
	while (more) {
		more = false;
		for (const image of images) {
			const subject = subjectsOf(image).find((digest) => kept.has(digest));
			if (subject !== undefined && !kept.has(image.digest)) {
				kept.set(image.digest, `attached to ${subject}`);
				more = true;
			}
		}
	}
	const present = new Set(images.map((image) => image.digest));
	const reasonFor = (image: RepositoryImage) => {
		const subjects = subjectsOf(image);
		if (subjects.length > 0) {
			// The subject's own line names it; this one says it goes because its subject does.
			const gone = subjects.every((digest) => present.has(digest))
				? "which goes"
				: "no longer in the repository";
			return `tags ${image.tags.join(", ")}: attached to an image ${gone}`;
		}
		return image.tags.length > 0
			? `tags ${image.tags.join(", ")}: no kept release`
			: "untagged, in no kept release";
	};
	// Attached images first: a run stopped midway leaves subjects short of some attachments rather
	// than attachments of a subject already gone (a re-run deletes the rest either way).
	const deleted = images
		.filter((image) => !kept.has(image.digest))
		.sort((a, b) => Number(subjectsOf(b).length > 0) - Number(subjectsOf(a).length > 0))
		.map((image) => ({ image, reason: reasonFor(image) }));
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

/**
 * The images of the ECR Public repository, as prune lists and deletes them
 * (ECR Public has no lifecycle rules). Apart from ecr-public.ts, which
 * publish and release use, so that neither reaches a delete.
 */
import {
	BatchDeleteImageCommand,
	DescribeImagesCommand,
	type ECRPUBLICClient,
} from "@aws-sdk/client-ecr-public";
import type { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";

/** An image of the repository as ECR Public lists it: one manifest (an index too), its tags, when it was pushed. */
export interface RepositoryImage {
	digest: string;
	tags: string[];
	pushedAt: number;
}

/** Every image of the repository (DescribeImages, every page); only reads. */
export async function repositoryImages(
	calls: AwsCalls,
	ecrPublic: ECRPUBLICClient,
	name: string,
): Promise<RepositoryImage[]> {
	const images: RepositoryImage[] = [];
	let token: string | undefined;
	do {
		const page = await calls.read(
			ecrPublic,
			new DescribeImagesCommand({ repositoryName: name, ...(token ? { nextToken: token } : {}) }),
		);
		for (const detail of page.imageDetails ?? []) {
			if (!detail.imageDigest) continue;
			images.push({
				digest: detail.imageDigest,
				tags: detail.imageTags ?? [],
				pushedAt: detail.imagePushedAt?.getTime() ?? 0,
			});
		}
		token = page.nextToken;
	} while (token);
	return images;
}

/**
 * BatchDeleteImage of images by digest (with every tag on them), 100 a call:
 * idempotent on the digests, since an image already gone (ImageNotFound)
 * counts as deleted. Other failures are one sentence.
 */
export async function deleteImages(
	calls: AwsCalls,
	ecrPublic: ECRPUBLICClient,
	name: string,
	digests: readonly string[],
): Promise<void> {
	for (let start = 0; start < digests.length; start += 100) {
		const chunk = digests.slice(start, start + 100);
		const answer = await calls.write(
			ecrPublic,
			new BatchDeleteImageCommand({
				repositoryName: name,
				imageIds: chunk.map((imageDigest) => ({ imageDigest })),
			}),
		);
		const failed = (answer?.failures ?? []).filter(
			(failure) => failure.failureCode !== "ImageNotFound",
		);
		if (failed.length > 0) {
			throw new PublishError(
				`ECR Public did not delete ${failed.map((f) => `${f.imageId?.imageDigest} (${f.failureCode}: ${f.failureReason ?? ""})`).join(", ")} from ${name}; run the task again.`,
			);
		}
	}
}

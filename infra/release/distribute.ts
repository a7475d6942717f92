/**
 * A private AMI → public copies in every region of the stack's distribution
 * configuration, made by EC2 Image Builder's DistributeImage, followed with
 * GetImage until AVAILABLE or FAILED (then RetryImage once).
 */
import { createHash } from "node:crypto";
import { CreateTagsCommand, DescribeImagesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import {
	DistributeImageCommand,
	GetImageCommand,
	type Image,
	type ImagebuilderClient,
	RetryImageCommand,
} from "@aws-sdk/client-imagebuilder";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode, PublishError } from "../sdk/errors.ts";
import { pollUntil } from "../sdk/poll.ts";
import { DISTRIBUTION_TAG, RETRIES_TAG } from "../vocabulary.ts";

export interface DistributionRequest {
	calls: AwsCalls;
	ec2: EC2Client;
	imagebuilder: ImagebuilderClient;
	imageId: string;
	buildId: string;
	system: string;
	distributionConfigurationArn: string;
	executionRole: string;
	tags: Record<string, string>;
	/** How long to follow the distribution before giving up (the configuration's own limit is 12 h). */
	timeLimitMs?: number;
	/** How long a FAILED right after RetryImage is taken for the status before the retry (FAILED_AFTER_RETRY_MS). */
	failedAfterRetryMs?: number;
	log: (line: string) => void;
}

export interface Distribution {
	imageBuildVersionArn: string;
	/** region → AMI id of the copy there. */
	amis: Record<string, string>;
}

/** A client token (at most 36 characters) from the build, what the call acts on and why: the same call is asked for once. */
export function distributionToken(buildId: string, scope: string, purpose = "distribute"): string {
	return createHash("sha256").update(`${buildId}|${scope}|${purpose}`).digest("hex").slice(0, 32);
}

/** Image Builder states after which an image will not go on: a new distribution is needed. */
const GONE = new Set(["CANCELLED", "DELETED"]);

/** Whether the recorded distribution can still be followed: not cancelled, not deleted (by hand or by the lifecycle policy). */
async function followable(request: DistributionRequest, arn: string): Promise<boolean> {
	try {
		const { image } = await request.calls.read(
			request.imagebuilder,
			new GetImageCommand({ imageBuildVersionArn: arn }),
		);
		return !GONE.has(image?.state?.status ?? "");
	} catch (error) {
		if (errorCode(error) === "ResourceNotFoundException") return false;
		throw error;
	}
}

/**
 * DistributeImage, idempotent on its client token and on the
 * DISTRIBUTION_TAG an earlier run left on the AMI: a re-run follows the same
 * Image Builder image instead of starting another. The token comes from the
 * build id and the configuration, or, when the recorded distribution was
 * cancelled or deleted, from that one's ARN: its successor is asked for once too.
 */
async function startDistribution(
	request: DistributionRequest,
): Promise<{ arn: string; asked: boolean } | undefined> {
	const { calls, ec2, imageId } = request;
	const { Images } = await calls.read(ec2, new DescribeImagesCommand({ ImageIds: [imageId] }));
	const recorded = Images?.[0]?.Tags?.find((tag) => tag.Key === DISTRIBUTION_TAG)?.Value;
	if (recorded && (await followable(request, recorded))) return { arn: recorded, asked: false };
	if (recorded) {
		request.log(
			`${request.system}: the distribution ${recorded} was cancelled or deleted; starting another.`,
		);
	}
	const started = await calls.write(
		request.imagebuilder,
		new DistributeImageCommand({
			sourceImage: imageId,
			distributionConfigurationArn: request.distributionConfigurationArn,
			executionRole: request.executionRole,
			tags: request.tags,
			clientToken: distributionToken(
				request.buildId,
				request.distributionConfigurationArn,
				recorded ? `after ${recorded}` : "distribute",
			),
		}),
	);
	if (calls.dryRun) return undefined;
	const arn = started?.imageBuildVersionArn;
	if (!arn) {
		throw new PublishError(
			`DistributeImage answered without an image for ${imageId}; run the task again, which asks for the same distribution.`,
		);
	}
	await calls.write(
		ec2,
		new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: DISTRIBUTION_TAG, Value: arn }] }),
	);
	return { arn, asked: true };
}

/** GetImage until the image settles, polling with backoff. */
/**
 * How long GetImage may still say FAILED right after RetryImage (not
 * documented either way): FAILED counts as the retry's end only after this.
 */
export const FAILED_AFTER_RETRY_MS = 5 * 60_000;

function follow(
	request: DistributionRequest,
	arn: string,
	since: { startedAt: number; retriedAt?: number },
): Promise<Image> {
	const limitMs = request.timeLimitMs ?? 3 * 60 * 60_000;
	const failedAfterRetryMs = request.failedAfterRetryMs ?? FAILED_AFTER_RETRY_MS;
	// Right after DistributeImage its image may not be known yet: waited out, not taken as gone.
	const justStarted = {
		notVisibleYet: (error: unknown) => errorCode(error) === "ResourceNotFoundException",
		madeAt: since.startedAt,
	};
	let shown = "";
	return pollUntil(
		async () => {
			const { image } = await request.calls.read(
				request.imagebuilder,
				new GetImageCommand({ imageBuildVersionArn: arn }),
				justStarted,
			);
			const status = image?.state?.status ?? "PENDING";
			const stale =
				status === "FAILED" &&
				since.retriedAt !== undefined &&
				Date.now() - since.retriedAt < failedAfterRetryMs;
			if (stale) return undefined;
			if (status !== shown) request.log(`${request.system}: distribution ${status.toLowerCase()}.`);
			shown = status;
			const settled = status === "AVAILABLE" || status === "FAILED" || GONE.has(status);
			return settled ? (image as Image) : undefined;
		},
		{
			capMs: 30_000,
			limitMs,
			late: () =>
				new PublishError(
					`The distribution of ${request.imageId} (${arn}) was still ${shown} after ${Math.round(limitMs / 60_000)} minutes; run the task again later, it will follow the same distribution.`,
				),
		},
	);
}

/**
 * RetryImage of a FAILED distribution, idempotent on the RETRIES_TAG count
 * and a client token derived from it: the count goes up on the AMI before
 * the call, so a re-run after a crash in between makes the next retry, not a
 * second one of the same number; each run retries at most once.
 */
async function retry(request: DistributionRequest, arn: string): Promise<void> {
	const { calls, ec2, imageId } = request;
	const { Images } = await calls.read(ec2, new DescribeImagesCommand({ ImageIds: [imageId] }));
	const made = Number(Images?.[0]?.Tags?.find((tag) => tag.Key === RETRIES_TAG)?.Value ?? 0);
	const count = String((Number.isInteger(made) ? made : 0) + 1);
	await calls.write(
		ec2,
		new CreateTagsCommand({ Resources: [imageId], Tags: [{ Key: RETRIES_TAG, Value: count }] }),
	);
	await calls.write(
		request.imagebuilder,
		new RetryImageCommand({
			imageBuildVersionArn: arn,
			clientToken: distributionToken(request.buildId, arn, `retry ${count}`),
		}),
	);
}

/**
 * The AMI in every region of the configuration, public where the
 * configuration says so. Idempotent on DistributeImage's client token (from
 * the build and the configuration), the ImageBuilderImage tag that records
 * its image on the AMI, and the ImageBuilderRetries count (see retry).
 */
export async function distribute(request: DistributionRequest): Promise<Distribution | undefined> {
	const { log, system } = request;
	let started = await startDistribution(request);
	if (started === undefined) {
		log(
			"would follow the distribution with GetImage until AVAILABLE (RetryImage once if it FAILED)",
		);
		return undefined;
	}
	// A distribution this run asked for may not be visible yet; a recorded one was seen already.
	const startedAt = () => (started?.asked ? Date.now() : 0);
	let image = await follow(request, started.arn, { startedAt: startedAt() });
	// The token answered with the image of a run that crashed before recording it, cancelled
	// since: now that it is recorded, startDistribution asks for its successor.
	if (started.asked && GONE.has(image.state?.status ?? "")) {
		started = (await startDistribution(request)) as NonNullable<typeof started>;
		image = await follow(request, started.arn, { startedAt: startedAt() });
	}
	const arn = started.arn;
	if (image.state?.status === "FAILED") {
		log(
			`${system}: distribution failed (${image.state.reason ?? "no reason given"}); retrying once.`,
		);
		await retry(request, arn);
		image = await follow(request, arn, { startedAt: 0, retriedAt: Date.now() });
	}
	if (GONE.has(image.state?.status ?? "")) {
		throw new PublishError(
			`The distribution of ${request.imageId} (${system}) was ${image.state?.status?.toLowerCase()} (${arn}); release again to start another.`,
		);
	}
	if (image.state?.status !== "AVAILABLE") {
		throw new PublishError(
			`The distribution of ${request.imageId} (${system}) ended ${image.state?.status}: ${image.state?.reason ?? "no reason given"}; see ${arn} and Image Builder's log group /aws/imagebuilder/, fix the cause (often the stack: \`bun task deploy\`) and release again, which retries this distribution.`,
		);
	}
	const amis = Object.fromEntries(
		(image.outputResources?.amis ?? []).map((ami) => [ami.region ?? "", ami.image ?? ""]),
	);
	return { imageBuildVersionArn: arn, amis };
}

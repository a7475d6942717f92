/**
 * A completed snapshot → a private AMI in the home region, registered for
 * Nitro and Graviton (UEFI, ENA, SR-IOV, IMDSv2 only, gp3 root on /dev/xvda,
 * NitroTPM on x86-64), tagged at registration, and deprecated after a while
 * as the lifecycle policy expects. Public copies are the release's job.
 */
import {
	DescribeImagesCommand,
	type EC2Client,
	EnableImageDeprecationCommand,
	type Image,
	RegisterImageCommand,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode, PublishError } from "../sdk/errors.ts";
import { pollUntil } from "../sdk/poll.ts";
import { awsTimeMs } from "../sdk/times.ts";
import { HOME_REGION, IMAGE_SHA256_TAG, type System } from "../vocabulary.ts";
import { type Registration, registration } from "./registration.ts";

const DAY_MS = 24 * 60 * 60_000;

/** What EC2 allows in an AMI name (RegisterImage: 3–128 of these characters). */
const AMI_NAME_CHARACTERS = /^[A-Za-z0-9()[\] ./\-'@_]+$/;

/**
 * Why EC2 would refuse `name` as an AMI name, or undefined when it would
 * not: checked before anything is uploaded, since RegisterImage comes last.
 */
export function amiNameProblem(name: string): string | undefined {
	if (name.length < 3 || name.length > 128) {
		return `is ${name.length} characters long, and AWS allows 3 to 128`;
	}
	if (!AMI_NAME_CHARACTERS.test(name)) {
		const refused = [...new Set([...name].filter((c) => !AMI_NAME_CHARACTERS.test(c)))];
		return `has characters AWS does not allow in an AMI name (${JSON.stringify(refused.join(""))}; it allows letters, digits, spaces and ( ) [ ] . / - ' @ _)`;
	}
	return undefined;
}

export interface ImageRequest {
	calls: AwsCalls;
	ec2: EC2Client;
	/** Unique per build: RegisterImage has no client token, and names are unique per region. */
	name: string;
	description: string;
	system: System;
	snapshotId: string;
	/** The tags the AMI shares with its snapshot. */
	tags: Record<string, string>;
	/** The disk image's SHA-256 (64 hex digits): the AMI's IMAGE_SHA256_TAG, which its snapshot does not get. */
	imageSha256: string;
	/** Days after registration at which the AMI is deprecated. */
	deprecateDays: number;
}

export interface RegisteredImage {
	imageId: string;
	name: string;
	/** An AMI of this name already existed: nothing was registered. */
	existed: boolean;
	deprecateAt: string;
	/** What RegisterImage was given (or found to have been given). */
	registered: Registration;
}

/** The AMI of this name in the account, found by its name: the key that makes RegisterImage idempotent. */
async function findImage(
	calls: AwsCalls,
	ec2: EC2Client,
	name: string,
): Promise<Image | undefined> {
	const found = await calls.read(
		ec2,
		new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: [name] }] }),
	);
	return found.Images?.[0];
}

/**
 * RegisterImage unless an AMI of the same name exists. A repeat after a lost
 * answer gets InvalidAMIName.Duplicate, and then finds the AMI by its name.
 */
async function registerImage(
	request: ImageRequest,
): Promise<{ image?: Image; existed: boolean; registeredAt: number }> {
	const { calls, ec2, name } = request;
	const existing = await findImage(calls, ec2, name);
	const registeredAt = Date.now();
	if (existing) return { image: existing, existed: true, registeredAt };
	try {
		const registered = await calls.write(
			ec2,
			new RegisterImageCommand({
				Name: name,
				Description: request.description,
				...registration(request.system, request.snapshotId),
				TagSpecifications: [
					{
						ResourceType: "image",
						Tags: Object.entries({
							...request.tags,
							[IMAGE_SHA256_TAG]: request.imageSha256,
						}).map(([Key, Value]) => ({ Key, Value })),
					},
				],
			}),
		);
		if (registered === undefined) return { existed: false, registeredAt };
		return { image: { ImageId: registered.ImageId, Name: name }, existed: false, registeredAt };
	} catch (error) {
		if (errorCode(error) !== "InvalidAMIName.Duplicate") throw error;
		// Ours, registered by an attempt whose answer was lost; it may take a while to be listed.
		const image = await pollUntil(() => findImage(calls, ec2, name), {
			firstMs: 500,
			limitMs: calls.budget.policy.visibilityWindowMs,
			late: () => error as Error,
		});
		return { image, existed: true, registeredAt };
	}
}

/**
 * Waits until the AMI is `available`, polling with backoff; only reads. Right
 * after RegisterImage, DescribeImages may not know the AMI yet
 * (InvalidAMIID.NotFound): waited for, from `registeredAt`, for the visibility window.
 */
function waitAvailable(
	calls: AwsCalls,
	ec2: EC2Client,
	imageId: string,
	registeredAt: number,
): Promise<Image> {
	const justRegistered = {
		notVisibleYet: (error: unknown) => errorCode(error) === "InvalidAMIID.NotFound",
		madeAt: registeredAt,
	};
	return pollUntil(
		async () => {
			const found = await calls.read(
				ec2,
				new DescribeImagesCommand({ ImageIds: [imageId] }),
				justRegistered,
			);
			const image = found.Images?.[0];
			if (image?.State === "available") return image;
			if (image?.State === "pending") return undefined;
			throw new PublishError(
				`AMI ${imageId} is ${image?.State ?? "missing"}${image?.StateReason?.Message ? ` (${image.StateReason.Message})` : ""}, not available; deregister it (\`aws ec2 deregister-image --region ${HOME_REGION} --image-id ${imageId}\`) and run the task again.`,
			);
		},
		{
			limitMs: 30 * 60_000,
			late: () =>
				new PublishError(
					`AMI ${imageId} was still pending after 30 minutes; run the task again later, it will wait for it.`,
				),
		},
	);
}

/**
 * EnableImageDeprecation at the AMI's creation date plus `days`: idempotent on
 * the image id, since the date is derived from it and setting it again changes nothing.
 */
async function deprecate(calls: AwsCalls, ec2: EC2Client, image: Image, days: number) {
	const created = image.CreationDate ? awsTimeMs(image.CreationDate) : Date.now();
	// Whole minutes: what EC2 stores, so the value read back compares equal.
	const deprecateAt = new Date(Math.ceil((created + days * DAY_MS) / 60_000) * 60_000);
	const current = image.DeprecationTime ? awsTimeMs(image.DeprecationTime) : undefined;
	if (current !== deprecateAt.getTime()) {
		await calls.write(
			ec2,
			new EnableImageDeprecationCommand({ ImageId: image.ImageId, DeprecateAt: deprecateAt }),
		);
	}
	return deprecateAt.toISOString();
}

/**
 * An AMI of this name found already registered must carry this image's
 * ImageSha256 tag: one registered by a publish older than the tag has none,
 * and the publish role may tag an AMI only as it registers it.
 */
function requireImageSha256(image: Image, request: ImageRequest): void {
	const found = image.Tags?.find((tag) => tag.Key === IMAGE_SHA256_TAG)?.Value;
	if (found === request.imageSha256) return;
	const carries =
		found === undefined
			? `has no ${IMAGE_SHA256_TAG} tag (a publish older than that tag registered it, and no role may add it to an existing AMI)`
			: `carries ${IMAGE_SHA256_TAG} ${found}, not this image's ${request.imageSha256}`;
	throw new PublishError(
		`AMI ${image.ImageId} (${request.name}) ${carries}; deregister it (\`aws ec2 deregister-image --region ${HOME_REGION} --image-id ${image.ImageId}\`) and publish again, which registers it anew from the same snapshot.`,
	);
}

/**
 * The snapshot as a registered, available, deprecation-dated private AMI of
 * this build, tagged with the image's SHA-256: idempotent on the AMI's name
 * (unique per build and region; an AMI found by it must carry that tag) and,
 * for the deprecation, on a date derived from its creation.
 */
export async function ensureImage(request: ImageRequest): Promise<RegisteredImage> {
	const { calls, ec2, name } = request;
	const { image, existed, registeredAt } = await registerImage(request);
	if (existed && image !== undefined) requireImageSha256(image, request);
	const registered = registration(request.system, request.snapshotId);
	if (image?.ImageId === undefined) {
		calls.log(
			`would wait for the AMI to be available and call EnableImageDeprecation ${request.deprecateDays} days after its creation`,
		);
		return { imageId: "(new AMI)", name, existed, deprecateAt: "(on registration)", registered };
	}
	// An AMI found already available needs no second look.
	const available =
		calls.dryRun || image.State === "available"
			? image
			: await waitAvailable(calls, ec2, image.ImageId, registeredAt);
	const deprecateAt = await deprecate(calls, ec2, available, request.deprecateDays);
	return { imageId: image.ImageId, name, existed, deprecateAt, registered };
}

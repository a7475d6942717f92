/**
 * What each of Image Builder's regional copies gets after a distribution.
 * A deprecation time: the copies get none of their own (only AWS's 2-year
 * default for public AMIs), so each gets the source's, as NixOS/amis
 * deprecates every copy, capped at 2 years from the copy's creation when it
 * is public (EnableImageDeprecation's limit). Its snapshots are tagged
 * ManagedBy, BuildId and System (the configuration tags the AMI only), so
 * retention may delete them with the AMI, under the same tag conditions as
 * everything else it deletes. And the copy itself gets the source's
 * ImageSha256 tag (the configuration's tags are the same for every build),
 * so whoever holds a copy's id reads the disk image's digest from it.
 */
import {
	CreateTagsCommand,
	DescribeImagesCommand,
	type EC2Client,
	EnableImageDeprecationCommand,
	type Image,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode } from "../sdk/errors.ts";
import { awsTimeMs } from "../sdk/times.ts";
import { MAX_PUBLIC_DEPRECATION_DAYS } from "../vocabulary.ts";

const DAY_MS = 86_400_000;

/** Just made by the distribution: a copy may not be visible in its region yet. */
const justCopied = {
	notVisibleYet: (error: unknown) => errorCode(error) === "InvalidAMIID.NotFound",
};

/**
 * Every copy tagged with `imageTags` (tagImage) and its snapshots with
 * `snapshotTags` (tagSnapshots), then EnableImageDeprecation
 * of every copy at the source's deprecation time (or
 * 2 years after the copy's creation, if sooner, for public copies),
 * idempotent on that date, derived from the AMIs: a copy already deprecated
 * then is left alone. Returns region → the deprecation time set.
 */
export async function finishCopies(
	calls: AwsCalls,
	ec2For: (region: string) => EC2Client,
	home: EC2Client,
	sourceImageId: string,
	copies: Readonly<Record<string, string>>,
	publicAmis: boolean,
	snapshotTags: Readonly<Record<string, string>>,
	imageTags: Readonly<Record<string, string>>,
): Promise<Record<string, string>> {
	const { Images } = await calls.read(
		home,
		new DescribeImagesCommand({ ImageIds: [sourceImageId] }),
	);
	const source = Images?.[0]?.DeprecationTime;
	const sourceAt = source ? awsTimeMs(source) : undefined;
	const set = await Promise.all(
		Object.entries(copies).map(async ([region, imageId]) => {
			const ec2 = ec2For(region);
			const { Images: found } = await calls.read(
				ec2,
				new DescribeImagesCommand({ ImageIds: [imageId] }),
				{ ...justCopied, madeAt: Date.now() },
			);
			const copy = found?.[0];
			if (copy) {
				await tagImage(calls, ec2, copy, imageTags);
				await tagSnapshots(calls, ec2, copy, snapshotTags);
			}
			const created = copy?.CreationDate ? awsTimeMs(copy.CreationDate) : Date.now();
			// Whole minutes, what EC2 stores; the cap rounds down so it stays within AWS's limit.
			const cap = publicAmis
				? Math.floor((created + MAX_PUBLIC_DEPRECATION_DAYS * DAY_MS) / 60_000) * 60_000
				: Number.POSITIVE_INFINITY;
			const at = Math.min(sourceAt ?? cap, cap);
			if (!Number.isFinite(at)) return [region, ""] as const;
			const current = copy?.DeprecationTime ? awsTimeMs(copy.DeprecationTime) : undefined;
			if (current !== at) {
				await calls.write(
					ec2,
					new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(at) }),
				);
			}
			return [region, new Date(at).toISOString()] as const;
		}),
	);
	return Object.fromEntries(set.filter(([, at]) => at !== ""));
}

/**
 * CreateTags on a copy of the tags it lacks (or has with another value),
 * idempotent on the tags themselves: a re-run reads them on the copy and
 * puts none again, and putting one again changes nothing.
 */
async function tagImage(
	calls: AwsCalls,
	ec2: EC2Client,
	copy: Image,
	tags: Readonly<Record<string, string>>,
): Promise<void> {
	const has = new Map((copy.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
	const missing = Object.entries(tags).filter(([key, value]) => has.get(key) !== value);
	if (missing.length === 0 || copy.ImageId === undefined) return;
	await calls.write(
		ec2,
		new CreateTagsCommand({
			Resources: [copy.ImageId],
			Tags: missing.map(([Key, Value]) => ({ Key, Value })),
		}),
	);
}

/** CreateTags on a copy's snapshots, idempotent on the tags (setting them again changes nothing). */
async function tagSnapshots(
	calls: AwsCalls,
	ec2: EC2Client,
	copy: Image,
	tags: Readonly<Record<string, string>>,
): Promise<void> {
	const snapshots = (copy.BlockDeviceMappings ?? []).flatMap(
		(mapping) => mapping.Ebs?.SnapshotId ?? [],
	);
	if (snapshots.length === 0) return;
	await calls.write(
		ec2,
		new CreateTagsCommand({
			Resources: snapshots,
			Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
		}),
	);
}

/**
 * The AMIs and snapshots of one stack in one region, as retention sees them:
 * found by the ManagedBy tag and the stack's lifecycle tag values (one per
 * system), each AMI marked as a source (published: BuildId and System tags,
 * in the home region) or a copy (made by a distribution). Only reads.
 */
import {
	DescribeImagesCommand,
	DescribeSnapshotsCommand,
	type EC2Client,
	type Image,
	type Snapshot,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { awsTimeMs } from "../sdk/times.ts";
import { DISTRIBUTION_TAG, LIFECYCLE_TAG_KEY, MANAGED_BY } from "../vocabulary.ts";

export interface StackImage {
	region: string;
	image: Image;
	system: string;
	kind: "source" | "copy";
	createdAt: number;
	/** For a source: whether a release distributed it (it carries the distribution's tag). */
	released: boolean;
}

const tag = (image: { Tags?: { Key?: string; Value?: string }[] }, key: string) =>
	image.Tags?.find((t) => t.Key === key)?.Value;

/**
 * This stack's AMIs in the client's region: `lifecycleValues` maps each
 * system to its lifecycle tag value (the stack's LifecycleTagValues output).
 */
export async function stackImages(
	calls: AwsCalls,
	ec2: EC2Client,
	region: string,
	lifecycleValues: Readonly<Record<string, string>>,
): Promise<StackImage[]> {
	const bySystem = new Map(
		Object.entries(lifecycleValues).map(([system, value]) => [value, system]),
	);
	const images: Image[] = [];
	let token: string | undefined;
	do {
		const page = await calls.read(
			ec2,
			new DescribeImagesCommand({
				Owners: ["self"],
				Filters: [
					{ Name: `tag:${MANAGED_BY.key}`, Values: [MANAGED_BY.value] },
					{ Name: `tag:${LIFECYCLE_TAG_KEY}`, Values: [...bySystem.keys()] },
				],
				...(token ? { NextToken: token } : {}),
			}),
		);
		images.push(...(page.Images ?? []));
		token = page.NextToken;
	} while (token);
	return images.flatMap((image) => {
		const system = bySystem.get(tag(image, LIFECYCLE_TAG_KEY) ?? "");
		if (system === undefined || image.ImageId === undefined) return [];
		const source = tag(image, "BuildId") !== undefined && image.SourceImageId === undefined;
		return [
			{
				region,
				image,
				system,
				kind: source ? "source" : "copy",
				createdAt: image.CreationDate ? awsTimeMs(image.CreationDate) : 0,
				released: tag(image, DISTRIBUTION_TAG) !== undefined,
			},
		];
	});
}

/** The snapshots tagged ManagedBy in the client's region; only reads. */
export async function projectSnapshots(calls: AwsCalls, ec2: EC2Client): Promise<Snapshot[]> {
	const snapshots: Snapshot[] = [];
	let token: string | undefined;
	do {
		const page = await calls.read(
			ec2,
			new DescribeSnapshotsCommand({
				OwnerIds: ["self"],
				Filters: [{ Name: `tag:${MANAGED_BY.key}`, Values: [MANAGED_BY.value] }],
				...(token ? { NextToken: token } : {}),
			}),
		);
		snapshots.push(...(page.Snapshots ?? []));
		token = page.NextToken;
	} while (token);
	return snapshots;
}

/** Every snapshot id the account's AMIs in the client's region use (whoever's they are); only reads. */
export async function snapshotsInUse(calls: AwsCalls, ec2: EC2Client): Promise<Set<string>> {
	const used = new Set<string>();
	let token: string | undefined;
	do {
		const page = await calls.read(
			ec2,
			new DescribeImagesCommand({ Owners: ["self"], ...(token ? { NextToken: token } : {}) }),
		);
		for (const image of page.Images ?? []) {
			for (const mapping of image.BlockDeviceMappings ?? []) {
				if (mapping.Ebs?.SnapshotId) used.add(mapping.Ebs.SnapshotId);
			}
		}
		token = page.NextToken;
	} while (token);
	return used;
}

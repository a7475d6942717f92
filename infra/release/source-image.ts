/**
 * What a record publish wrote says of its AMI, checked against EC2 before
 * release acts on it: the record reaches the release job from a job that
 * runs the builds' code, so it is believed only where AWS agrees. Only reads.
 */
import {
	DescribeImagesCommand,
	DescribeSnapshotsCommand,
	type EC2Client,
	type Image,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode } from "../sdk/errors.ts";
import { awsTimeIso } from "../sdk/times.ts";
import {
	HOME_REGION,
	IMAGE_SHA256_TAG,
	MANAGED_BY,
	SYSTEM_ARCHITECTURES,
	type System,
} from "../vocabulary.ts";

/** What a record claims (ami.json's fields release uses). */
export interface ClaimedImage {
	system: System;
	buildId: string;
	region: string;
	imageId: string;
	/** The name publish derives from the record's build (label, system, build id). */
	name: string;
	snapshotId: string;
	/** The disk image's SHA-256 the record claims (ami.json's sha256). */
	sha256: string;
}

/** The AMI as EC2 describes it, once it matches the claim. */
export interface CheckedImage {
	imageId: string;
	name: string;
	buildId: string;
	system: System;
	snapshotId: string;
	/** When the AMI was registered (ISO 8601): the build's date. */
	createdAt: string;
	/** The AMI's ImageSha256 tag, as EC2 has it (equal to the claim's sha256). */
	imageSha256: string;
}

/** One field where the record and AWS disagree. */
export interface Mismatch {
	field: string;
	recorded: string;
	actual: string;
}

/** The tags that make an AMI or snapshot this project's, of this build and system. */
function tagMismatches(
	what: string,
	tags: { Key?: string; Value?: string }[] | undefined,
	claim: ClaimedImage,
): Mismatch[] {
	const found = Object.fromEntries((tags ?? []).map((tag) => [tag.Key, tag.Value]));
	const wanted = {
		[MANAGED_BY.key]: MANAGED_BY.value,
		BuildId: claim.buildId,
		System: claim.system,
	};
	return Object.entries(wanted).flatMap(([key, value]) =>
		found[key] === value
			? []
			: [{ field: `${what} tag ${key}`, recorded: value, actual: found[key] ?? "(none)" }],
	);
}

/** DescribeImages of this account's AMI by id: "gone" when EC2 knows no such AMI, "foreign" when it is another account's. */
async function ownImage(
	calls: AwsCalls,
	ec2: EC2Client,
	imageId: string,
): Promise<Image | "gone" | "foreign"> {
	try {
		const { Images } = await calls.read(
			ec2,
			new DescribeImagesCommand({ ImageIds: [imageId], Owners: ["self"] }),
		);
		return Images?.[0] ?? "foreign";
	} catch (error) {
		if (errorCode(error).startsWith("InvalidAMIID.")) return "gone";
		throw error;
	}
}

/**
 * Checks the claim against the AMI in the home region and its root
 * snapshot: owned by this account, available, tagged ManagedBy with the
 * claim's BuildId and System (the AMI and the snapshot) and, the AMI, with
 * the claim's sha256 as ImageSha256, named as publish names it, of the
 * system's architecture. Returns what AWS says, the fields that disagree,
 * that the AMI is gone (deregistered, or never was), or that it is right
 * but for the ImageSha256 tag, which a publish older than it did not set.
 */
export async function checkSourceImage(
	calls: AwsCalls,
	ec2: EC2Client,
	claim: ClaimedImage,
): Promise<
	{ image: CheckedImage } | { mismatches: Mismatch[] } | { gone: true } | { untagged: true }
> {
	if (claim.region !== HOME_REGION) {
		return {
			mismatches: [
				{ field: "region", recorded: claim.region, actual: `AMIs are published in ${HOME_REGION}` },
			],
		};
	}
	const image = await ownImage(calls, ec2, claim.imageId);
	if (image === "gone") return { gone: true };
	if (image === "foreign") {
		return {
			mismatches: [
				{ field: "imageId", recorded: claim.imageId, actual: "an AMI of another account" },
			],
		};
	}
	const mismatches: Mismatch[] = [];
	const differ = (field: string, recorded: string, actual: string | undefined) => {
		if (recorded !== actual) mismatches.push({ field, recorded, actual: actual ?? "(none)" });
	};
	differ("state", "available", image.State);
	mismatches.push(...tagMismatches("AMI", image.Tags, claim));
	differ("imageName", claim.name, image.Name);
	differ("architecture", SYSTEM_ARCHITECTURES[claim.system].ec2, image.Architecture);
	const root = image.BlockDeviceMappings?.find(
		(mapping) => mapping.DeviceName === image.RootDeviceName,
	)?.Ebs?.SnapshotId;
	differ("snapshotId", claim.snapshotId, root);
	if (root !== undefined) {
		const { Snapshots } = await calls
			.read(ec2, new DescribeSnapshotsCommand({ SnapshotIds: [root], OwnerIds: ["self"] }))
			.catch((error) => {
				if (errorCode(error) === "InvalidSnapshot.NotFound") return { Snapshots: [] };
				throw error;
			});
		const snapshot = Snapshots?.[0];
		if (snapshot === undefined) {
			mismatches.push({
				field: "snapshotId",
				recorded: root,
				actual: "no such snapshot of this account",
			});
		} else {
			mismatches.push(...tagMismatches("snapshot", snapshot.Tags, claim));
		}
	}
	const imageSha256 = image.Tags?.find((tag) => tag.Key === IMAGE_SHA256_TAG)?.Value;
	if (imageSha256 === undefined && mismatches.length === 0) return { untagged: true };
	differ(`AMI tag ${IMAGE_SHA256_TAG}`, claim.sha256, imageSha256);
	if (mismatches.length > 0 || imageSha256 === undefined) return { mismatches };
	return {
		image: {
			imageId: claim.imageId,
			name: image.Name ?? claim.name,
			buildId: claim.buildId,
			system: claim.system,
			snapshotId: root ?? claim.snapshotId,
			createdAt: awsTimeIso(image.CreationDate) ?? "",
			imageSha256,
		},
	};
}

/**
 * The AMIs of a release as EC2 describes them in one region: each one that
 * release.json names, against what publish registered and the distribution
 * made of it, and its root snapshot. Only reads: one DescribeImages and one
 * DescribeSnapshots per region, whatever the number of systems.
 */
import {
	DescribeImagesCommand,
	DescribeSnapshotsCommand,
	type EC2Client,
} from "@aws-sdk/client-ec2";
import { registration } from "../publish/registration.ts";
import type { AwsCalls } from "../sdk/calls.ts";
import { awsTimeMs } from "../sdk/times.ts";
import { IMAGE_SHA256_TAG, type System } from "../vocabulary.ts";
import { compare, type Finding } from "./findings.ts";

/** An AMI as the release says it is. */
export interface ExpectedImage {
	system: System;
	imageId: string;
	name: string;
	/** Launch permission for everyone: the copies of a release with publicAmis; never the private source. */
	public: boolean;
	/** Tags it must carry (others may be there too). */
	tags: Record<string, string>;
	/**
	 * The disk image's SHA-256 its ImageSha256 tag must hold, source and
	 * copies alike: release.json's imageSha256, where the release records one.
	 */
	imageSha256?: string;
}

/** What one region's AMIs and their root snapshots say. */
export interface ImagesInRegion {
	findings: Finding[];
	/** imageId → its root snapshot's id, where the AMI exists. */
	rootSnapshots: Map<string, string>;
}

/**
 * Each expected AMI in the region `ec2` is for: exists, is this account's
 * (Owners self: an AMI of another account is "none" here), available, named
 * as the release says, of the system's architecture, booting as publish
 * registered it (UEFI, IMDSv2 only, ENA, SR-IOV, NitroTPM where the system
 * has it), deprecated in the future (not yet), public exactly when
 * expected, tagged (with the image's SHA-256 too, where the release
 * records it); and its root snapshot exists and is completed.
 * Deprecated and disabled AMIs are included, so they are found and named.
 */
export async function checkImages(
	calls: AwsCalls,
	ec2: EC2Client,
	expected: readonly ExpectedImage[],
	now = Date.now(),
): Promise<ImagesInRegion> {
	const findings: Finding[] = [];
	const rootSnapshots = new Map<string, string>();
	if (expected.length === 0) return { findings, rootSnapshots };
	// A filter, not ImageIds: one unknown id would fail the whole call with InvalidAMIID.NotFound.
	const { Images } = await calls.read(
		ec2,
		new DescribeImagesCommand({
			Owners: ["self"],
			Filters: [{ Name: "image-id", Values: expected.map((image) => image.imageId) }],
			IncludeDeprecated: true,
			IncludeDisabled: true,
		}),
	);
	const found = new Map((Images ?? []).map((image) => [image.ImageId, image]));
	for (const want of expected) {
		const base = { system: want.system, subject: `AMI ${want.imageId}` };
		const image = found.get(want.imageId);
		if (image === undefined) {
			findings.push({
				...base,
				field: "exists",
				expected: "an AMI of this account",
				actual: "none of this account's (deregistered, never made here, or another account's)",
			});
			continue;
		}
		const registered = registration(want.system, "");
		compare(findings, base, "state", "available", image.State);
		compare(findings, base, "name", want.name, image.Name);
		compare(findings, base, "architecture", String(registered.Architecture), image.Architecture);
		compare(findings, base, "boot mode", String(registered.BootMode), image.BootMode);
		compare(findings, base, "IMDS support", String(registered.ImdsSupport), image.ImdsSupport);
		compare(findings, base, "ENA", "true", String(image.EnaSupport ?? false));
		compare(findings, base, "SR-IOV", String(registered.SriovNetSupport), image.SriovNetSupport);
		if (registered.TpmSupport !== undefined) {
			compare(findings, base, "NitroTPM", registered.TpmSupport, image.TpmSupport);
		}
		const deprecation = image.DeprecationTime ? awsTimeMs(image.DeprecationTime) : Number.NaN;
		if (!(deprecation > now)) {
			findings.push({
				...base,
				field: "deprecation",
				expected: "a time in the future",
				actual: image.DeprecationTime ?? "(none)",
			});
		}
		compare(findings, base, "public", String(want.public), String(image.Public ?? false));
		const tags = Object.fromEntries((image.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
		const wanted = {
			...want.tags,
			...(want.imageSha256 === undefined ? {} : { [IMAGE_SHA256_TAG]: want.imageSha256 }),
		};
		for (const [key, value] of Object.entries(wanted)) {
			compare(findings, base, `tag ${key}`, value, tags[key]);
		}
		const root = image.BlockDeviceMappings?.find(
			(mapping) => mapping.DeviceName === image.RootDeviceName,
		)?.Ebs?.SnapshotId;
		if (root === undefined) {
			findings.push({ ...base, field: "root snapshot", expected: "one", actual: "(none)" });
		} else rootSnapshots.set(want.imageId, root);
	}
	if (rootSnapshots.size > 0) {
		const { Snapshots } = await calls.read(
			ec2,
			new DescribeSnapshotsCommand({
				OwnerIds: ["self"],
				Filters: [{ Name: "snapshot-id", Values: [...new Set(rootSnapshots.values())] }],
			}),
		);
		const states = new Map((Snapshots ?? []).map((snapshot) => [snapshot.SnapshotId, snapshot]));
		for (const want of expected) {
			const id = rootSnapshots.get(want.imageId);
			if (id === undefined) continue;
			compare(
				findings,
				{ system: want.system, subject: `snapshot ${id} of ${want.imageId}` },
				"state",
				"completed",
				states.get(id)?.State ?? "none (deleted)",
			);
		}
	}
	return { findings, rootSnapshots };
}

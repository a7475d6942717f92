/**
 * Retiring an AMI of this project: what `release --make-room` and `prune`
 * do to each AMI they take. Deregistering breaks every launch template and
 * Auto Scaling group that names the AMI's id, so both say which ids go.
 */
import {
	DeleteSnapshotCommand,
	DeregisterImageCommand,
	type EC2Client,
	type Image,
	ListImagesInRecycleBinCommand,
	ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode } from "../sdk/errors.ts";

const inUse = (error: unknown) => errorCode(error) === "InvalidSnapshot.InUse";

const gone = (error: unknown) =>
	/^InvalidAMIID\.|^InvalidSnapshot\.NotFound$/.test(errorCode(error));

/** Runs `call`, taking "it is gone already" (the lifecycle policy, an earlier run) as done. */
async function unlessGone(call: () => Promise<unknown>): Promise<void> {
	await call().catch((error) => {
		if (!gone(error)) throw error;
	});
}

/** Whether the account's Recycle Bin holds `imageId` (a retention rule kept it on deregistration). */
async function inRecycleBin(calls: AwsCalls, ec2: EC2Client, imageId: string): Promise<boolean> {
	const { Images } = await calls.read(
		ec2,
		new ListImagesInRecycleBinCommand({ ImageIds: [imageId] }),
	);
	return (Images ?? []).some((image) => image.ImageId === imageId);
}

/** What retiring an AMI left: snapshots the Recycle Bin keeps until its rule lets the AMI go. */
export interface Retired {
	keptByRecycleBin: string[];
}

/**
 * Retires `image`: its public launch permission removed first (so a
 * Recycle Bin retention rule cannot keep it counted against the quota),
 * then DeregisterImage, then DeleteSnapshot of its EBS snapshots. Right
 * after deregistration a snapshot may still be "in use" for a while (waited
 * out); when a Recycle Bin rule kept the AMI, its snapshots stay in use
 * until the bin lets it go, so they are left (and said) instead: prune's
 * orphan rule takes them later. Idempotent on the AMI and snapshot ids:
 * each step whose resource is gone already counts as done; a snapshot a
 * crash left after its AMI went is prune's (tagged, with no AMI).
 */
export async function retireImage(calls: AwsCalls, ec2: EC2Client, image: Image): Promise<Retired> {
	const imageId = image.ImageId as string;
	if (image.Public) {
		await unlessGone(() =>
			calls.write(
				ec2,
				new ModifyImageAttributeCommand({
					ImageId: imageId,
					LaunchPermission: { Remove: [{ Group: "all" }] },
				}),
			),
		);
	}
	await unlessGone(() => calls.write(ec2, new DeregisterImageCommand({ ImageId: imageId })));
	const snapshots = (image.BlockDeviceMappings ?? []).flatMap(
		(mapping) => mapping.Ebs?.SnapshotId ?? [],
	);
	const deregisteredAt = Date.now();
	const keptByRecycleBin: string[] = [];
	for (const snapshotId of snapshots) {
		const remove = (options = {}) =>
			unlessGone(() =>
				calls.write(ec2, new DeleteSnapshotCommand({ SnapshotId: snapshotId }), options),
			);
		try {
			await remove();
		} catch (error) {
			if (!inUse(error)) throw error;
			if (await inRecycleBin(calls, ec2, imageId)) {
				keptByRecycleBin.push(snapshotId);
				continue;
			}
			await remove({ notVisibleYet: inUse, madeAt: deregisteredAt });
		}
	}
	return { keptByRecycleBin };
}

/**
 * Deletes a snapshot no AMI of the account lists (an interrupted publish's,
 * a crash's leftover); gone counts as done. One an AMI in the Recycle Bin
 * still uses answers "in use": left for a later run, and said so (false).
 */
export async function deleteOrphanSnapshot(
	calls: AwsCalls,
	ec2: EC2Client,
	snapshotId: string,
): Promise<boolean> {
	try {
		await unlessGone(() => calls.write(ec2, new DeleteSnapshotCommand({ SnapshotId: snapshotId })));
		return true;
	} catch (error) {
		if (inUse(error)) return false;
		throw error;
	}
}

/**
 * EBS encryption by default, as publish and release must know it: a snapshot
 * made while it is on is encrypted (and encrypted AMIs cannot be made
 * public), with the account's default KMS key. A customer-managed key would
 * need grants for every step (the EBS direct upload, RegisterImage, the smoke
 * test's launch, Image Builder's copies in every region) that this project's
 * roles do not have, so it is refused up front rather than midway.
 */
import {
	type EC2Client,
	GetEbsDefaultKmsKeyIdCommand,
	GetEbsEncryptionByDefaultCommand,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";

export interface EbsEncryption {
	/** Whether new snapshots and volumes in the region are encrypted. */
	byDefault: boolean;
	/** The default KMS key they are encrypted with: `alias/aws/ebs` (AWS managed) unless changed. */
	kmsKeyId: string;
}

/** EBS encryption by default in the client's region, and its key; only reads. */
export async function ebsEncryption(calls: AwsCalls, ec2: EC2Client): Promise<EbsEncryption> {
	const [encryption, key] = await Promise.all([
		calls.read(ec2, new GetEbsEncryptionByDefaultCommand({})),
		calls.read(ec2, new GetEbsDefaultKmsKeyIdCommand({})),
	]);
	return {
		byDefault: encryption?.EbsEncryptionByDefault === true,
		kmsKeyId: key?.KmsKeyId ?? "alias/aws/ebs",
	};
}

/** Whether the key is the AWS managed EBS key, which every principal of the account may use. */
export function awsManagedKey(kmsKeyId: string): boolean {
	return kmsKeyId === "alias/aws/ebs" || kmsKeyId.endsWith(":alias/aws/ebs");
}

/** The sentence refusing a customer-managed default key in `region`. */
export function customerKeyRefusal(region: string, kmsKeyId: string): string {
	return `EBS encryption by default in ${region} uses the customer-managed KMS key ${kmsKeyId}, and the upload, RegisterImage, the smoke test's launch and Image Builder's copies in every region would each need grants on it that this project's roles do not have; set the region's default key back to AWS's own (\`aws ec2 reset-ebs-default-kms-key-id --region ${region}\`) or turn encryption by default off, then run the task again`;
}

/**
 * Refuses, before anything is uploaded, an account whose new snapshots this
 * project could not go on with: encrypted when the AMIs are to be public, or
 * encrypted with a customer-managed key.
 */
export async function requireUsableEncryption(
	calls: AwsCalls,
	ec2: EC2Client,
	region: string,
	publicAmis: boolean,
): Promise<void> {
	const encryption = await ebsEncryption(calls, ec2);
	if (!encryption.byDefault) return;
	if (publicAmis) {
		throw new PublishError(
			`EBS encryption by default is on in ${region}, so the snapshot would be encrypted and its AMIs could not be made public; turn it off (\`aws ec2 disable-ebs-encryption-by-default --region ${region}\`), or set the publicAmis setting to false and run \`bun task deploy\`.`,
		);
	}
	if (!awsManagedKey(encryption.kmsKeyId)) {
		throw new PublishError(`${customerKeyRefusal(region, encryption.kmsKeyId)}.`);
	}
}

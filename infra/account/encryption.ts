/**
 * EBS encryption by default, as publish and release must know it: a snapshot
 * made while it is on is encrypted, and encrypted AMIs cannot be made public.
 */
import { type EC2Client, GetEbsEncryptionByDefaultCommand } from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";

/** Whether new snapshots in the client's region are encrypted (EBS encryption by default); only reads. */
export async function encryptedByDefault(calls: AwsCalls, ec2: EC2Client): Promise<boolean> {
	const { EbsEncryptionByDefault } = await calls.read(
		ec2,
		new GetEbsEncryptionByDefaultCommand({}),
	);
	return EbsEncryptionByDefault === true;
}

/** Refuses, before anything is uploaded, an account whose new snapshots would be encrypted: encrypted AMIs cannot be public. */
export async function requireUnencryptedByDefault(
	calls: AwsCalls,
	ec2: EC2Client,
	region: string,
): Promise<void> {
	if (await encryptedByDefault(calls, ec2)) {
		throw new PublishError(
			`EBS encryption by default is on in ${region}, so the snapshot would be encrypted and its AMIs could not be made public; turn it off (\`aws ec2 disable-ebs-encryption-by-default --region ${region}\`), or set the publicAmis setting to false and run \`bun task deploy\`.`,
		);
	}
}

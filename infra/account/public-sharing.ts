/**
 * Whether the account lets AMIs be shared publicly in a set of regions:
 * image block public access and EBS encryption by default, both per region.
 */
import { type EC2Client, GetImageBlockPublicAccessStateCommand } from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";
import { awsManagedKey, customerKeyRefusal, ebsEncryption } from "./encryption.ts";

/**
 * Refuses, before anything is distributed, regions where public copies would
 * fail: image block public access on, or EBS encryption by default on (the
 * copies' snapshots would be encrypted, and encrypted AMIs cannot be public),
 * naming them and how to turn each off.
 */
export async function requirePublicSharing(
	calls: AwsCalls,
	ec2For: (region: string) => EC2Client,
	regions: readonly string[],
): Promise<void> {
	const states = await Promise.all(
		regions.map(async (region) => {
			const [access, encryption] = await Promise.all([
				calls.read(ec2For(region), new GetImageBlockPublicAccessStateCommand({})),
				ebsEncryption(calls, ec2For(region)),
			]);
			return {
				region,
				blocked: access.ImageBlockPublicAccessState === "block-new-sharing",
				encrypted: encryption.byDefault,
			};
		}),
	);
	const blocked = states.filter((state) => state.blocked).map((state) => state.region);
	const encrypted = states.filter((state) => state.encrypted).map((state) => state.region);
	const problems = [
		blocked.length > 0 &&
			`image block public access is on in ${blocked.join(", ")} (\`aws ec2 disable-image-block-public-access --region <region>\`, which takes minutes to apply)`,
		encrypted.length > 0 &&
			`EBS encryption by default is on in ${encrypted.join(", ")}, which would encrypt the copies (\`aws ec2 disable-ebs-encryption-by-default --region <region>\`)`,
	].filter(Boolean);
	if (problems.length > 0) {
		throw new PublishError(
			`The AMIs cannot be made public everywhere: ${problems.join("; and ")}; turn it off in each of those regions, or set publicAmis to false and run \`bun task deploy\`.`,
		);
	}
}

/**
 * Refuses, before anything is distributed, private copies the account's keys
 * would stop: a region whose encryption by default uses a customer-managed
 * key (Image Builder's copies there would need grants on it); only reads.
 */
export async function requireCopiesPossible(
	calls: AwsCalls,
	ec2For: (region: string) => EC2Client,
	regions: readonly string[],
): Promise<void> {
	const encryptions = await Promise.all(
		regions.map(async (region) => ({ region, ...(await ebsEncryption(calls, ec2For(region))) })),
	);
	const customer = encryptions.find((e) => e.byDefault && !awsManagedKey(e.kmsKeyId));
	if (customer) {
		throw new PublishError(`${customerKeyRefusal(customer.region, customer.kmsKeyId)}.`);
	}
}

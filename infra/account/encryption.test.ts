import { afterEach, describe, expect, test } from "bun:test";
import {
	EC2Client,
	GetEbsDefaultKmsKeyIdCommand,
	GetEbsEncryptionByDefaultCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { AwsCalls } from "../sdk/calls.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../sdk/retry.ts";
import { requireUsableEncryption } from "./encryption.ts";

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());
const ec2 = new EC2Client({ region: "us-east-1" });
const calls = () =>
	new AwsCalls(
		new RetryBudget({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 1 }),
		false,
		() => {},
	);

describe("requireUsableEncryption", () => {
	test("refuses an account that encrypts new snapshots when the AMIs are public, saying how to fix it", async () => {
		ec2Mock.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
		await expect(requireUsableEncryption(calls(), ec2, "us-east-1", true)).rejects.toThrow(
			"EBS encryption by default is on in us-east-1",
		);
		ec2Mock.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: false });
		await requireUsableEncryption(calls(), ec2, "us-east-1", true);
	});

	test("private AMIs may be encrypted with AWS's own key, never with a customer-managed one", async () => {
		ec2Mock.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
		for (const key of ["alias/aws/ebs", "arn:aws:kms:us-east-1:123456789012:alias/aws/ebs"]) {
			ec2Mock.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: key });
			await requireUsableEncryption(calls(), ec2, "us-east-1", false);
		}
		const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
		ec2Mock.on(GetEbsDefaultKmsKeyIdCommand).resolves({ KmsKeyId: key });
		await expect(requireUsableEncryption(calls(), ec2, "us-east-1", false)).rejects.toThrow(
			`EBS encryption by default in us-east-1 uses the customer-managed KMS key ${key}, and the upload, RegisterImage, the smoke test's launch and Image Builder's copies in every region would each need grants on it that this project's roles do not have; set the region's default key back to AWS's own (\`aws ec2 reset-ebs-default-kms-key-id --region us-east-1\`) or turn encryption by default off, then run the task again.`,
		);
	});
});

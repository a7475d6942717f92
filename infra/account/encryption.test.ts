import { afterEach, describe, expect, test } from "bun:test";
import { EC2Client, GetEbsEncryptionByDefaultCommand } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { AwsCalls } from "../sdk/calls.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../sdk/retry.ts";
import { requireUnencryptedByDefault } from "./encryption.ts";

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());
const ec2 = new EC2Client({ region: "us-east-1" });
const calls = () =>
	new AwsCalls(
		new RetryBudget({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 1 }),
		false,
		() => {},
	);

describe("requireUnencryptedByDefault", () => {
	test("refuses an account that encrypts new snapshots, saying how to fix it", async () => {
		ec2Mock.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
		await expect(requireUnencryptedByDefault(calls(), ec2, "us-east-1")).rejects.toThrow(
			"EBS encryption by default is on in us-east-1",
		);
		ec2Mock.on(GetEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: false });
		await requireUnencryptedByDefault(calls(), ec2, "us-east-1");
	});
});

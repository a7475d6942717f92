import { afterEach, describe, expect, test } from "bun:test";
import {
	EC2Client,
	GetEbsEncryptionByDefaultCommand,
	GetImageBlockPublicAccessStateCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../sdk/retry.ts";
import { requirePublicSharing } from "./public-sharing.ts";

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());
const calls = () =>
	new AwsCalls(
		new RetryBudget({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 1 }),
		false,
		() => {},
	);

describe("requirePublicSharing", () => {
	const regional = new Map<string, EC2Client>();
	const clientFor = (region: string) => {
		const client = regional.get(region) ?? new EC2Client({ region });
		regional.set(region, client);
		return client;
	};
	/** Each region's answers: block public access on in `blocked`, encryption by default on in `encrypted`. */
	function regions(blocked: string[], encrypted: string[]) {
		ec2Mock
			.on(GetImageBlockPublicAccessStateCommand)
			.callsFake(async (_input, getClient) => ({
				ImageBlockPublicAccessState: blocked.includes(await getClient().config.region())
					? "block-new-sharing"
					: "unblocked",
			}))
			.on(GetEbsEncryptionByDefaultCommand)
			.callsFake(async (_input, getClient) => ({
				EbsEncryptionByDefault: encrypted.includes(await getClient().config.region()),
			}));
	}

	test("names every region where image block public access or EBS encryption by default is on, and how to turn each off", async () => {
		regions(["eu-west-1", "ap-south-1"], ["ap-south-1", "us-west-2"]);
		const refusal = await requirePublicSharing(calls(), clientFor, [
			"us-east-1",
			"eu-west-1",
			"ap-south-1",
			"us-west-2",
		]).catch((error) => error);
		expect(refusal).toBeInstanceOf(PublishError);
		expect(refusal.message).toBe(
			"The AMIs cannot be made public everywhere: image block public access is on in eu-west-1, ap-south-1 (`aws ec2 disable-image-block-public-access --region <region>`, which takes minutes to apply); and EBS encryption by default is on in ap-south-1, us-west-2, which would encrypt the copies (`aws ec2 disable-ebs-encryption-by-default --region <region>`); turn it off in each of those regions, or set publicAmis to false and run `bun task deploy`.",
		);
		expect(ec2Mock.commandCalls(GetImageBlockPublicAccessStateCommand)).toHaveLength(4);
		expect(ec2Mock.commandCalls(GetEbsEncryptionByDefaultCommand)).toHaveLength(4);
	});

	test("passes when every region allows public sharing", async () => {
		regions([], []);
		await requirePublicSharing(calls(), clientFor, ["us-east-1", "us-west-2"]);
	});
});

import { afterEach, describe, expect, test } from "bun:test";
import {
	DescribeImagesCommand,
	DescribeSnapshotsCommand,
	EC2Client,
	type Image,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { AwsCalls } from "../sdk/calls.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../sdk/retry.ts";
import { checkImages, type ExpectedImage } from "./images.ts";

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());
const ec2 = new EC2Client({ region: "eu-west-1" });
const calls = () =>
	new AwsCalls(
		new RetryBudget({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 1 }),
		false,
		() => {},
	);
const SHA256 = "0123456789abcdef".repeat(4);
const NAME = "nixos-26.05-x86_64-linux-0123456789abcdef";

/** A copy as the distribution and release leave it, with `tags`. */
function copy(id: string, tags: Record<string, string>): Image {
	return {
		ImageId: id,
		Name: NAME,
		State: "available",
		Architecture: "x86_64",
		BootMode: "uefi",
		ImdsSupport: "v2.0",
		EnaSupport: true,
		SriovNetSupport: "simple",
		TpmSupport: "v2.0",
		DeprecationTime: "2099-01-01T00:00:00.000Z",
		Public: true,
		RootDeviceName: "/dev/xvda",
		BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: `snap-of-${id}` } }],
		Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
	};
}

const expected = (imageId: string, imageSha256?: string): ExpectedImage => ({
	system: "x86_64-linux",
	imageId,
	name: NAME,
	public: true,
	tags: { ManagedBy: "nix-images" },
	...(imageSha256 ? { imageSha256 } : {}),
});

describe("checkImages", () => {
	test("wants the ImageSha256 tag the release records on each AMI: missing or another is a finding", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves({
			Images: [
				copy("ami-1", { ManagedBy: "nix-images", ImageSha256: SHA256 }),
				copy("ami-2", { ManagedBy: "nix-images" }),
				copy("ami-3", { ManagedBy: "nix-images", ImageSha256: "f".repeat(64) }),
			],
		});
		ec2Mock.on(DescribeSnapshotsCommand).resolves({
			Snapshots: ["ami-1", "ami-2", "ami-3"].map((id) => ({
				SnapshotId: `snap-of-${id}`,
				State: "completed",
			})),
		});
		const { findings } = await checkImages(calls(), ec2, [
			expected("ami-1", SHA256),
			expected("ami-2", SHA256),
			expected("ami-3", SHA256),
		]);
		expect(findings).toEqual([
			{
				system: "x86_64-linux",
				subject: "AMI ami-2",
				field: "tag ImageSha256",
				expected: SHA256,
				actual: "(none)",
			},
			{
				system: "x86_64-linux",
				subject: "AMI ami-3",
				field: "tag ImageSha256",
				expected: SHA256,
				actual: "f".repeat(64),
			},
		]);
	});
	test("a release that records no imageSha256 (an older version's) is not held to one", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [copy("ami-2", { ManagedBy: "nix-images" })] });
		ec2Mock
			.on(DescribeSnapshotsCommand)
			.resolves({ Snapshots: [{ SnapshotId: "snap-of-ami-2", State: "completed" }] });
		const { findings } = await checkImages(calls(), ec2, [expected("ami-2")]);
		expect(findings).toEqual([]);
	});
});

import { afterEach, describe, expect, test } from "bun:test";
import {
	DescribeImagesCommand,
	EC2Client,
	EnableImageDeprecationCommand,
	type Image,
	RegisterImageCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../sdk/retry.ts";
import { ensureImage } from "./image.ts";
import { registration } from "./registration.ts";

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());
const ec2 = new EC2Client({ region: "us-east-1" });
const calls = (dryRun = false, log: (line: string) => void = () => {}) =>
	new AwsCalls(
		new RetryBudget({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 1 }),
		dryRun,
		log,
	);
const SHA256 = "0123456789abcdef".repeat(4);
const request = (dryRun = false, log?: (line: string) => void) => ({
	calls: calls(dryRun, log),
	ec2,
	name: "nixos-26.05-x86_64-linux-0123456789abcdef",
	description: "NixOS",
	system: "x86_64-linux" as const,
	snapshotId: "snap-1",
	tags: { ManagedBy: "nix-images", BuildId: "0123456789abcdef" },
	imageSha256: SHA256,
	deprecateDays: 90,
});
const CREATED = "2026-12-01T10:00:30.000Z";
const available: Image = {
	ImageId: "ami-1",
	Name: request().name,
	State: "available",
	CreationDate: CREATED,
	Tags: [{ Key: "ImageSha256", Value: SHA256 }],
};

describe("ensureImage", () => {
	test("registers a missing AMI for Nitro (UEFI, IMDSv2, ENA, SR-IOV, gp3, TPM on x86), tagged with the image's SHA-256 too, then deprecates it", async () => {
		ec2Mock
			.on(DescribeImagesCommand, { Filters: [{ Name: "name", Values: [request().name] }] })
			.resolves({ Images: [] })
			.on(DescribeImagesCommand, { ImageIds: ["ami-1"] })
			.resolves({ Images: [available] })
			.on(RegisterImageCommand)
			.resolves({ ImageId: "ami-1" })
			.on(EnableImageDeprecationCommand)
			.resolves({ Return: true });
		const image = await ensureImage(request());
		expect(image).toMatchObject({
			imageId: "ami-1",
			existed: false,
			deprecateAt: "2027-03-01T10:01:00.000Z",
		});
		const [register] = ec2Mock.commandCalls(RegisterImageCommand);
		expect(register?.args[0].input).toEqual({
			Name: request().name,
			Description: "NixOS",
			Architecture: "x86_64",
			BootMode: "uefi",
			EnaSupport: true,
			SriovNetSupport: "simple",
			ImdsSupport: "v2.0",
			TpmSupport: "v2.0",
			VirtualizationType: "hvm",
			RootDeviceName: "/dev/xvda",
			BlockDeviceMappings: [
				{
					DeviceName: "/dev/xvda",
					Ebs: { SnapshotId: "snap-1", VolumeType: "gp3", DeleteOnTermination: true },
				},
			],
			TagSpecifications: [
				{
					ResourceType: "image",
					Tags: [
						{ Key: "ManagedBy", Value: "nix-images" },
						{ Key: "BuildId", Value: "0123456789abcdef" },
						{ Key: "ImageSha256", Value: SHA256 },
					],
				},
			],
		});
		expect(ec2Mock.commandCalls(EnableImageDeprecationCommand)[0]?.args[0].input).toEqual({
			ImageId: "ami-1",
			DeprecateAt: new Date("2027-03-01T10:01:00.000Z"),
		});
	});
	test("is idempotent on the name: an existing AMI is reused, and a deprecation already set is not set again", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ...available, DeprecationTime: "2027-03-01T10:01:00.000Z" }] });
		const image = await ensureImage(request());
		expect(image).toMatchObject({ imageId: "ami-1", existed: true });
		expect(ec2Mock.commandCalls(RegisterImageCommand)).toHaveLength(0);
		expect(ec2Mock.commandCalls(EnableImageDeprecationCommand)).toHaveLength(0);
	});
	test("an AMI of the name without the image's ImageSha256 (an older publish's), or with another, is refused in one sentence saying to deregister it", async () => {
		for (const [tags, carries] of [
			[
				[],
				"has no ImageSha256 tag (a publish older than that tag registered it, and no role may add it to an existing AMI)",
			],
			[
				[{ Key: "ImageSha256", Value: "f".repeat(64) }],
				`carries ImageSha256 ${"f".repeat(64)}, not this image's ${SHA256}`,
			],
		] as const) {
			ec2Mock.reset();
			ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ...available, Tags: [...tags] }] });
			const error = await ensureImage(request()).catch((e) => e);
			expect(error).toBeInstanceOf(PublishError);
			expect(error.message).toBe(
				`AMI ami-1 (${request().name}) ${carries}; deregister it (\`aws ec2 deregister-image --region us-east-1 --image-id ami-1\`) and publish again, which registers it anew from the same snapshot.`,
			);
			expect(ec2Mock.commandCalls(RegisterImageCommand)).toHaveLength(0);
			expect(ec2Mock.commandCalls(EnableImageDeprecationCommand)).toHaveLength(0);
		}
	});
	test("a lost RegisterImage answer comes back as InvalidAMIName.Duplicate, and the AMI is found by its name", async () => {
		const duplicate = Object.assign(new Error("AMI name is already in use"), {
			name: "InvalidAMIName.Duplicate",
		});
		ec2Mock
			.on(DescribeImagesCommand, { Filters: [{ Name: "name", Values: [request().name] }] })
			.resolvesOnce({ Images: [] })
			.resolves({ Images: [available] })
			.on(DescribeImagesCommand, { ImageIds: ["ami-1"] })
			.resolves({ Images: [available] })
			.on(RegisterImageCommand)
			.rejects(duplicate)
			.on(EnableImageDeprecationCommand)
			.resolves({});
		expect(await ensureImage(request())).toMatchObject({ imageId: "ami-1", existed: true });
	});
	test("a failed AMI is one sentence saying how to clear it", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves({
			Images: [
				{ ...available, State: "failed" as const, StateReason: { Message: "snapshot unreadable" } },
			],
		});
		const error = await ensureImage(request()).catch((e) => e);
		expect(error).toBeInstanceOf(PublishError);
		expect(error.message).toBe(
			"AMI ami-1 is failed (snapshot unreadable), not available; deregister it (`aws ec2 deregister-image --region us-east-1 --image-id ami-1`) and run the task again.",
		);
	});
	test("under --dry-run prints RegisterImage and registers nothing", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves({ Images: [] });
		const lines: string[] = [];
		const image = await ensureImage(request(true, (line) => lines.push(line)));
		expect(image.imageId).toBe("(new AMI)");
		expect(lines[0]).toStartWith(
			'would call RegisterImage {"Name":"nixos-26.05-x86_64-linux-0123456789abcdef"',
		);
		expect(ec2Mock.commandCalls(RegisterImageCommand)).toHaveLength(0);
	});
});

describe("registration", () => {
	test("gives arm64 for aarch64-linux, and no TPM there", () => {
		expect(registration("aarch64-linux", "snap-1")).toMatchObject({
			Architecture: "arm64",
			BootMode: "uefi",
		});
		expect(registration("aarch64-linux", "snap-1")).not.toHaveProperty("TpmSupport");
	});
});

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
	CreateTagsCommand,
	DescribeImagesCommand,
	DescribeInstancesCommand,
	EC2Client,
	EC2ServiceException,
	GetConsoleOutputCommand,
	RunInstancesCommand,
	TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../sdk/retry.ts";
import { ATTEMPT_TAG, PURPOSE_TAG, SMOKE_TEST_TAG } from "../vocabulary.ts";
import { SELF_TERMINATION, smokeTest } from "./smoke-test.ts";

const ec2Mock = mockClient(EC2Client);
/** The instance runs until TerminateInstances, then DescribeInstances says shutting-down. */
let terminated = false;
const describeUntilTerminated = () => instanceIn(terminated ? "shutting-down" : "running");
const terminateNow = () => {
	terminated = true;
	return {};
};
beforeEach(() => {
	terminated = false;
	ec2Mock
		.on(DescribeInstancesCommand)
		.callsFake(describeUntilTerminated)
		.on(TerminateInstancesCommand)
		.callsFake(terminateNow);
});
afterEach(() => ec2Mock.reset());
const ec2 = new EC2Client({ region: "us-east-1" });
const MARKER = "nix-images: booted";
const BUILD = "0123456789abcdef";

function request(options: { dryRun?: boolean; log?: string[]; timeLimitMs?: number } = {}) {
	const log = options.log ?? [];
	const registered: (() => Promise<void>)[] = [];
	const unregistered: number[] = [];
	return {
		registered,
		unregistered,
		request: {
			calls: new AwsCalls(
				new RetryBudget({
					...DEFAULT_RETRY_POLICY,
					baseDelayMs: 1,
					maxDelayMs: 1,
					visibilityWindowMs: 2000,
				}),
				options.dryRun ?? false,
				(line: string) => log.push(line),
			),
			ec2,
			imageId: "ami-1",
			buildId: BUILD,
			system: "x86_64-linux",
			instanceType: "t3.nano",
			subnetId: "subnet-1",
			marker: MARKER,
			timeLimitMs: options.timeLimitMs ?? 60_000,
			tags: { ManagedBy: "nix-images", System: "x86_64-linux" },
			onLaunched: (terminate: () => Promise<void>) => {
				registered.push(terminate);
				return () => unregistered.push(registered.length);
			},
			log: (line: string) => log.push(line),
		},
	};
}

const consoleWith = (...lines: string[]) => ({
	InstanceId: "i-1",
	Output: Buffer.from(lines.join("\n")).toString("base64"),
});
const instanceIn = (state: string) => ({
	Reservations: [{ Instances: [{ InstanceId: "i-1", State: { Name: state as never } }] }],
});
const ec2Error = (name: string) =>
	new EC2ServiceException({ name, $fault: "client", $metadata: {}, message: name });

/** Every EC2 operation in the order the smoke test made it. */
function operations(): string[] {
	return ec2Mock.calls().map((call) => (call.args[0] as object).constructor.name);
}

describe("smokeTest", () => {
	test("boots the smallest instance (IMDSv2, no key pair, tagged, self-ending), waits for the marker, tags the AMI, then terminates", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1", Tags: [] }] })
			.on(RunInstancesCommand)
			.resolves({ Instances: [{ InstanceId: "i-1" }] })
			.on(GetConsoleOutputCommand)
			.resolvesOnce(consoleWith("Booting Linux"))
			.resolves(consoleWith("Booting Linux", `${MARKER} NixOS 26.05`))
			.on(CreateTagsCommand)
			.resolves({});
		const { request: smoke, registered, unregistered } = request();
		expect(await smokeTest(smoke)).toBe("passed");

		const [run] = ec2Mock.commandCalls(RunInstancesCommand);
		const input = run?.args[0].input;
		expect(input).toMatchObject({
			ImageId: "ami-1",
			InstanceType: "t3.nano",
			MinCount: 1,
			MaxCount: 1,
			ClientToken: `${BUILD}-smoke-test-1`,
			MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled" },
			InstanceInitiatedShutdownBehavior: "terminate",
		});
		expect(input?.KeyName).toBeUndefined();
		expect(Buffer.from(input?.UserData ?? "", "base64").toString()).toBe(SELF_TERMINATION);
		expect(SELF_TERMINATION).toStartWith("#!/bin/sh\n");
		expect(SELF_TERMINATION).toContain("shutdown -P +65\n");
		const expectedTags = [
			{ Key: "ManagedBy", Value: "nix-images" },
			{ Key: "System", Value: "x86_64-linux" },
			{ Key: PURPOSE_TAG.key, Value: PURPOSE_TAG.value },
			{ Key: "BuildId", Value: BUILD },
		];
		expect(input?.TagSpecifications).toEqual([
			{ ResourceType: "instance", Tags: expectedTags },
			{ ResourceType: "volume", Tags: expectedTags },
		]);
		expect(ec2Mock.commandCalls(CreateTagsCommand)[0]?.args[0].input).toEqual({
			Resources: ["ami-1"],
			Tags: [{ Key: SMOKE_TEST_TAG, Value: BUILD }],
		});
		expect(ec2Mock.commandCalls(TerminateInstancesCommand)[0]?.args[0].input).toEqual({
			InstanceIds: ["i-1"],
		});
		// The pass is recorded before the instance goes, and Ctrl-C's termination is unregistered after.
		const order = operations();
		expect(order.indexOf("CreateTagsCommand")).toBeLessThan(
			order.indexOf("TerminateInstancesCommand"),
		);
		expect(ec2Mock.commandCalls(GetConsoleOutputCommand)[0]?.args[0].input).toEqual({
			InstanceId: "i-1",
			Latest: true,
		});
		expect(registered).toHaveLength(1);
		expect(unregistered).toEqual([1]);
	});

	test("an instance EC2 does not know yet right after RunInstances is asked for again, not failed", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1" }] })
			.on(RunInstancesCommand)
			.resolves({ Instances: [{ InstanceId: "i-1" }] })
			.on(GetConsoleOutputCommand)
			.rejectsOnce(ec2Error("InvalidInstanceID.NotFound"))
			.resolves(consoleWith(MARKER))
			.on(DescribeInstancesCommand)
			.rejectsOnce(ec2Error("InvalidInstanceID.NotFound"))
			.callsFake(describeUntilTerminated);
		expect(await smokeTest(request().request)).toBe("passed");
		expect(ec2Mock.commandCalls(GetConsoleOutputCommand)).toHaveLength(2);
	});

	test("a pass recorded on the AMI boots nothing, and terminates what a crash left running", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1", Tags: [{ Key: SMOKE_TEST_TAG, Value: BUILD }] }] });
		expect(await smokeTest(request().request)).toBe("passed before");
		expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(0);
		expect(ec2Mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input).toEqual({
			Filters: [
				{ Name: "tag:Purpose", Values: ["smoke-test"] },
				{ Name: "tag:BuildId", Values: [BUILD] },
				{ Name: "image-id", Values: ["ami-1"] },
				{ Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
			],
		});
		expect(ec2Mock.commandCalls(TerminateInstancesCommand)[0]?.args[0].input).toEqual({
			InstanceIds: ["i-1"],
		});
	});

	test("a pass of another build does not count", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1", Tags: [{ Key: SMOKE_TEST_TAG, Value: "other" }] }] })
			.on(RunInstancesCommand)
			.resolves({ Instances: [{ InstanceId: "i-1" }] })
			.on(GetConsoleOutputCommand)
			.resolves(consoleWith(MARKER));
		expect(await smokeTest(request().request)).toBe("passed");
		expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(1);
	});

	test("a client token whose instance was terminated is followed by the next attempt's", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1" }] })
			.on(RunInstancesCommand, { ClientToken: `${BUILD}-smoke-test-1` })
			.rejects(ec2Error("IdempotentInstanceTerminated"))
			.on(RunInstancesCommand, { ClientToken: `${BUILD}-smoke-test-2` })
			.resolves({ Instances: [{ InstanceId: "i-1" }] })
			.on(GetConsoleOutputCommand)
			.resolves(consoleWith(MARKER));
		expect(await smokeTest(request().request)).toBe("passed");
		expect(
			ec2Mock.commandCalls(RunInstancesCommand).map((call) => call.args[0].input.ClientToken),
		).toEqual([`${BUILD}-smoke-test-1`, `${BUILD}-smoke-test-2`]);
	});

	test("an instance that stops before the marker fails the test with the console's last lines, records nothing and is terminated", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1" }] })
			.on(RunInstancesCommand)
			.resolves({ Instances: [{ InstanceId: "i-1" }] })
			.on(GetConsoleOutputCommand)
			.resolves(consoleWith("Booting Linux", "Kernel panic - not syncing: VFS"))
			.on(DescribeInstancesCommand)
			.resolves(instanceIn("shutting-down"));
		const failure = await smokeTest(request().request).catch((error) => error);
		expect(failure).toBeInstanceOf(PublishError);
		expect(failure.message).toBe(
			`The smoke test of ami-1 (x86_64-linux) failed: the instance stopped before "${MARKER}" showed on its console, which ends with: Booting Linux | Kernel panic - not syncing: VFS. Nothing was distributed; fix the image, publish it again and release.`,
		);
		expect(ec2Mock.commandCalls(CreateTagsCommand)).toHaveLength(0);
		expect(ec2Mock.commandCalls(TerminateInstancesCommand)).toHaveLength(1);
	});

	test("no marker within the time limit fails the test and terminates the instance", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1" }] })
			.on(RunInstancesCommand)
			.resolves({ Instances: [{ InstanceId: "i-1" }] })
			.on(GetConsoleOutputCommand)
			.resolves({ InstanceId: "i-1" })
			.on(TerminateInstancesCommand)
			.rejectsOnce(ec2Error("InvalidInstanceID.NotFound"))
			.callsFake(terminateNow);
		const failure = await smokeTest(request({ timeLimitMs: 30 }).request).catch((error) => error);
		expect(failure.message).toContain("failed: 0 seconds passed before");
		expect(failure.message).toContain("which ends with: nothing.");
		// Not found right after the launch proves nothing: asked again, and the end confirmed.
		expect(ec2Mock.commandCalls(TerminateInstancesCommand)).toHaveLength(2);
		expect(terminated).toBe(true);
	});

	test("goes on from the attempt recorded on the AMI, and records the next before launching it", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1", Tags: [{ Key: ATTEMPT_TAG, Value: "6" }] }] })
			.on(RunInstancesCommand, { ClientToken: `${BUILD}-smoke-test-6` })
			.rejects(ec2Error("IdempotentInstanceTerminated"))
			.on(RunInstancesCommand, { ClientToken: `${BUILD}-smoke-test-7` })
			.resolves({ Instances: [{ InstanceId: "i-1" }] })
			.on(GetConsoleOutputCommand)
			.resolves(consoleWith(MARKER))
			.on(CreateTagsCommand)
			.resolves({});
		expect(await smokeTest(request().request)).toBe("passed");
		const order = ec2Mock
			.calls()
			.map((call) => call.args[0] as { constructor: { name: string }; input: object })
			.filter((command) => /RunInstances|CreateTags/.test(command.constructor.name))
			.map((command) => [command.constructor.name, command.input]);
		expect(order.slice(0, 3)).toEqual([
			["RunInstancesCommand", expect.objectContaining({ ClientToken: `${BUILD}-smoke-test-6` })],
			["CreateTagsCommand", { Resources: ["ami-1"], Tags: [{ Key: ATTEMPT_TAG, Value: "7" }] }],
			["RunInstancesCommand", expect.objectContaining({ ClientToken: `${BUILD}-smoke-test-7` })],
		]);
	});

	test("five terminated attempts end in a sentence", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1" }] })
			.on(RunInstancesCommand)
			.rejects(ec2Error("IdempotentInstanceTerminated"));
		await expect(smokeTest(request().request)).rejects.toThrow(
			"Five smoke-test instances of ami-1 were terminated before they could be used; run the task again.",
		);
		expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(5);
	});

	test("--dry-run reads, prints the launch and what would follow, and changes nothing", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: "ami-1" }] });
		const log: string[] = [];
		expect(await smokeTest(request({ dryRun: true, log }).request)).toBe("not run");
		expect(operations()).toEqual(["DescribeImagesCommand"]);
		expect(log[0]).toStartWith(
			'would call RunInstances {"ImageId":"ami-1","InstanceType":"t3.nano"',
		);
		expect(log.join("\n")).not.toContain("passed");
		expect(log[1]).toBe(
			`would boot ami-1 on t3.nano and wait for the marker "${MARKER}" on its console, tag ami-1 ${SMOKE_TEST_TAG}=${BUILD} and terminate the instance`,
		);
	});

	test("an instance that stays running after TerminateInstances is one sentence, never taken as gone", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves({ Images: [{ ImageId: "ami-1" }] })
			.on(RunInstancesCommand)
			.resolves({ Instances: [{ InstanceId: "i-1" }] })
			.on(GetConsoleOutputCommand)
			.resolves(consoleWith(MARKER))
			.on(CreateTagsCommand)
			.resolves({})
			.on(TerminateInstancesCommand)
			.resolves({})
			.on(DescribeInstancesCommand)
			.resolves(instanceIn("running"));
		const failure = await smokeTest(request().request).catch((error) => error);
		expect(failure).toBeInstanceOf(PublishError);
		expect(failure.message).toContain(
			"Instance i-1 is still running after TerminateInstances; terminate it (`aws ec2 terminate-instances --region us-east-1 --instance-ids i-1`)",
		);
	});
});

import { afterEach, describe, expect, test } from "bun:test";
import { CreateTagsCommand, DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
	DistributeImageCommand,
	GetImageCommand,
	ImagebuilderClient,
	RetryImageCommand,
} from "@aws-sdk/client-imagebuilder";
import { mockClient } from "aws-sdk-client-mock";
import { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../sdk/retry.ts";
import { DISTRIBUTION_TAG, RETRIES_TAG } from "../vocabulary.ts";
import { distribute, distributionToken } from "./distribute.ts";

const ec2Mock = mockClient(EC2Client);
const imagebuilderMock = mockClient(ImagebuilderClient);
afterEach(() => {
	ec2Mock.reset();
	imagebuilderMock.reset();
});
const BUILD = "0123456789abcdef";
const CONFIGURATION = "arn:aws:imagebuilder:us-east-1:123456789012:distribution-configuration/nix";
const ROLE = "arn:aws:iam::123456789012:role/Production-Distribution";
const ARN = "arn:aws:imagebuilder:us-east-1:123456789012:image/nixos/1.0.0/1";

const calls = (dryRun = false, log: string[] = []) =>
	new AwsCalls(
		new RetryBudget({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 1 }),
		dryRun,
		(line) => log.push(line),
	);

function request(options: { dryRun?: boolean; log?: string[]; timeLimitMs?: number } = {}) {
	const log = options.log ?? [];
	return {
		calls: calls(options.dryRun, log),
		ec2: new EC2Client({ region: "us-east-1" }),
		imagebuilder: new ImagebuilderClient({ region: "us-east-1" }),
		imageId: "ami-1",
		buildId: BUILD,
		system: "x86_64-linux",
		distributionConfigurationArn: CONFIGURATION,
		executionRole: ROLE,
		tags: { ManagedBy: "nix-images", BuildId: BUILD },
		...(options.timeLimitMs ? { timeLimitMs: options.timeLimitMs } : {}),
		log: (line: string) => log.push(line),
	};
}

const state = (status: string, extra: object = {}) => ({
	image: { arn: ARN, state: { status: status as never }, ...extra },
});
const AVAILABLE = state("AVAILABLE", {
	outputResources: {
		amis: [
			{ region: "us-east-1", image: "ami-e1" },
			{ region: "eu-west-1", image: "ami-w1" },
		],
	},
});
const amiTagged = (tags: { Key: string; Value: string }[]) => ({
	Images: [{ ImageId: "ami-1", Tags: tags }],
});

describe("distribute", () => {
	test("DistributeImage with the configuration, role, tags and a token from the build; the image recorded on the AMI; GetImage until AVAILABLE", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves(amiTagged([])).on(CreateTagsCommand).resolves({});
		imagebuilderMock
			.on(DistributeImageCommand)
			.resolves({ imageBuildVersionArn: ARN })
			.on(GetImageCommand)
			.resolvesOnce(state("PENDING"))
			.resolvesOnce(state("DISTRIBUTING"))
			.resolves(AVAILABLE);
		const log: string[] = [];
		const distribution = await distribute(request({ log }));
		expect(distribution).toEqual({
			imageBuildVersionArn: ARN,
			amis: { "us-east-1": "ami-e1", "eu-west-1": "ami-w1" },
		});
		expect(imagebuilderMock.commandCalls(DistributeImageCommand)[0]?.args[0].input).toEqual({
			sourceImage: "ami-1",
			distributionConfigurationArn: CONFIGURATION,
			executionRole: ROLE,
			tags: { ManagedBy: "nix-images", BuildId: BUILD },
			clientToken: distributionToken(BUILD, CONFIGURATION),
		});
		expect(ec2Mock.commandCalls(CreateTagsCommand)[0]?.args[0].input).toEqual({
			Resources: ["ami-1"],
			Tags: [{ Key: DISTRIBUTION_TAG, Value: ARN }],
		});
		expect(log).toEqual([
			"x86_64-linux: distribution pending.",
			"x86_64-linux: distribution distributing.",
			"x86_64-linux: distribution available.",
		]);
	});

	test("a distribution recorded on the AMI is followed, not started again", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves(amiTagged([{ Key: DISTRIBUTION_TAG, Value: ARN }]));
		imagebuilderMock.on(GetImageCommand).resolves(AVAILABLE);
		expect((await distribute(request()))?.amis["eu-west-1"]).toBe("ami-w1");
		expect(imagebuilderMock.commandCalls(DistributeImageCommand)).toHaveLength(0);
		expect(ec2Mock.commandCalls(CreateTagsCommand)).toHaveLength(0);
	});

	test("FAILED: the reason, the retry counted on the AMI, RetryImage once with a token of its own", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves(amiTagged([{ Key: DISTRIBUTION_TAG, Value: ARN }]))
			.on(CreateTagsCommand)
			.resolves({});
		imagebuilderMock
			.on(GetImageCommand)
			// The first answer is to the check that the recorded distribution can be followed.
			.resolvesOnce(state("FAILED", { state: { status: "FAILED", reason: "Throttled copy" } }))
			.resolvesOnce(state("FAILED", { state: { status: "FAILED", reason: "Throttled copy" } }))
			.resolves(AVAILABLE)
			.on(RetryImageCommand)
			.resolves({ imageBuildVersionArn: ARN });
		const log: string[] = [];
		await distribute(request({ log }));
		expect(log).toContain("x86_64-linux: distribution failed (Throttled copy); retrying once.");
		expect(ec2Mock.commandCalls(CreateTagsCommand)[0]?.args[0].input).toEqual({
			Resources: ["ami-1"],
			Tags: [{ Key: RETRIES_TAG, Value: "1" }],
		});
		const [retry] = imagebuilderMock.commandCalls(RetryImageCommand);
		expect(retry?.args[0].input).toEqual({
			imageBuildVersionArn: ARN,
			clientToken: distributionToken(BUILD, ARN, "retry 1"),
		});
		expect(retry?.args[0].input.clientToken).not.toBe(distributionToken(BUILD, CONFIGURATION));
	});

	test("a later run's retry has the next number, so it is a new retry rather than a replay", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves(
				amiTagged([
					{ Key: DISTRIBUTION_TAG, Value: ARN },
					{ Key: RETRIES_TAG, Value: "2" },
				]),
			)
			.on(CreateTagsCommand)
			.resolves({});
		imagebuilderMock
			.on(GetImageCommand)
			.resolvesOnce(state("FAILED"))
			.resolvesOnce(state("FAILED"))
			.resolves(AVAILABLE)
			.on(RetryImageCommand)
			.resolves({});
		await distribute(request());
		expect(ec2Mock.commandCalls(CreateTagsCommand)[0]?.args[0].input.Tags).toEqual([
			{ Key: RETRIES_TAG, Value: "3" },
		]);
		expect(imagebuilderMock.commandCalls(RetryImageCommand)[0]?.args[0].input.clientToken).toBe(
			distributionToken(BUILD, ARN, "retry 3"),
		);
	});

	test("a recorded distribution that was cancelled or deleted is followed by a new one, asked for once", async () => {
		for (const gone of ["cancelled", "deleted"] as const) {
			ec2Mock.reset();
			imagebuilderMock.reset();
			const NEXT = `${ARN.slice(0, -1)}2`;
			ec2Mock
				.on(DescribeImagesCommand)
				.resolves(amiTagged([{ Key: DISTRIBUTION_TAG, Value: ARN }]))
				.on(CreateTagsCommand)
				.resolves({});
			const getImage = imagebuilderMock.on(GetImageCommand, { imageBuildVersionArn: ARN });
			if (gone === "cancelled") getImage.resolves(state("CANCELLED"));
			else
				getImage.rejects(
					Object.assign(new Error("The image does not exist."), {
						name: "ResourceNotFoundException",
					}),
				);
			imagebuilderMock
				.on(GetImageCommand, { imageBuildVersionArn: NEXT })
				.resolves(AVAILABLE)
				.on(DistributeImageCommand)
				.resolves({ imageBuildVersionArn: NEXT });
			const log: string[] = [];
			expect((await distribute(request({ log })))?.imageBuildVersionArn).toBe(NEXT);
			expect(log[0]).toBe(
				`x86_64-linux: the distribution ${ARN} was cancelled or deleted; starting another.`,
			);
			expect(
				imagebuilderMock.commandCalls(DistributeImageCommand)[0]?.args[0].input.clientToken,
			).toBe(distributionToken(BUILD, CONFIGURATION, `after ${ARN}`));
			expect(ec2Mock.commandCalls(CreateTagsCommand)[0]?.args[0].input.Tags).toEqual([
				{ Key: DISTRIBUTION_TAG, Value: NEXT },
			]);
		}
	});

	test("a distribution cancelled while it is followed says that a release starts another", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves(amiTagged([{ Key: DISTRIBUTION_TAG, Value: ARN }]));
		imagebuilderMock
			.on(GetImageCommand)
			.resolvesOnce(state("DISTRIBUTING"))
			.resolves(state("CANCELLED"));
		await expect(distribute(request())).rejects.toThrow(
			`The distribution of ami-1 (x86_64-linux) was cancelled (${ARN}); release again to start another.`,
		);
	});

	test("FAILED again after the retry: one sentence with the reason and what to do, and no second retry", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves(amiTagged([{ Key: DISTRIBUTION_TAG, Value: ARN }]))
			.on(CreateTagsCommand)
			.resolves({});
		imagebuilderMock
			.on(GetImageCommand)
			.resolves(state("FAILED", { state: { status: "FAILED", reason: "Role cannot copy" } }))
			.on(RetryImageCommand)
			.resolves({});
		const failure = await distribute({ ...request(), failedAfterRetryMs: 50 }).catch(
			(error) => error,
		);
		expect(failure).toBeInstanceOf(PublishError);
		expect(failure.message).toBe(
			`The distribution of ami-1 (x86_64-linux) ended FAILED: Role cannot copy; see ${ARN} and Image Builder's log group /aws/imagebuilder/, fix the cause (often the stack: \`bun task deploy\`) and release again, which retries this distribution.`,
		);
		expect(imagebuilderMock.commandCalls(RetryImageCommand)).toHaveLength(1);
	});

	test("a distribution that does not settle in time says so and that a re-run follows it", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves(amiTagged([{ Key: DISTRIBUTION_TAG, Value: ARN }]));
		imagebuilderMock.on(GetImageCommand).resolves(state("DISTRIBUTING"));
		await expect(distribute(request({ timeLimitMs: 20 }))).rejects.toThrow(
			`The distribution of ami-1 (${ARN}) was still DISTRIBUTING after 0 minutes; run the task again later, it will follow the same distribution.`,
		);
	});

	test("--dry-run prints DistributeImage and what would follow, and changes nothing", async () => {
		ec2Mock.on(DescribeImagesCommand).resolves(amiTagged([]));
		const log: string[] = [];
		expect(await distribute(request({ dryRun: true, log }))).toBeUndefined();
		expect(imagebuilderMock.calls()).toHaveLength(0);
		expect(log[0]).toStartWith('would call DistributeImage {"sourceImage":"ami-1"');
		expect(log[1]).toBe(
			"would follow the distribution with GetImage until AVAILABLE (RetryImage once if it FAILED)",
		);
	});

	test("client tokens are the same for the same build and at most 36 characters", () => {
		const token = distributionToken(BUILD, CONFIGURATION);
		expect(token).toBe(distributionToken(BUILD, CONFIGURATION));
		expect(token).not.toBe(distributionToken("fedcba9876543210", CONFIGURATION));
		expect(token.length).toBeLessThanOrEqual(36);
	});

	test("a FAILED that lingers right after RetryImage is not the retry's end: it is followed until it moves on", async () => {
		ec2Mock
			.on(DescribeImagesCommand)
			.resolves(amiTagged([{ Key: DISTRIBUTION_TAG, Value: ARN }]))
			.on(CreateTagsCommand)
			.resolves({});
		// followable, then FAILED (the first), then FAILED twice more after the retry, then AVAILABLE.
		imagebuilderMock
			.on(GetImageCommand)
			.resolvesOnce(state("FAILED"))
			.resolvesOnce(state("FAILED"))
			.resolvesOnce(state("FAILED"))
			.resolvesOnce(state("FAILED"))
			.resolves(AVAILABLE)
			.on(RetryImageCommand)
			.resolves({});
		const done = await distribute({ ...request(), failedAfterRetryMs: 60_000 });
		expect(done?.amis).toEqual({ "us-east-1": "ami-e1", "eu-west-1": "ami-w1" });
		expect(imagebuilderMock.commandCalls(RetryImageCommand)).toHaveLength(1);
	});
});

/**
 * The smoke test of a private AMI, before anything is copied or made public:
 * an instance of the smallest type of its architecture, IMDSv2 only, no key
 * pair, tagged, is launched in the home region; the test passes when the
 * image's boot marker shows on its serial console (EC2 GetConsoleOutput)
 * within a hard time limit. The instance is terminated whatever happens (and
 * powers itself off should the release die with it); a pass is recorded as a
 * tag on the AMI, so a re-run does not boot it again.
 */
import {
	CreateTagsCommand,
	DescribeImagesCommand,
	DescribeInstancesCommand,
	type EC2Client,
	GetConsoleOutputCommand,
	RunInstancesCommand,
	TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode, PublishError } from "../sdk/errors.ts";
import { pollUntil } from "../sdk/poll.ts";
import { ATTEMPT_TAG, PURPOSE_TAG, SMOKE_TEST_TAG } from "../vocabulary.ts";

export interface SmokeTestRequest {
	calls: AwsCalls;
	ec2: EC2Client;
	imageId: string;
	buildId: string;
	system: string;
	instanceType: string;
	/** Where it launches: a subnet in a zone that offers the instance type (smoke-test-subnet.ts). */
	subnetId: string;
	/** The line the image prints on its console once it is up (nix/boot-marker.json). */
	marker: string;
	/** The instance's and its volume's tags, besides Purpose and BuildId. */
	tags: Record<string, string>;
	/** The hard limit on waiting for the marker (at most MAX_SMOKE_TEST_MS). */
	timeLimitMs: number;
	/** Registers the instance's termination to run however the task ends (Ctrl-C too); returns how to unregister it. */
	onLaunched?: (terminate: () => Promise<void>) => () => void;
	log: (line: string) => void;
}

/** The longest time limit on waiting for the boot marker a release may set. */
export const MAX_SMOKE_TEST_MS = 60 * 60_000;

/** "10 minutes", "90 seconds". */
function formatDuration(ms: number): string {
	return ms % 60_000 === 0 ? `${ms / 60_000} minutes` : `${Math.round(ms / 1000)} seconds`;
}

/** "not run" only under --dry-run, which boots nothing. */
export type SmokeTestResult = "passed" | "passed before" | "not run";

function instanceTags(request: SmokeTestRequest): Record<string, string> {
	return { ...request.tags, [PURPOSE_TAG.key]: PURPOSE_TAG.value, BuildId: request.buildId };
}

/** The AMI's tags, which record the smoke test's steps; only reads. */
async function imageTags(request: SmokeTestRequest): Promise<Record<string, string>> {
	const { Images } = await request.calls.read(
		request.ec2,
		new DescribeImagesCommand({ ImageIds: [request.imageId] }),
	);
	return Object.fromEntries((Images?.[0]?.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
}

/**
 * The user data of the instance: a power-off 5 minutes after the longest time
 * limit, which (with shutdown behaviour terminate) ends the instance even
 * when the release that launched it is killed and never run again. The same
 * whatever --smoke-test-timeout says, so a re-run with another one gets the
 * same instance for its client token. The image runs user data that starts
 * with #! (nix/virtual-machine/user-data.sh).
 */
export const SELF_TERMINATION = `#!/bin/sh\n# nix-images smoke test: end this instance even if the release that launched it cannot.\nshutdown -P +${MAX_SMOKE_TEST_MS / 60_000 + 5}\n`;

/**
 * RunInstances, idempotent on its ClientToken (the build id and the attempt
 * number in the AMI's ATTEMPT_TAG): a re-run after a crash gets the instance
 * it launched, still booting. A token whose instance is gone (terminated: a
 * failed or interrupted test) or that was used for another AMI of the build
 * is followed by the next number, recorded on the AMI before that launch, so
 * no number is used twice and a build never runs out of them.
 */
async function launch(
	request: SmokeTestRequest,
	recorded: string | undefined,
): Promise<string | undefined> {
	const { calls, ec2 } = request;
	const first = Math.max(1, Number.parseInt(recorded ?? "1", 10) || 1);
	for (let attempt = first; attempt < first + 5; attempt++) {
		if (attempt > first) {
			await calls.write(
				ec2,
				new CreateTagsCommand({
					Resources: [request.imageId],
					Tags: [{ Key: ATTEMPT_TAG, Value: String(attempt) }],
				}),
			);
		}
		try {
			const launched = await calls.write(
				ec2,
				new RunInstancesCommand({
					ImageId: request.imageId,
					InstanceType: request.instanceType as never,
					SubnetId: request.subnetId,
					MinCount: 1,
					MaxCount: 1,
					ClientToken: `${request.buildId}-smoke-test-${attempt}`,
					MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled" },
					InstanceInitiatedShutdownBehavior: "terminate",
					UserData: Buffer.from(SELF_TERMINATION).toString("base64"),
					TagSpecifications: (["instance", "volume"] as const).map((ResourceType) => ({
						ResourceType,
						Tags: Object.entries(instanceTags(request)).map(([Key, Value]) => ({ Key, Value })),
					})),
				}),
			);
			if (calls.dryRun) return undefined;
			const instanceId = launched?.Instances?.[0]?.InstanceId;
			if (!instanceId) {
				throw new PublishError(
					`RunInstances answered without an instance for ${request.imageId}; run the task again.`,
				);
			}
			return instanceId;
		} catch (error) {
			const used = ["IdempotentInstanceTerminated", "IdempotentParameterMismatch"];
			if (!used.includes(errorCode(error))) throw error;
		}
	}
	throw new PublishError(
		`Five smoke-test instances of ${request.imageId} were terminated before they could be used; run the task again.`,
	);
}

/**
 * Right after RunInstances EC2 may answer InvalidInstanceID.NotFound for an
 * instance that exists (EC2 developer guide, "Eventual consistency"): those
 * answers are waited out, from `madeAt`, never taken to mean it is gone.
 */
function justLaunched(madeAt: number) {
	return {
		notVisibleYet: (error: unknown) => errorCode(error) === "InvalidInstanceID.NotFound",
		madeAt,
	};
}

/**
 * TerminateInstances, idempotent on the instance id, confirmed with
 * DescribeInstances: the instance is shutting-down or terminated, or one
 * sentence says it is not (a NotFound answer proves nothing).
 */
async function terminate(
	calls: AwsCalls,
	ec2: EC2Client,
	instanceId: string,
	madeAt: number,
): Promise<void> {
	await calls.write(
		ec2,
		new TerminateInstancesCommand({ InstanceIds: [instanceId] }),
		justLaunched(madeAt),
	);
	if (calls.dryRun) return;
	let state: string | undefined;
	await pollUntil(
		async () => {
			const described = await calls.read(
				ec2,
				new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
				justLaunched(madeAt),
			);
			state = described.Reservations?.[0]?.Instances?.[0]?.State?.Name;
			return state === "shutting-down" || state === "terminated" ? true : undefined;
		},
		{
			firstMs: 1000,
			limitMs: calls.budget.policy.visibilityWindowMs,
			late: () =>
				new PublishError(
					`Instance ${instanceId} is still ${state ?? "unknown"} after TerminateInstances; terminate it (\`aws ec2 terminate-instances --region us-east-1 --instance-ids ${instanceId}\`): it powers itself off within 65 minutes of its launch anyway.`,
				),
		},
	);
}

/**
 * The instance's console (base64 in EC2's answer), and, while the marker is
 * not in it, whether the instance is still alive; only reads.
 */
async function readConsole(
	request: SmokeTestRequest,
	instanceId: string,
	launchedAt: number,
): Promise<{ text: string; gone: boolean }> {
	const { calls, ec2 } = request;
	const output = await calls.read(
		ec2,
		new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }),
		justLaunched(launchedAt),
	);
	const text = Buffer.from(output.Output ?? "", "base64").toString();
	if (text.includes(request.marker)) return { text, gone: false };
	const described = await calls.read(
		ec2,
		new DescribeInstancesCommand({ InstanceIds: [instanceId] }),
		justLaunched(launchedAt),
	);
	const state = described.Reservations?.[0]?.Instances?.[0]?.State?.Name;
	return { text, gone: state === "terminated" || state === "shutting-down" || state === "stopped" };
}

/**
 * The instances of this build's smoke tests that are not terminated: after a
 * crash, one may be left running (found by its tags, never by a guess); only reads.
 */
async function leftovers(request: SmokeTestRequest): Promise<string[]> {
	const described = await request.calls.read(
		request.ec2,
		new DescribeInstancesCommand({
			Filters: [
				{ Name: `tag:${PURPOSE_TAG.key}`, Values: [PURPOSE_TAG.value] },
				{ Name: "tag:BuildId", Values: [request.buildId] },
				{ Name: "image-id", Values: [request.imageId] },
				{ Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
			],
		}),
	);
	return (described.Reservations ?? []).flatMap((reservation) =>
		(reservation.Instances ?? []).flatMap((instance) => instance.InstanceId ?? []),
	);
}

/** Waits for the boot marker on the instance's console, or says why it did not show; only reads. */
async function waitForMarker(
	request: SmokeTestRequest,
	instanceId: string,
	launchedAt: number,
): Promise<void> {
	const timeLimit = request.timeLimitMs;
	let seen = "";
	const failure = (why: string) => {
		const tail = seen.trimEnd().split("\n").slice(-5).join(" | ") || "nothing";
		return new PublishError(
			`The smoke test of ${request.imageId} (${request.system}) failed: ${why} before "${request.marker}" showed on its console, which ends with: ${tail}. Nothing was distributed; fix the image, publish it again and release.`,
		);
	};
	await pollUntil(
		async () => {
			const { text, gone } = await readConsole(request, instanceId, launchedAt);
			seen = text;
			if (text.includes(request.marker)) return true;
			if (gone) throw failure("the instance stopped");
			return undefined;
		},
		{
			firstMs: 1000,
			limitMs: timeLimit,
			late: () => failure(`${formatDuration(timeLimit)} passed`),
		},
	);
}

/**
 * Boots the AMI once and waits for its marker, or says why it did not come
 * up. Idempotent on the AMI's tags: `SmokeTest=<build id>` records a pass
 * (set before the instance is terminated, so a crash in between costs a
 * termination on the re-run, never a second boot), and ATTEMPT_TAG with the
 * build id makes the launch's client token (see launch).
 */
export async function smokeTest(request: SmokeTestRequest): Promise<SmokeTestResult> {
	const { calls, ec2, imageId } = request;
	const tags = await imageTags(request);
	if (tags[SMOKE_TEST_TAG] === request.buildId) {
		for (const instanceId of await leftovers(request)) {
			await terminate(calls, ec2, instanceId, Date.now());
		}
		return "passed before";
	}
	const instanceId = await launch(request, tags[ATTEMPT_TAG]);
	if (instanceId === undefined) {
		request.log(
			`would boot ${imageId} on ${request.instanceType} and wait for the marker "${request.marker}" on its console, tag ${imageId} ${SMOKE_TEST_TAG}=${request.buildId} and terminate the instance`,
		);
		return "not run";
	}
	const launchedAt = Date.now();
	const stop = () => terminate(calls, ec2, instanceId, launchedAt);
	const unregister = request.onLaunched?.(stop) ?? (() => {});
	request.log(`smoke test: ${instanceId} (${request.instanceType}) boots ${imageId}.`);
	try {
		await waitForMarker(request, instanceId, launchedAt);
		await calls.write(
			ec2,
			new CreateTagsCommand({
				Resources: [imageId],
				Tags: [{ Key: SMOKE_TEST_TAG, Value: request.buildId }],
			}),
		);
	} finally {
		await stop();
		unregister();
	}
	return "passed";
}

/**
 * `release`: what publish left (ami.json, container.json) → what users
 * consume. In order: a smoke test of each private AMI; every AMI copied to
 * every region of the distribution and made public by Image Builder's
 * DistributeImage (all systems at once), while the containers are joined under
 * one multi-arch index; then, last, the public pointers: the moving container
 * tags, outputs/main/release.json and the release page beside it.
 */
import { relative } from "node:path";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { requirePublicSharing } from "../infra/account/public-sharing.ts";
import { distribute } from "../infra/release/distribute.ts";
import { MAX_SMOKE_TEST_MS, smokeTest } from "../infra/release/smoke-test.ts";
import { errorCode, PublishError } from "../infra/sdk/errors.ts";
import { systemOutput } from "../infra/sdk/stack-outputs.ts";
import { MANAGED_BY, SYSTEM_ARCHITECTURES, type System } from "../infra/vocabulary.ts";
import { type AwsSession, withDeployedStack } from "./aws/session.ts";
import { cdkContext, stackSettings } from "./cdk/context.ts";
import { bootMarker } from "./project/boot-marker.ts";
import { readJson, writeJsonAtomically } from "./project/files.ts";
import type { ReleaseOptions } from "./project/options.ts";
import { releaseOutput } from "./project/outputs.ts";
import type { AmiRecord } from "./publish/ami.ts";
import { indexContainers, moveContainerTags, planIndex } from "./release/containers.ts";
import { readPublished } from "./release/inputs.ts";
import {
	amiTable,
	containerSection,
	type ReleaseManifest,
	releaseIdOf,
	type SystemRelease,
	summaryMarkdown,
} from "./release/manifest.ts";
import { writePage } from "./release/page.ts";
import { TaskError, UsageError } from "./runner/errors.ts";
import { appendStepSummary } from "./runner/github.ts";
import type { TaskContext } from "./runner/task.ts";

/** When this release was first made: kept from release.json when it is this release's, so a re-run changes nothing. */
function firstReleased(path: string, releaseId: string): string {
	try {
		const earlier = readJson(path);
		if (earlier.releaseId === releaseId && typeof earlier.releasedAt === "string") {
			return earlier.releasedAt;
		}
	} catch {}
	return new Date().toISOString();
}

/**
 * How long a release may take before it stops following its distributions
 * and says to run it again later (which follows the same ones): within the
 * pipeline's credentials, which last two hours.
 */
const RELEASE_LIMIT_MS = 110 * 60_000;

/** --smoke-test-timeout in milliseconds: `<n>s` or `<n>m`, at most MAX_SMOKE_TEST_MS. */
function smokeTestTimeout(given: string): number {
	const match = /^(\d+)([sm])$/.exec(given);
	const ms = match ? Number(match[1]) * (match[2] === "m" ? 60_000 : 1000) : 0;
	if (ms <= 0 || ms > MAX_SMOKE_TEST_MS) {
		throw new UsageError(
			`--smoke-test-timeout must be seconds or minutes such as 90s or 10m, at most ${MAX_SMOKE_TEST_MS / 60_000}m, not "${given}".`,
		);
	}
	return ms;
}

/**
 * Like Promise.all, but every promise runs to its end before the failures
 * are thrown as one: one system's failure does not abandon another's work
 * half-way (its instance, its distribution, a push).
 */
async function settleAll<T extends readonly unknown[]>(
	promises: {
		[K in keyof T]: Promise<T[K]>;
	},
): Promise<T> {
	const settled = await Promise.allSettled(promises);
	const failures = settled.flatMap((result) =>
		result.status === "rejected" ? [result.reason] : [],
	);
	if (failures.length === 1) throw failures[0];
	if (failures.length > 1) {
		throw new PublishError(failures.map((failure) => (failure as Error).message).join("\n"));
	}
	return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * Refuses, before anything starts, records whose AMI is gone (deregistered,
 * e.g. by the lifecycle policy) or not available; only reads.
 */
async function requireSourceImages(
	{ clients, calls }: AwsSession,
	amis: readonly AmiRecord[],
): Promise<void> {
	await Promise.all(
		amis.map(async (ami) => {
			const found = await calls
				.read(clients.ec2, new DescribeImagesCommand({ ImageIds: [ami.imageId] }))
				.catch((error) => {
					if (!errorCode(error).startsWith("InvalidAMIID.")) throw error;
					return { Images: [] };
				});
			const state = found.Images?.[0]?.State;
			if (state !== "available") {
				throw new TaskError(
					`The AMI ${ami.imageId} that outputs/main/virtual-machine/${ami.system}/ami.json names is ${state ?? "gone"}; publish it again (\`bun task publish --system ${ami.system}\`) and release.`,
				);
			}
		}),
	);
}

/** Where each system's AMI goes, from the stack's outputs: read before anything starts. */
interface Destination {
	distributionConfigurationArn: string;
	ssmParameter: string;
}

/**
 * Boots each AMI once before anything is copied or made public, all at once;
 * a failure stops the release here. Idempotent per AMI as smokeTest says (its
 * SmokeTest and SmokeTestAttempt tags and the launch's client token).
 */
async function smokeTestAll(
	context: TaskContext<ReleaseOptions>,
	{ clients, calls }: AwsSession,
	amis: readonly AmiRecord[],
	timeLimitMs: number,
): Promise<void> {
	const marker = bootMarker(context.root);
	await settleAll(
		amis.map(async (ami) => {
			const result = await smokeTest({
				calls,
				ec2: clients.ec2,
				imageId: ami.imageId,
				buildId: ami.buildId,
				system: ami.system,
				instanceType: SYSTEM_ARCHITECTURES[ami.system as System].smoke,
				marker,
				timeLimitMs,
				tags: {
					Name: `nix-images smoke test ${ami.system} ${ami.buildId}`,
					[MANAGED_BY.key]: MANAGED_BY.value,
					System: ami.system,
				},
				onLaunched: context.cleanup,
				log: context.log,
			});
			context.log(`${ami.system}: smoke test ${result} (${ami.imageId}).`);
		}),
	);
}

/**
 * Every AMI in every region of its system's distribution configuration, all
 * systems at once. Idempotent per AMI as distribute says (a client token from
 * the build and the configuration, the ImageBuilderImage tag on the AMI).
 */
async function distributeAll(
	context: TaskContext<ReleaseOptions>,
	{ clients, calls, stack }: AwsSession,
	amis: readonly AmiRecord[],
	destinations: ReadonlyMap<string, Destination>,
	deadline: number,
): Promise<Record<string, SystemRelease>> {
	const smokeTest = context.options["smoke-test"] ? "passed" : "skipped";
	const released = await settleAll(
		amis.map(async (ami) => {
			const destination = destinations.get(ami.system) as Destination;
			const distribution = await distribute({
				calls,
				ec2: clients.ec2,
				imagebuilder: clients.imagebuilder,
				imageId: ami.imageId,
				buildId: ami.buildId,
				system: ami.system,
				distributionConfigurationArn: destination.distributionConfigurationArn,
				executionRole: stack.DistributionRoleArn,
				tags: {
					[MANAGED_BY.key]: MANAGED_BY.value,
					BuildId: ami.buildId,
					System: ami.system,
					[stack.LifecycleTagKey]: stack.LifecycleTagValue,
				},
				timeLimitMs: Math.max(deadline - Date.now(), 60_000),
				log: context.log,
			});
			const release: SystemRelease = {
				buildId: ami.buildId,
				label: ami.label,
				sourceImage: { region: ami.region, imageId: ami.imageId, name: ami.imageName },
				imageBuilderImage: distribution?.imageBuildVersionArn ?? "",
				ssmParameter: destination.ssmParameter,
				smokeTest,
				regions: distribution?.amis ?? {},
			};
			return [ami.system, release] as const;
		}),
	);
	return Object.fromEntries(released);
}

/**
 * The release, keyed throughout (see smokeTestAll, distributeAll,
 * indexContainers, moveContainerTags): a re-run after a crash at any point
 * finishes the job; release.json is written last.
 */
export default async function release(context: TaskContext<ReleaseOptions>) {
	const { root, dryRun, log, lock } = context;
	const deadline = Date.now() + RELEASE_LIMIT_MS;
	const output = releaseOutput(root);
	lock(output.json);
	lock(output.dir);
	const timeLimitMs = smokeTestTimeout(context.options["smoke-test-timeout"]);
	if (dryRun && context.ranEarlier("publish")) {
		log("would release what publish leaves (this dry run published nothing).");
		return;
	}
	const { amis, containers } = readPublished(root);
	const containerPlan = containers.length > 0 ? planIndex(containers) : undefined;
	const settings = stackSettings(cdkContext(root));
	const releaseId = releaseIdOf(amis, containers);
	const label = amis[0]?.label ?? containers[0]?.nixVersion ?? "";
	const version = `${label}-${releaseId}`;
	log(`release ${version}: ${amis.length} AMI(s), ${containers.length} container image(s).`);
	await withDeployedStack(context, settings.stackName, async (session) => {
		const { clients, calls, stack } = session;
		// What each system needs of the stack, and where public copies would fail: before anything starts.
		const destinations = new Map(
			amis.map((ami) => [
				ami.system,
				{
					distributionConfigurationArn: systemOutput(
						stack,
						"DistributionConfigurationArns",
						ami.system,
					),
					ssmParameter: systemOutput(stack, "AmiParameterNames", ami.system),
				},
			]),
		);
		await requireSourceImages(session, amis);
		if (amis.length > 0 && stack.PublicAmis === "true") {
			await requirePublicSharing(calls, clients.ec2In, stack.DistributionRegions.split(","));
		}
		if (context.options["smoke-test"]) await smokeTestAll(context, session, amis, timeLimitMs);
		else log("smoke test skipped (--no-smoke-test).");
		const [released, index] = await settleAll([
			distributeAll(context, session, amis, destinations, deadline),
			containerPlan
				? indexContainers(context, session, containerPlan, releaseId)
				: Promise.resolve(undefined),
		]);

		// Public pointers, last: every AMI is available everywhere and the index exists.
		const moving = index ? await moveContainerTags(context, index) : [];
		const manifest: ReleaseManifest = {
			version,
			releaseId,
			releasedAt: firstReleased(output.json, releaseId),
			stack: settings.stackName,
			publicAmis: stack.PublicAmis === "true",
			amis: released,
			...(index ? { containers: containerSection(index, containers, moving) } : {}),
		};
		if (dryRun) return;
		// The page first: release.json, written last, says the release is done.
		writePage(output.page, manifest);
		writeJsonAtomically(output.json, manifest);
		log(`wrote ${relative(root, output.json)} and ${relative(root, output.page)}.`);
		if (amis.length > 0) process.stdout.write(`${amiTable(manifest)}\n`);
		if (manifest.containers) {
			process.stdout.write(
				`${manifest.containers.repository}:${[manifest.containers.tags.release, ...moving].join(", ")} → ${manifest.containers.indexDigest}\n`,
			);
		}
		appendStepSummary(summaryMarkdown(manifest));
	});
}

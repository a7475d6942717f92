/**
 * `release`: what publish left (ami.json, container.json) → what users
 * consume. In order: a smoke test of each private AMI; every AMI copied to
 * every region of the distribution and made public by Image Builder's
 * DistributeImage (all systems at once), while the containers are joined under
 * one multi-arch index; then, last, the public pointers: the moving container
 * tags, outputs/main/release.json and the release page beside it.
 */
import { relative } from "node:path";
import { SYSTEM_ARCHITECTURES, type System } from "../infra/publish/architectures.ts";
import { distribute, requirePublicSharing } from "../infra/publish/distribute.ts";
import { PublishError } from "../infra/publish/errors.ts";
import { MAX_SMOKE_TEST_MS, smokeTest } from "../infra/publish/smoke-test.ts";
import { systemOutput } from "../infra/publish/stack.ts";
import { MANAGED_BY } from "../infra/tags.ts";
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
import { UsageError } from "./runner/errors.ts";
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

/** --smoke-test-timeout in milliseconds: `<n>s` or `<n>m`, at most an hour. */
export function smokeTestTimeout(given: string): number {
	const match = /^(\d+)([sm])$/.exec(given);
	const ms = match ? Number(match[1]) * (match[2] === "m" ? 60_000 : 1000) : 0;
	if (ms <= 0 || ms > MAX_SMOKE_TEST_MS) {
		throw new UsageError(
			`--smoke-test-timeout must be seconds or minutes such as 90s or 10m, at most 60m, not "${given}".`,
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

/** Boots each AMI once before anything is copied or made public; a failure stops the release here. */
async function smokeTestAll(
	context: TaskContext<ReleaseOptions>,
	{ clients, calls }: AwsSession,
	amis: readonly AmiRecord[],
	timeLimitMs: number,
): Promise<Map<string, SystemRelease["smokeTest"]>> {
	const results = new Map<string, SystemRelease["smokeTest"]>();
	if (!context.options["smoke-test"]) {
		for (const ami of amis) results.set(ami.system, "skipped");
		context.log("smoke test skipped (--no-smoke-test).");
		return results;
	}
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
			results.set(ami.system, "passed");
		}),
	);
	return results;
}

/** Every AMI in every region of the stack's distribution configuration, all systems at once. */
async function distributeAll(
	context: TaskContext<ReleaseOptions>,
	{ clients, calls, stack }: AwsSession,
	amis: readonly AmiRecord[],
	smoke: Map<string, SystemRelease["smokeTest"]>,
): Promise<Record<string, SystemRelease>> {
	const released = await settleAll(
		amis.map(async (ami) => {
			const distribution = await distribute({
				calls,
				ec2: clients.ec2,
				imagebuilder: clients.imagebuilder,
				imageId: ami.imageId,
				buildId: ami.buildId,
				system: ami.system,
				distributionConfigurationArn: systemOutput(
					stack,
					"DistributionConfigurationArns",
					ami.system,
				),
				executionRole: stack.DistributionRoleArn,
				tags: {
					[MANAGED_BY.key]: MANAGED_BY.value,
					BuildId: ami.buildId,
					System: ami.system,
					[stack.LifecycleTagKey]: stack.LifecycleTagValue,
				},
				log: context.log,
			});
			const release: SystemRelease = {
				buildId: ami.buildId,
				label: ami.label,
				sourceImage: { region: ami.region, imageId: ami.imageId, name: ami.imageName },
				imageBuilderImage: distribution?.imageBuildVersionArn ?? "",
				ssmParameter: systemOutput(stack, "AmiParameterNames", ami.system),
				smokeTest: smoke.get(ami.system) ?? "skipped",
				regions: distribution?.amis ?? {},
			};
			return [ami.system, release] as const;
		}),
	);
	return Object.fromEntries(released);
}

export default async function release(context: TaskContext<ReleaseOptions>) {
	const { root, dryRun, log, lock } = context;
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
		// Public copies would fail in a region that blocks them: say so before anything starts.
		if (amis.length > 0 && stack.PublicAmis === "true") {
			await requirePublicSharing(calls, clients.ec2In, stack.DistributionRegions.split(","));
		}
		const smoke = await smokeTestAll(context, session, amis, timeLimitMs);
		const [released, index] = await settleAll([
			distributeAll(context, session, amis, smoke),
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
		writeJsonAtomically(output.json, manifest);
		writePage(output.page, manifest);
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

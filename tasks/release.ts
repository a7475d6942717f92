import { relative } from "node:path";
import { requireCopiesPossible, requirePublicSharing } from "../infra/account/public-sharing.ts";
import { finishCopies } from "../infra/release/copies.ts";
import { distribute } from "../infra/release/distribute.ts";
import { MAX_SMOKE_TEST_MS, smokeTest } from "../infra/release/smoke-test.ts";
import { smokeTestSubnets } from "../infra/release/smoke-test-subnet.ts";
import { PublishError } from "../infra/sdk/errors.ts";
import { systemOutput } from "../infra/sdk/stack-outputs.ts";
import {
	HOME_REGION,
	IMAGE_SHA256_TAG,
	MANAGED_BY,
	SYSTEM_ARCHITECTURES,
} from "../infra/vocabulary.ts";
import { type AwsSession, withDeployedStack } from "./aws/session.ts";
import { cdkContext, stackSettings } from "./cdk/context.ts";
import { bootMarker } from "./project/boot-marker.ts";
import { durationOption } from "./project/durations.ts";
import { readJson, writeAtomically } from "./project/files.ts";
import type { ReleaseOptions } from "./project/options.ts";
import { releaseOutput } from "./project/outputs.ts";
import {
	type CheckedAmi,
	type CheckedContainer,
	checkAmiRecords,
	checkContainerRecords,
	requireNotOlder,
	stackRepository,
} from "./release/checks.ts";
import { indexContainers, moveContainerTags, planIndex } from "./release/containers.ts";
import { currentManifest } from "./release/current.ts";
import {
	buildsOf,
	type History,
	keptReleases,
	publishToHistory,
	readHistory,
	rolledBackBuilds,
} from "./release/history.ts";
import { missingRecords, readPublished } from "./release/inputs.ts";
import {
	amiTable,
	containerSection,
	type ReleaseManifest,
	releaseIdOf,
	type SystemRelease,
	summaryMarkdown,
} from "./release/manifest.ts";
import { amiPredicates, checkSboms, listedSboms, writeReleaseFiles } from "./release/sboms.ts";
import { requirePublicAmiRoom } from "./retention/room.ts";
import { TaskError } from "./runner/errors.ts";
import { appendStepSummary } from "./runner/github.ts";
import type { TaskContext } from "./runner/task.ts";
import { registryFiles } from "./skopeo/auth.ts";
import {
	exitCodeOf,
	type RegionOutcome,
	reportMarkdown,
	reportTable,
	verdictSentence,
} from "./verify/report.ts";
import { MAX_RETRY_FOR_MS, verifyRelease } from "./verify/run.ts";

/**
 * Refuses a release that would put users back on what a rollback took them
 * off: every build of a rolled-back release that the release it went back to
 * lacks (so a release that fixes at least one of them goes), unless `allow`.
 * Before anything is retired, booted or moved.
 */
function requireNotRolledBack(
	history: History,
	kept: ReadonlyMap<string, ReleaseManifest>,
	amis: readonly CheckedAmi[],
	containers: readonly CheckedContainer[],
	allow: boolean,
): void {
	if (allow) return;
	const builds = new Set(
		buildsOf({
			amis: Object.fromEntries(amis.map((ami) => [ami.system, { buildId: ami.buildId }])),
			containers: {
				images: Object.fromEntries(
					containers.map((image) => [image.architecture, { digest: image.digest }]),
				),
			},
		} as unknown as ReleaseManifest),
	);
	const again = rolledBackBuilds(history, kept).find((rolledBack) =>
		rolledBack.builds.every((build) => builds.has(build)),
	);
	if (again === undefined) return;
	throw new TaskError(
		`This release would put users back on what a rollback took them off: ${again.builds.map((build) => build.replace(/^(ami|container) /, "")).join(", ")} (from ${again.version}); publish a fixed build, or pass --allow-rolled-back to release it anyway. Nothing was released.`,
	);
}

/**
 * When this release was first made: kept from release.json, or from the
 * history, when it is this release's, so a re-run changes nothing (also one
 * after a crash between the history and release.json).
 */
function firstReleased(path: string, releaseId: string, history: History): string {
	const kept = history.releases.find((entry) => entry.releaseId === releaseId);
	try {
		const earlier = readJson(path);
		if (earlier.releaseId === releaseId && typeof earlier.releasedAt === "string") {
			return earlier.releasedAt;
		}
	} catch {}
	return kept?.releasedAt ?? new Date().toISOString();
}

/**
 * How long a release may take before it stops following its distributions
 * and says to run it again later (which follows the same ones): within the
 * pipeline's credentials, which last two hours.
 */
const RELEASE_LIMIT_MS = 110 * 60_000;

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
	amis: readonly CheckedAmi[],
	subnets: ReadonlyMap<string, string>,
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
				instanceType: SYSTEM_ARCHITECTURES[ami.system].smoke,
				subnetId: subnets.get(SYSTEM_ARCHITECTURES[ami.system].smoke) as string,
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
			if (result !== "not run")
				context.log(`${ami.system}: smoke test ${result} (${ami.imageId}).`);
		}),
	);
}

/**
 * Every AMI in every region of its system's distribution configuration, all
 * systems at once. Idempotent per AMI as distribute says (a client token from
 * the build and the configuration, the ImageBuilderImage tag on the AMI), and
 * per copy as finishCopies says (the ImageSha256 and snapshot tags themselves,
 * a deprecation date derived from the AMIs).
 */
async function distributeAll(
	context: TaskContext<ReleaseOptions>,
	{ clients, calls, stack }: AwsSession,
	amis: readonly CheckedAmi[],
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
					[stack.LifecycleTagKey]: systemOutput(stack, "LifecycleTagValues", ami.system),
				},
				timeLimitMs: Math.max(deadline - Date.now(), 60_000),
				log: context.log,
			});
			// The copies get no deprecation of their own (each gets the source's, capped for public
			// ones), their snapshots no tags (retention deletes only what is tagged as ours), and
			// no ImageSha256 (the configuration's tags are every build's): release puts them on.
			if (distribution) {
				await finishCopies(
					calls,
					clients.ec2In,
					clients.ec2,
					ami.imageId,
					distribution.amis,
					stack.PublicAmis === "true",
					{ [MANAGED_BY.key]: MANAGED_BY.value, BuildId: ami.buildId, System: ami.system },
					{ [IMAGE_SHA256_TAG]: ami.imageSha256 },
				);
			}
			const release: SystemRelease = {
				buildId: ami.buildId,
				label: ami.label,
				builtAt: ami.createdAt,
				sourceImage: { region: HOME_REGION, imageId: ami.imageId, name: ami.imageName },
				imageBuilderImage: distribution?.imageBuildVersionArn ?? "",
				ssmParameter: destination.ssmParameter,
				smokeTest,
				regions: distribution?.amis ?? {},
				...(ami.snapshotContent ? { snapshotContent: ami.snapshotContent } : {}),
				snapshotId: ami.snapshotId,
				imageSha256: ami.imageSha256,
			};
			return [ami.system, release] as const;
		}),
	);
	return Object.fromEntries(released);
}

/**
 * verify's checks of the release (not --deep, nor the moving tags, which
 * have not moved yet), after the distribution, which has already made the
 * copies public and pointed the SSM parameters at them (Image Builder does
 * both): a release that fails them keeps the moving tags and release.json
 * where they were, and says what is wrong and what users now get where.
 */
async function requireReleaseHolds(
	context: TaskContext<ReleaseOptions>,
	session: AwsSession,
	draft: ReleaseManifest,
	retryForMs: number,
): Promise<void> {
	const { report } = await verifyRelease(context, session, draft, {
		movingTags: false,
		retryForMs,
	});
	const code = exitCodeOf(report);
	if (code === 0) {
		context.log(`verified ${draft.version} in ${report.regions.length} region(s).`);
		return;
	}
	process.stderr.write(`${reportTable(report)}\n`);
	appendStepSummary(reportMarkdown(report));
	const parameterFindings = (region: RegionOutcome) =>
		region.findings.some((finding) => finding.subject.startsWith("SSM parameter"));
	const elsewhere = report.regions.filter(parameterFindings).map((region) => region.region);
	const unknown = report.regions
		.filter((region) => region.unchecked)
		.map((region) => region.region);
	const parameters = [
		"readers of the SSM parameters get the new AMIs in every region",
		elsewhere.length > 0 && `but ${elsewhere.join(", ")} (the table's values there)`,
		unknown.length > 0 && `and what they get in ${unknown.join(", ")} is unknown (no answer)`,
	]
		.filter(Boolean)
		.join(" ");
	throw new TaskError(
		`${verdictSentence(report, false)}; the distribution has already made the copies ${draft.publicAmis ? "public" : "available"} and pointed the SSM parameters at them, so ${parameters}, while the moving tags and release.json stay where they were (pulls of them get the previous release): fix what the table shows, then run release again`,
		code,
	);
}

/**
 * The release, keyed throughout (see smokeTestAll, distributeAll,
 * indexContainers, moveContainerTags): a re-run after a crash at any point
 * finishes the job; release.json is written last. Every record is checked
 * against AWS and the registry first (checks.ts), and only what was checked goes on.
 */
export default async function release(context: TaskContext<ReleaseOptions>) {
	const { root, dryRun, log, lock } = context;
	const deadline = Date.now() + RELEASE_LIMIT_MS;
	const output = releaseOutput(root);
	lock(output.json);
	lock(output.dir);
	const timeLimitMs = durationOption(
		context.options["smoke-test-timeout"],
		"smoke-test-timeout",
		MAX_SMOKE_TEST_MS,
	);
	const retryForMs = durationOption(context.options["retry-for"], "retry-for", MAX_RETRY_FOR_MS, 0);
	if (dryRun && context.ranEarlier("publish")) {
		log("would release what publish leaves (this dry run published nothing).");
		return;
	}
	const records = readPublished(root);
	const missing = missingRecords(records);
	if (missing.length > 0) {
		log(
			`not in this release: ${missing.join("; ")}; publish those on a machine of that system (in CI its images job) and release again.`,
		);
	}
	const indexPlan = records.containers.length > 0 ? planIndex(records.containers) : undefined;
	const settings = stackSettings(cdkContext(root));
	const current = currentManifest(root);
	// Read before anything moves: a history that is not one this version wrote is refused.
	const history = readHistory(output.dir, settings.stackName);
	const kept = keptReleases(output.dir, history);
	await withDeployedStack(context, settings.stackName, async (session) => {
		const { clients, calls, stack } = session;
		// What each system needs of the stack, and where public copies would fail: before anything starts.
		const destinations = new Map(
			records.amis.map((ami) => [
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
		const amis = await checkAmiRecords(root, session, records.amis);
		const checkedImages =
			records.containers.length > 0
				? await (async () => {
						const repository = await stackRepository(session, settings.stackName);
						const files = await registryFiles(context, calls, clients.ecrPublic, repository);
						const images = await checkContainerRecords(
							context,
							repository,
							files,
							records.containers,
						);
						return { repository, files, images };
					})()
				: undefined;
		const containers = checkedImages?.images ?? [];
		await requireNotOlder(context, session, amis, current, context.options["allow-older"]);
		requireNotRolledBack(history, kept, amis, containers, context.options["allow-rolled-back"]);
		// Every image's SBOM, about exactly what is released, before anything moves.
		const sboms = await checkSboms(root, [
			...amis.map((ami) => ({
				system: ami.system,
				image: "virtual-machine" as const,
				sha256: ami.imageSha256,
			})),
			...containers.map((image) => ({
				system: image.system,
				image: "oci-container" as const,
				sha256: image.digest.replace(/^sha256:/, ""),
			})),
		]);
		// Room for the public copies in every region, before anything is booted or distributed.
		if (amis.length > 0 && stack.PublicAmis === "true") {
			await requirePublicAmiRoom(context, session, amis, current, context.options["make-room"]);
		}
		// Where the smoke test launches, found before anything is launched or distributed.
		const subnets =
			context.options["smoke-test"] && amis.length > 0
				? await smokeTestSubnets(
						calls,
						clients.ec2,
						amis.map((ami) => SYSTEM_ARCHITECTURES[ami.system].smoke),
						stack.SmokeTestSubnet,
					)
				: new Map<string, string>();
		const releaseId = releaseIdOf(amis, containers);
		const label = amis[0]?.label ?? containers[0]?.nixVersion ?? "";
		const version = `${label}-${releaseId}`;
		log(`release ${version}: ${amis.length} AMI(s), ${containers.length} container image(s).`);
		if (amis.length > 0) {
			const regions = stack.DistributionRegions.split(",");
			if (stack.PublicAmis === "true") await requirePublicSharing(calls, clients.ec2In, regions);
			else await requireCopiesPossible(calls, clients.ec2In, regions);
		}
		if (context.options["smoke-test"]) {
			await smokeTestAll(context, session, amis, subnets, timeLimitMs);
		} else log("smoke test skipped (--no-smoke-test).");
		const [released, index] = await settleAll([
			distributeAll(context, session, amis, destinations, deadline),
			indexPlan && checkedImages
				? indexContainers(context, indexPlan, checkedImages, releaseId)
				: Promise.resolve(undefined),
		]);

		const draft: ReleaseManifest = {
			version,
			releaseId,
			releasedAt: firstReleased(output.json, releaseId, history),
			stack: settings.stackName,
			publicAmis: stack.PublicAmis === "true",
			regions: stack.DistributionRegions.split(","),
			amis: released,
			...(index ? { containers: containerSection(index, containers, []) } : {}),
			sboms: listedSboms(sboms),
		};
		// What the distribution made, checked where users get it before the pointers release owns move.
		if (!dryRun) await requireReleaseHolds(context, session, draft, retryForMs);
		else log("would verify the release in every region before moving the tags.");
		// Public pointers, last: every AMI is available everywhere and the index exists.
		const moving = index ? await moveContainerTags(context, index) : [];
		const manifest: ReleaseManifest = {
			...draft,
			...(index ? { containers: containerSection(index, containers, moving) } : {}),
		};
		if (dryRun) return;
		// The site's files, the history and the pages: release.json, written last, says the release is done.
		writeReleaseFiles(output.dir, sboms, amiPredicates(manifest));
		const releaseJson = `${JSON.stringify(manifest, null, 2)}\n`;
		publishToHistory(output.dir, history, kept, manifest, releaseJson);
		writeAtomically(output.json, releaseJson);
		log(`wrote ${relative(root, output.json)} and ${relative(root, output.page)}.`);
		if (amis.length > 0) process.stdout.write(`${amiTable(manifest)}\n`);
		if (manifest.containers) {
			process.stdout.write(
				`${manifest.containers.repository}:${[manifest.containers.tags.release, ...moving].join(", ")} → ${manifest.containers.indexDigest}\n`,
			);
		}
		appendStepSummary(summaryMarkdown(manifest, missing));
	});
}

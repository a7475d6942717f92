/**
 * `rollback --to <release|previous>`: every public pointer back on a release
 * of the history (tasks/release/history.ts). First the target is verified
 * where users would get it (its AMIs exist, are available and public where
 * they were, its index is served: verify's checks, without the pointers,
 * which still name the release being left); a target that fails is refused
 * with the table and nothing moves. Then, in a release's order (public things
 * last), each step keyed on what it changes so a crash and a re-run finish
 * the job:
 *   1. each system's SSM parameter in every region → the target's AMI there
 *      (keyed on the parameter's value: read, written only when it differs);
 *   2. the target's moving tags → its index (keyed on the digest they serve);
 *   3. with --deprecate, the left release's AMIs deprecated now (keyed on
 *      their DeprecationTime, checked by name; never deregistered);
 *   4. every pointer read back (verify's checks of the target as current);
 *   5. the target's SBOMs back at the site's top, the history marking the
 *      left release rolled back (keyed on the marks), every page, and last
 *      release.json → the target's, as it was written.
 * Before all of it the whole history is read and checked, the release left
 * is release.json's, and a target that lacks what it released is refused.
 */
import { relative } from "node:path";
import { deprecateBy, type ParameterMove, pointParameter } from "../infra/release/rollback.ts";
import { type AwsSession, withDeployedStack } from "./aws/session.ts";
import { cdkContext, stackSettings } from "./cdk/context.ts";
import { durationOption } from "./project/durations.ts";
import { writeAtomically } from "./project/files.ts";
import type { RollbackOptions } from "./project/options.ts";
import { releaseOutput } from "./project/outputs.ts";
import { stackRepository } from "./release/checks.ts";
import { currentManifest } from "./release/current.ts";
import {
	type History,
	type HistoryEntry,
	keptReleases,
	keptReleaseText,
	previousRelease,
	readHistory,
	restoreReleaseFiles,
	withRollback,
	writePages,
} from "./release/history.ts";
import type { ReleaseManifest } from "./release/manifest.ts";
import { TaskError, UsageError } from "./runner/errors.ts";
import { appendStepSummary } from "./runner/github.ts";
import type { TaskContext } from "./runner/task.ts";
import { registryFiles } from "./skopeo/auth.ts";
import { moveTag } from "./skopeo/cli.ts";
import {
	exitCodeOf,
	reportMarkdown,
	reportTable,
	type VerifyReport,
	verdictSentence,
} from "./verify/report.ts";
import { MAX_RETRY_FOR_MS, verifyRelease } from "./verify/run.ts";

/** The release --to names: an id or version of the history, or `previous`; a usage error (exit 2) otherwise. */
function targetOf(
	history: History,
	to: string | undefined,
	allowRolledBack: boolean,
): HistoryEntry {
	if (to === undefined || to === "") {
		throw new UsageError(
			"rollback needs --to: a release id from outputs/main/release/releases.json, or --to previous.",
		);
	}
	const listed = history.releases
		.slice(0, 5)
		.map(
			(entry) =>
				`${entry.releaseId} (${entry.version}${entry.current ? ", current" : ""}${entry.rolledBack ? ", rolled back" : ""})`,
		)
		.join(", ");
	const target =
		to === "previous"
			? previousRelease(history)
			: history.releases.find((entry) => entry.releaseId === to || entry.version === to);
	if (target === undefined) {
		throw new UsageError(
			to === "previous"
				? `There is no earlier release that was not rolled back to go back to (the history has ${listed || "none"}); name one with --to <release id>.`
				: `--to ${to} is no release of the history; name one of ${listed || "none (release first)"}.`,
		);
	}
	if (target.rolledBack && !allowRolledBack) {
		throw new UsageError(
			`${target.version} was rolled back${target.rolledBackAt ? ` on ${target.rolledBackAt.slice(0, 10)}` : ""}; to put users back on it anyway, pass --allow-rolled-back.`,
		);
	}
	return target;
}

/** Every system's parameter in every region of the target, as it names them. */
function parameterMoves(target: ReleaseManifest): ParameterMove[] {
	return Object.values(target.amis).flatMap((release) =>
		Object.entries(release.regions).map(([region, imageId]) => ({
			region,
			name: release.ssmParameter,
			imageId,
		})),
	);
}

/** Step 1: every parameter at once (a region each), each keyed on its value. */
async function moveParameters(
	context: TaskContext<RollbackOptions>,
	{ calls, clients }: AwsSession,
	moves: readonly ParameterMove[],
): Promise<void> {
	if (context.dryRun) {
		for (const move of moves) {
			context.log(`would point ${move.name} in ${move.region} at ${move.imageId}.`);
		}
		return;
	}
	const results = await Promise.all(
		moves.map(
			async (move) =>
				[move, await pointParameter(calls, clients.ssmIn(move.region), move)] as const,
		),
	);
	const moved = results.filter(([, result]) => result === "moved").length;
	context.log(
		`SSM parameters: ${moved} of ${moves.length} pointed back at the target's AMIs${moved < moves.length ? ` (${moves.length - moved} already were)` : ""}.`,
	);
}

/** Step 2: the target's moving tags, each keyed on the digest it serves. */
async function moveTags(
	context: TaskContext<RollbackOptions>,
	session: AwsSession,
	target: ReleaseManifest,
	tags: readonly string[],
): Promise<void> {
	const containers = target.containers;
	if (containers === undefined) return;
	if (tags.length === 0) {
		context.log(
			`the target moved no tags (its index lacked a system), so none moves back; ${containers.repository}:${containers.tags.release} is its own tag.`,
		);
		return;
	}
	const repository = await stackRepository(session, target.stack);
	if (repository !== containers.repository) {
		throw new TaskError(
			`The target's container repository ${containers.repository} is not the stack's (${repository}); nothing of the container was moved.`,
		);
	}
	const files = await registryFiles(context, session.calls, session.clients.ecrPublic, repository);
	for (const tag of tags) {
		if (context.dryRun) {
			context.log(`would point ${repository}:${tag} at ${containers.indexDigest}.`);
			continue;
		}
		const moved = await moveTag(context.$, repository, containers.indexDigest, tag, files);
		context.log(
			`${repository}:${tag} ${moved === "unchanged" ? "already pointed" : "now points"} at ${containers.indexDigest}.`,
		);
	}
}

/** Step 3 (--deprecate): each AMI of the left release, now (rounded up to EC2's whole minute). */
async function deprecateLeft(
	context: TaskContext<RollbackOptions>,
	{ calls, clients }: AwsSession,
	left: ReleaseManifest,
	target: ReleaseManifest,
): Promise<void> {
	// An AMI the target releases too stays as it is: users are being put back on it.
	const kept = new Set(
		Object.values(target.amis).flatMap((release) => Object.values(release.regions)),
	);
	const amis = Object.values(left.amis).flatMap((release) =>
		Object.entries(release.regions)
			.filter(([, imageId]) => !kept.has(imageId))
			.map(([region, imageId]) => [region, imageId, release.sourceImage.name] as const),
	);
	const at = Math.ceil((Date.now() + 60_000) / 60_000) * 60_000;
	if (context.dryRun) {
		for (const [region, imageId] of amis)
			context.log(`would deprecate ${imageId} in ${region} now.`);
		return;
	}
	const results = await Promise.all(
		amis.map(([region, imageId, name]) =>
			deprecateBy(calls, clients.ec2In(region), imageId, name, at),
		),
	);
	const done = results.filter((result) => result !== "gone").length;
	context.log(
		`deprecated ${done} AMI(s) of ${left.version} from ${new Date(at).toISOString()} (none deregistered)${results.includes("gone") ? `; ${results.filter((r) => r === "gone").length} were gone already` : ""}.`,
	);
}

/**
 * What the left release points users at that the target would not move
 * back: a system, a region of a system, or the container's moving tags. A
 * rollback to such a target would leave those users where they are while
 * saying they were put back; it is refused.
 */
function uncovered(left: ReleaseManifest, target: ReleaseManifest): string[] {
	const missing: string[] = [];
	for (const [system, release] of Object.entries(left.amis)) {
		const back = target.amis[system];
		if (back === undefined) {
			missing.push(`${system}'s AMIs`);
			continue;
		}
		const regions = Object.keys(release.regions).filter(
			(region) => !Object.hasOwn(back.regions, region),
		);
		if (regions.length > 0) missing.push(`${system} in ${regions.join(", ")}`);
	}
	if (left.containers?.tags.moving.length && !target.containers?.tags.moving.length) {
		missing.push("the container's moving tags");
	}
	return missing;
}

/** The moving tags a release moves (`<nix version>` and `latest`), never another release's own tag. */
function movingTagsOf(target: ReleaseManifest): string[] {
	const containers = target.containers;
	if (containers === undefined) return [];
	const allowed = [containers.nixVersion, "latest"];
	const others = containers.tags.moving.filter((tag) => !allowed.includes(tag));
	if (others.length > 0) {
		throw new TaskError(
			`The target's release.json names moving tags a release never moves (${others.join(", ")}); restore the published history. Nothing was moved.`,
		);
	}
	return containers.tags.moving;
}

/**
 * The release users are on now: release.json's (what users read), which the
 * history must agree with, unless the history already has the target
 * current (a rollback to it that stopped before release.json), which this
 * run finishes. Undefined when users are on the target already.
 */
function leftRelease(
	root: string,
	history: History,
	target: HistoryEntry,
): HistoryEntry | undefined {
	const current = history.releases.find((entry) => entry.current);
	const users = currentManifest(root);
	if (users === undefined) {
		return current && current.releaseId !== target.releaseId ? current : undefined;
	}
	if (users.releaseId === target.releaseId) return undefined;
	const left = history.releases.find((entry) => entry.releaseId === users.releaseId);
	const agrees =
		current === undefined ||
		current.releaseId === left?.releaseId ||
		current.releaseId === target.releaseId;
	if (left === undefined || !agrees) {
		throw new TaskError(
			`outputs/main/release.json (${users.version}) and the history's current release (${current?.version ?? "none"}) disagree; restore the published site (release.json and releases.json) and run rollback again. Nothing was moved.`,
		);
	}
	return left;
}

/** A verify report that must hold: else its table, and the failure as one sentence ending with `then`. */
function requireHolds(report: VerifyReport, then: string): void {
	const code = exitCodeOf(report);
	if (code === 0) return;
	process.stdout.write(`${reportTable(report)}\n`);
	appendStepSummary(reportMarkdown(report));
	throw new TaskError(`${verdictSentence(report, false)}, so ${then}.`, code);
}

export default async function rollback(context: TaskContext<RollbackOptions>) {
	const { root, options, dryRun, log, lock } = context;
	const output = releaseOutput(root);
	lock(output.json);
	lock(output.dir);
	const retryForMs = durationOption(options["retry-for"], "retry-for", MAX_RETRY_FOR_MS, 0);
	const { stackName } = stackSettings(cdkContext(root));
	const history = readHistory(output.dir, stackName);
	if (history.releases.length === 0) {
		throw new UsageError(
			`There is no release history in ${relative(root, output.dir)}/releases.json to roll back in: release keeps it there, and in the pipeline the page's history is restored first (gh run download, or the published site's releases.json and releases/).`,
		);
	}
	const entry = targetOf(history, options.to, options["allow-rolled-back"]);
	// Every kept release read and checked before anything moves.
	const kept = keptReleases(output.dir, history);
	const left = leftRelease(root, history, entry);
	const target = kept.get(entry.releaseId) as ReleaseManifest;
	const leaving = left ? kept.get(left.releaseId) : undefined;
	const missing = leaving ? uncovered(leaving, target) : [];
	if (leaving && missing.length > 0) {
		throw new TaskError(
			`${target.version} does not have all that ${leaving.version} released (${missing.join("; ")}), so users of those would stay on ${leaving.version}: roll back to a release that has them, or release a fixed build. Nothing was moved.`,
		);
	}
	const tags = movingTagsOf(target);
	log(
		`rollback to ${target.version} (release id ${target.releaseId}, released ${target.releasedAt.slice(0, 10)})${leaving ? `, leaving ${leaving.version}` : ", the release users get already: the pointers are checked and moved where they are not on it"}; should it stop, run it again with --to ${target.releaseId}.`,
	);
	await withDeployedStack(context, stackName, async (session) => {
		// The target where users would get it, before anything moves: its pointers still name the left one.
		const before = await verifyRelease(context, session, target, {
			supersededBy: leaving ? `the release being left, ${leaving.version}` : "this rollback",
			movingTags: false,
			retryForMs,
		});
		requireHolds(
			before.report,
			`users cannot be put back on ${target.version}: nothing was moved; roll back to another release (--to <release id>), or release a good build`,
		);
		await moveParameters(context, session, parameterMoves(target));
		await moveTags(context, session, target, tags);
		if (options.deprecate && leaving) await deprecateLeft(context, session, leaving, target);
		if (dryRun) {
			log(
				`would write ${relative(root, output.json)} (${target.version}) and mark ${leaving?.version ?? "nothing"} rolled back.`,
			);
			return;
		}
		// Read back where users get it: the parameters and tags now name the target (SSM validates
		// an aws:ec2:image value after PutParameter has answered).
		const after = await verifyRelease(context, session, target, { movingTags: true, retryForMs });
		requireHolds(
			after.report,
			`the pointers do not all name ${target.version} yet: run rollback again with --to ${target.releaseId}`,
		);
		// The target's files back at the site's top, the history and every page; release.json, last,
		// says the rollback is done.
		restoreReleaseFiles(output.dir, entry.releaseId);
		const next = withRollback(history, left?.releaseId, entry.releaseId, new Date().toISOString());
		writePages(output.dir, next, kept, target);
		writeAtomically(output.json, keptReleaseText(output.dir, entry));
		log(
			`users are back on ${target.version}: ${relative(root, output.json)}, the page and the history say so${leaving ? `; ${leaving.version} is marked rolled back` : ""}.`,
		);
		appendStepSummary(
			`### Rolled back to ${target.version}\n\n${leaving ? `${leaving.version} is marked rolled back${options.deprecate ? " and its AMIs are deprecated" : ""}.\n` : ""}`,
		);
	});
}

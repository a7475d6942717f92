/**
 * `prune`: keeps the account within its limits and tidy. It prints its whole
 * plan first (and under --dry-run only that), then carries it out, each step
 * idempotent: whatever is already gone (the lifecycle policy's work, an
 * earlier run killed midway) counts as done.
 */

import { deleteImages, repositoryImages } from "../infra/prune/container-images.ts";
import { projectSnapshots, snapshotsInUse, stackImages } from "../infra/prune/inventory.ts";
import { DAY_MS, orphanSnapshots, planImagePrune } from "../infra/prune/plan.ts";
import { deleteOrphanSnapshot } from "../infra/prune/retire.ts";
import { HOME_REGION } from "../infra/vocabulary.ts";
import { type AwsSession, withDeployedStack } from "./aws/session.ts";
import { cdkContext, stackSettings } from "./cdk/context.ts";
import { stackRepository } from "./release/checks.ts";
import { currentManifest } from "./release/current.ts";
import { planImages } from "./retention/containers.ts";
import { namedAmis } from "./retention/protection.ts";
import { retireAll } from "./retention/retirement.ts";
import type { TaskContext } from "./runner/task.ts";
import { registryFiles } from "./skopeo/auth.ts";
import { requireSkopeo } from "./skopeo/cli.ts";

/** The plan as a table a person reads: what goes, where, and why. */
function table(rows: readonly string[][]): string {
	const head = ["region", "what", "id", "why"];
	const widths = head.map((_, column) =>
		Math.max(...[head, ...rows].map((row) => (row[column] ?? "").length)),
	);
	return [head, ...rows]
		.map((row) =>
			row
				.map((cell, column) => cell.padEnd(widths[column] ?? 0))
				.join("  ")
				.trimEnd(),
		)
		.join("\n");
}

async function plan(context: TaskContext, session: AwsSession, stackName: string) {
	const { clients, calls, stack } = session;
	const regions = [...new Set([HOME_REGION, ...stack.DistributionRegions.split(",")])];
	const values = JSON.parse(stack.LifecycleTagValues) as Record<string, string>;
	const keep = Number(stack.LifecycleKeep);
	const maxAgeDays = Number(stack.LifecycleMaxAgeDays);
	const now = Date.now();
	const current = currentManifest(context.root);
	const [images, named, snapshots] = await Promise.all([
		Promise.all(regions.map((region) => stackImages(calls, clients.ec2In(region), region, values))),
		namedAmis(session, regions, current),
		Promise.all(
			regions.map(async (region) => {
				const ec2 = clients.ec2In(region);
				const [ours, inUse] = await Promise.all([
					projectSnapshots(calls, ec2),
					snapshotsInUse(calls, ec2),
				]);
				return orphanSnapshots(ours, inUse, now).map((snapshot) => ({ region, snapshot }));
			}),
		),
	]);
	const amis = planImagePrune(images.flat(), keep, maxAgeDays * DAY_MS, { named, now });
	const repository = await stackRepository(session, stackName);
	const files = await registryFiles(context, calls, clients.ecrPublic, repository);
	const containers = await planImages(
		context.$,
		repository,
		files,
		await repositoryImages(calls, clients.ecrPublic, stack.RepositoryName),
		keep,
		current?.containers?.indexDigest,
	);
	return { amis, orphans: snapshots.flat(), containers, keep, maxAgeDays, repository };
}

export default async function prune(context: TaskContext) {
	const { root, dryRun, log } = context;
	requireSkopeo();
	const settings = stackSettings(cdkContext(root));
	await withDeployedStack(context, settings.stackName, async (session) => {
		const { amis, orphans, containers, keep, maxAgeDays, repository } = await plan(
			context,
			session,
			settings.stackName,
		);
		log(
			`each system's lifecycle policy deletes its AMIs older than ${maxAgeDays} days, keeping the newest ${keep}; prune removes what is beyond those ${keep} sooner (quotas), the snapshots of failed publishes and the unreleased builds and container images nobody keeps, and takes whatever a policy deleted first as done.`,
		);
		const rows = [
			...amis.map(({ target, reason }) => [
				target.region,
				`${target.kind === "source" ? "source AMI" : "AMI"} ${target.system}`,
				target.image.ImageId ?? "",
				reason,
			]),
			...orphans.map(({ region, snapshot }) => [
				region,
				"snapshot",
				snapshot.SnapshotId ?? "",
				"no AMI uses it, older than a day",
			]),
			...containers.deleted.map(({ image, reason }) => [
				"ECR Public",
				"image",
				image.digest,
				reason,
			]),
		];
		if (rows.length === 0) {
			log("nothing to prune.");
			return;
		}
		process.stdout.write(`${table(rows)}\n`);
		log(
			`${dryRun ? "would remove" : "removing"} ${amis.length} AMI(s) with their snapshots, ${orphans.length} snapshot(s) and ${containers.deleted.length} container image(s) of ${repository}.`,
		);
		if (dryRun) return;
		// Copies first: a source goes only once none of its copies stays.
		const ordered = [...amis].sort(
			(a, b) => Number(a.target.kind === "source") - Number(b.target.kind === "source"),
		);
		await retireAll(context, session, ordered, "beyond what retention keeps");
		for (const { region, snapshot } of orphans) {
			await deleteOrphanSnapshot(
				session.calls,
				session.clients.ec2In(region),
				snapshot.SnapshotId as string,
			);
		}
		await deleteImages(
			session.calls,
			session.clients.ecrPublic,
			session.stack.RepositoryName,
			containers.deleted.map(({ image }) => image.digest),
		);
		log(`pruned: ${rows.length} removed.`);
	});
}

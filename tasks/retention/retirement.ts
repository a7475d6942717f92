/**
 * Retiring the AMIs retention took (release --make-room's and prune's), one
 * after another, saying first which ids go: whoever launches one by id (a
 * launch template, an Auto Scaling group) loses it.
 */
import type { Removal } from "../../infra/prune/plan.ts";
import { retireImage } from "../../infra/prune/retire.ts";
import type { AwsSession } from "../aws/session.ts";
import type { TaskContext } from "../runner/task.ts";

/** Retires each AMI in turn, saying which ids go (and that launching them by id stops working). */
export async function retireAll(
	context: TaskContext,
	{ clients, calls }: AwsSession,
	removals: readonly Removal[],
	why: string,
): Promise<void> {
	if (removals.length === 0) return;
	const verb = context.dryRun ? "would retire" : "retiring";
	context.log(
		`${verb} ${removals.length} AMI(s) ${why}; whoever launches them by id loses them: ${removals.map(({ target }) => `${target.image.ImageId} (${target.region}, ${target.system}, ${target.image.Name ?? ""})`).join(", ")}.`,
	);
	if (context.dryRun) return;
	const kept: string[] = [];
	for (const { target } of removals) {
		const { keptByRecycleBin } = await retireImage(
			calls,
			clients.ec2In(target.region),
			target.image,
		);
		kept.push(...keptByRecycleBin.map((id) => `${id} (${target.region})`));
	}
	if (kept.length > 0) {
		context.log(
			`a Recycle Bin retention rule keeps the retired AMIs (private, so not counted against the quota) and with them their snapshots, which are left: ${kept.join(", ")}; \`bun task prune\` deletes them once the bin lets the AMIs go.`,
		);
	}
}

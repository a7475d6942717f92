/**
 * `publish`: this system's images, built on this machine, to AWS. Each part
 * reads what the build left in outputs/, checks it, uploads it idempotently
 * and records the result beside the image, last.
 */
import { withDeployedStack } from "./aws/session.ts";
import { cdkContext, stackSettings } from "./cdk/context.ts";
import { PUBLISH_PARTS, type PublishOptions } from "./project/options.ts";
import { prepareAmi, publishAmi } from "./publish/ami.ts";
import { prepareContainer, publishContainer } from "./publish/container.ts";
import type { TaskContext } from "./runner/task.ts";

export default async function publish(context: TaskContext<PublishOptions>) {
	const { options, root, dryRun, log } = context;
	const parts = options.only === undefined ? PUBLISH_PARTS : [options.only];
	const settings = stackSettings(cdkContext(root));
	// Under --dry-run, an image an earlier step of this run would have built is not there yet.
	const unbuilt = (task: string) => {
		if (!dryRun || !context.ranEarlier(task)) return false;
		log(`would publish what ${task} builds (this dry run built nothing).`);
		return true;
	};
	// Every part's inputs are checked before anything of any part is uploaded, the cheap
	// ones (skopeo, the container's layout) before the disk image is hashed.
	const container =
		parts.includes("container") && !unbuilt("oci-container")
			? prepareContainer(context)
			: undefined;
	const ami =
		parts.includes("vm") && !unbuilt("virtual-machine")
			? await prepareAmi(context, settings.lifecycleMaxAgeDays)
			: undefined;
	if (ami === undefined && container === undefined) return;
	await withDeployedStack(context, settings.stackName, async ({ clients, calls, stack }) => {
		if (ami) await publishAmi(ami, context, clients, calls, stack);
		if (container) {
			await publishContainer(container, context, clients, calls, stack, settings.stackName);
		}
	});
}

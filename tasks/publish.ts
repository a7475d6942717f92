/**
 * `publish`: this system's images, built on this machine, to AWS. Each part
 * reads what the build left in outputs/, checks it, uploads it idempotently
 * and records the result beside the image, last.
 */
import { AwsCalls } from "../infra/publish/calls.ts";
import { PublishError } from "../infra/publish/errors.ts";
import { RetryBudget } from "../infra/publish/retry.ts";
import { readStackOutputs } from "../infra/publish/stack.ts";
import { closeClients, publishClients } from "./aws/clients.ts";
import { cdkContext, stackSettings } from "./cdk/context.ts";
import { PUBLISH_PARTS, type PublishOptions } from "./project/options.ts";
import { prepareAmi, publishAmi } from "./publish/ami.ts";
import { prepareContainer, publishContainer } from "./publish/container.ts";
import { TaskError } from "./runner/errors.ts";
import type { TaskContext } from "./runner/task.ts";

export default async function publish(context: TaskContext<PublishOptions>) {
	const { options, root, dryRun, log } = context;
	const parts = options.only === undefined ? PUBLISH_PARTS : [options.only];
	const settings = stackSettings(cdkContext(root));
	// Every part's inputs are checked before anything of any part is uploaded.
	const ami = parts.includes("vm") ? prepareAmi(context, settings.lifecycleMaxAgeDays) : undefined;
	const container = parts.includes("container") ? prepareContainer(context) : undefined;
	const clients = publishClients();
	try {
		const calls = new AwsCalls(new RetryBudget(), dryRun, log);
		const stack = await readStackOutputs(
			calls,
			clients.cloudFormation,
			settings.stackName,
			clients.region,
		);
		if (ami) await publishAmi(ami, context, clients, calls, stack);
		if (container) {
			await publishContainer(container, context, clients, calls, stack, settings.stackName);
		}
	} catch (error) {
		throw error instanceof PublishError ? new TaskError(error.message) : error;
	} finally {
		closeClients(clients);
	}
}

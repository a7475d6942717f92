/**
 * What publish and release share around their AWS work: the clients, one
 * retry budget for every request, the deployed stack's outputs read first,
 * failures as one sentence, and the clients' sockets closed however it ends.
 */
import { AwsCalls } from "../../infra/publish/calls.ts";
import { PublishError } from "../../infra/publish/errors.ts";
import { RetryBudget } from "../../infra/publish/retry.ts";
import { readStackOutputs, type StackOutputs } from "../../infra/publish/stack.ts";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import { type PublishClients, publishClients } from "./clients.ts";

export interface AwsSession {
	clients: PublishClients;
	calls: AwsCalls;
	stack: StackOutputs;
}

export async function withDeployedStack<T>(
	context: Pick<TaskContext, "dryRun" | "log">,
	stackName: string,
	work: (session: AwsSession) => Promise<T>,
): Promise<T> {
	const clients = publishClients();
	try {
		const calls = new AwsCalls(new RetryBudget(), context.dryRun, context.log);
		const stack = await readStackOutputs(calls, clients.cloudFormation, stackName, clients.region);
		return await work({ clients, calls, stack });
	} catch (error) {
		throw error instanceof PublishError ? new TaskError(error.message) : error;
	} finally {
		clients.close();
	}
}

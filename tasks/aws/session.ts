/**
 * What publish and release share around their AWS work: the clients, one
 * retry budget for every request, the deployed stack's outputs read first,
 * failures as one sentence, and the clients' sockets closed however it ends.
 */
import { AwsCalls } from "../../infra/sdk/calls.ts";
import { describeAwsRefusal, PublishError } from "../../infra/sdk/errors.ts";
import { RetryBudget, type RetryPolicy } from "../../infra/sdk/retry.ts";
import { readStackOutputs, type StackOutputs } from "../../infra/sdk/stack-outputs.ts";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import { type PublishClients, publishClients } from "./clients.ts";

export interface AwsSession {
	clients: PublishClients;
	calls: AwsCalls;
	stack: StackOutputs;
}

/**
 * Runs `work` with the clients and the run's AwsCalls. Whatever fails
 * becomes one sentence: a PublishError as it is, an AWS refusal with its
 * call, code and what to do. The clients' sockets are closed however it ends.
 */
export async function withAws<T>(
	context: Pick<TaskContext, "dryRun" | "log">,
	work: (clients: PublishClients, calls: AwsCalls) => Promise<T>,
	policy?: RetryPolicy,
): Promise<T> {
	const clients = publishClients();
	try {
		return await work(clients, new AwsCalls(new RetryBudget(policy), context.dryRun, context.log));
	} catch (error) {
		if (error instanceof PublishError) throw new TaskError(error.message);
		const refusal = describeAwsRefusal(error);
		throw refusal === undefined ? error : new TaskError(refusal);
	} finally {
		clients.close();
	}
}

/** withAws, with the deployed stack's outputs read first (DescribeStacks, which only reads). */
export function withDeployedStack<T>(
	context: Pick<TaskContext, "dryRun" | "log">,
	stackName: string,
	work: (session: AwsSession) => Promise<T>,
	policy?: RetryPolicy,
): Promise<T> {
	return withAws(
		context,
		async (clients, calls) => {
			const stack = await readStackOutputs(
				calls,
				clients.cloudFormation,
				stackName,
				clients.region,
			);
			return work({ clients, calls, stack });
		},
		policy,
	);
}

/**
 * The control-plane stack's outputs, as publish and release need them: read
 * with CloudFormation DescribeStacks, in the stack's home region.
 */
import {
	type CloudFormationClient,
	DescribeStacksCommand,
	type DescribeStacksCommandOutput,
} from "@aws-sdk/client-cloudformation";
import type { AwsCalls } from "./calls.ts";
import { errorCode, PublishError } from "./errors.ts";

/** The outputs infra/stack.ts declares that publishing reads. */
export const STACK_OUTPUTS = [
	"RepositoryName",
	"DistributionConfigurationArns",
	"AmiParameterNames",
	"DistributionRoleArn",
	"DistributionRegions",
	"LifecycleTagKey",
	"LifecycleTagValues",
	"LifecycleKeep",
	"LifecycleMaxAgeDays",
	"PublicAmis",
	"SmokeTestSubnet",
] as const;
export type StackOutputs = Record<(typeof STACK_OUTPUTS)[number], string>;

/** Stack states from which a stack's outputs are what its last deploy wanted. */
const USABLE =
	/^(CREATE_COMPLETE|UPDATE_COMPLETE|UPDATE_ROLLBACK_COMPLETE|IMPORT_COMPLETE|UPDATE_COMPLETE_CLEANUP_IN_PROGRESS)$/;

/** DescribeStacks of the stack by its name; only reads. */
export async function readStackOutputs(
	calls: AwsCalls,
	cloudFormation: CloudFormationClient,
	stackName: string,
	region: string,
): Promise<StackOutputs> {
	const deploy = `run \`bun task deploy\``;
	let found: DescribeStacksCommandOutput;
	try {
		found = await calls.read(cloudFormation, new DescribeStacksCommand({ StackName: stackName }));
	} catch (error) {
		if (
			errorCode(error) === "ValidationError" &&
			/does not exist/.test(String((error as Error).message))
		) {
			throw new PublishError(
				`The stack ${stackName} does not exist in ${region}; ${deploy} first (or set the stackName setting to the stack you deployed).`,
			);
		}
		throw error;
	}
	const stack = found.Stacks?.[0];
	if (!stack || !USABLE.test(stack.StackStatus ?? "")) {
		throw new PublishError(
			`The stack ${stackName} in ${region} is ${stack?.StackStatus ?? "missing"}, not deployed; ${deploy} and wait for it to finish.`,
		);
	}
	const outputs = Object.fromEntries(
		(stack.Outputs ?? []).map((output) => [output.OutputKey ?? "", output.OutputValue ?? ""]),
	);
	const missing = STACK_OUTPUTS.filter((key) => !outputs[key]);
	if (missing.length > 0) {
		throw new PublishError(
			`The stack ${stackName} has no output ${missing.join(", ")}: it was deployed by an older version; ${deploy} to update it.`,
		);
	}
	return outputs as StackOutputs;
}

/**
 * One system's entry of an output that maps systems to values (JSON), or a
 * sentence saying the deployed stack predates that system.
 */
export function systemOutput(
	outputs: StackOutputs,
	key: "DistributionConfigurationArns" | "AmiParameterNames" | "LifecycleTagValues",
	system: string,
): string {
	let value: unknown;
	try {
		value = (JSON.parse(outputs[key]) as Record<string, unknown>)[system];
	} catch {}
	if (typeof value === "string" && value !== "") return value;
	throw new PublishError(
		`The stack's output ${key} has nothing for ${system}: it was deployed by an older version or for other systems; run \`bun task deploy\` to update it.`,
	);
}

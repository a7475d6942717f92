import { afterEach, describe, expect, test } from "bun:test";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { mockClient } from "aws-sdk-client-mock";
import { AwsCalls } from "./calls.ts";
import { RetryBudget } from "./retry.ts";
import {
	readStackOutputs,
	STACK_OUTPUTS,
	type StackOutputs,
	systemOutput,
} from "./stack-outputs.ts";

const cfnMock = mockClient(CloudFormationClient);
afterEach(() => cfnMock.reset());
const read = () =>
	readStackOutputs(
		new AwsCalls(new RetryBudget(), false, () => {}),
		new CloudFormationClient({ region: "us-east-1" }),
		"Production",
		"us-east-1",
	);
const outputs = STACK_OUTPUTS.map((key) => ({ OutputKey: key, OutputValue: `${key}-value` }));

describe("readStackOutputs", () => {
	test("reads every output publishing needs from DescribeStacks", async () => {
		cfnMock.on(DescribeStacksCommand, { StackName: "Production" }).resolves({
			Stacks: [
				{
					StackName: "Production",
					StackStatus: "UPDATE_COMPLETE",
					CreationTime: new Date(),
					Outputs: outputs,
				},
			],
		});
		expect((await read()).DistributionRoleArn).toBe("DistributionRoleArn-value");
	});
	test("a missing stack, one not deployed, or one without an output is one sentence saying to deploy", async () => {
		cfnMock.on(DescribeStacksCommand).rejects(
			Object.assign(new Error("Stack with id Production does not exist"), {
				name: "ValidationError",
			}),
		);
		await expect(read()).rejects.toThrow(
			"The stack Production does not exist in us-east-1; run `bun task deploy` first",
		);
		cfnMock.on(DescribeStacksCommand).resolves({
			Stacks: [
				{ StackName: "Production", StackStatus: "ROLLBACK_COMPLETE", CreationTime: new Date() },
			],
		});
		await expect(read()).rejects.toThrow(
			"The stack Production in us-east-1 is ROLLBACK_COMPLETE, not deployed",
		);
		cfnMock.on(DescribeStacksCommand).resolves({
			Stacks: [
				{
					StackName: "Production",
					StackStatus: "CREATE_COMPLETE",
					CreationTime: new Date(),
					Outputs: outputs.slice(1),
				},
			],
		});
		await expect(read()).rejects.toThrow("The stack Production has no output RepositoryName");
	});
});

describe("systemOutput", () => {
	const stack = {
		DistributionConfigurationArns: JSON.stringify({ "x86_64-linux": "arn:x86" }),
		AmiParameterNames: "not JSON",
	} as StackOutputs;
	test("reads one system's entry of a JSON output", () => {
		expect(systemOutput(stack, "DistributionConfigurationArns", "x86_64-linux")).toBe("arn:x86");
	});
	test("a system the stack does not know, or an output that is no JSON map, says to deploy", () => {
		for (const [key, system] of [
			["DistributionConfigurationArns", "aarch64-linux"],
			["AmiParameterNames", "x86_64-linux"],
		] as const) {
			expect(() => systemOutput(stack, key, system)).toThrow(
				`The stack's output ${key} has nothing for ${system}: it was deployed by an older version or for other systems; run \`bun task deploy\` to update it.`,
			);
		}
	});
});

/**
 * The SSM parameters under a stack's path in one region: what users who look
 * the AMI up by name get. Only reads (GetParametersByPath, every page).
 */
import { GetParametersByPathCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { AwsCalls } from "../sdk/calls.ts";
import { PublishError } from "../sdk/errors.ts";
import { compare, type Finding } from "./findings.ts";

/** Every parameter under `path` (recursively): name → value and data type. */
export async function parametersUnder(
	calls: AwsCalls,
	ssm: SSMClient,
	path: string,
): Promise<Map<string, { value: string; dataType: string }>> {
	const parameters = new Map<string, { value: string; dataType: string }>();
	let token: string | undefined;
	// Bounded: SSM pages by 10, and a stack has a handful of parameters per region; more than
	// 1,000 under its path is not this stack's doing, and a partial list could hide a stray one.
	for (let page = 0; ; page++) {
		if (page === 100) {
			throw new PublishError(
				`SSM lists more than 1,000 parameters under ${path}; remove those the stack does not declare and verify again`,
			);
		}
		const answer = await calls.read(
			ssm,
			new GetParametersByPathCommand({ Path: path, Recursive: true, NextToken: token }),
		);
		for (const parameter of answer.Parameters ?? []) {
			if (parameter.Name === undefined) continue;
			parameters.set(parameter.Name, {
				value: parameter.Value ?? "",
				dataType: parameter.DataType ?? "text",
			});
		}
		token = answer.NextToken;
		if (!token) break;
	}
	return parameters;
}

/**
 * Each system's parameter holds exactly its AMI id with data type
 * aws:ec2:image; any other name under the path that the stack does not
 * declare (`known`) is unexpected.
 */
export function parameterFindings(
	parameters: ReadonlyMap<string, { value: string; dataType: string }>,
	expected: readonly { system: string; name: string; imageId: string }[],
	known: ReadonlySet<string>,
): Finding[] {
	const findings: Finding[] = [];
	for (const want of expected) {
		const base = { system: want.system, subject: `SSM parameter ${want.name}` };
		const parameter = parameters.get(want.name);
		compare(findings, base, "value", want.imageId, parameter?.value ?? "none (missing)");
		if (parameter !== undefined) {
			compare(findings, base, "data type", "aws:ec2:image", parameter.dataType);
		}
	}
	for (const [name, parameter] of parameters) {
		if (known.has(name)) continue;
		findings.push({
			subject: `SSM parameter ${name}`,
			field: "declared by the stack",
			expected: "no such parameter (not in the stack's AmiParameterNames)",
			actual: `holds ${parameter.value}`,
		});
	}
	return findings;
}

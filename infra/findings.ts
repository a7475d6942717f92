/**
 * cdk-nag findings this stack accepts. Each is acknowledged on the construct
 * that causes it, for one exact resource or policy, with its reason.
 */
import { Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * Accepts a wildcard in one resource (AwsSolutions-IAM5), spelled as cdk-nag
 * reports it: tokens as <AWS::Partition> and <AWS::AccountId>.
 */
export function acceptWildcard(scope: IConstruct, resource: string, reason: string): void {
	Validations.of(scope).acknowledge({
		id: `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`,
		reason,
	});
}

/** Accepts an AWS managed policy (AwsSolutions-IAM4), named like "service-role/X". */
export function acceptManagedPolicy(scope: IConstruct, policyName: string, reason: string): void {
	Validations.of(scope).acknowledge({
		id: `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policyName}]`,
		reason,
	});
}

/** Accepts the wildcard of stackArnPattern (arns.ts): this stack's ARN, whose ID part is generated. */
export function acceptStackWildcard(scope: IConstruct, reason: string): void {
	const stack = Stack.of(scope);
	acceptWildcard(
		scope,
		`arn:<AWS::Partition>:cloudformation:${stack.region}:<AWS::AccountId>:stack/${stack.stackName}/*`,
		reason,
	);
}

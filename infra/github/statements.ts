/**
 * IAM statements more than one GitHub role holds, each exactly what the code
 * of those roles calls: reading the stack's outputs, and pushing to the ECR
 * Public repository (skopeo's push, and the registry login it needs).
 */
import { type Stack, Stack as StackClass } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IConstruct } from "constructs";
import { stackArnPattern } from "../arns.ts";
import { acceptStackWildcard } from "../findings.ts";

/** DescribeStacks of this stack only: every data-plane task reads its outputs first. */
export function readStackOutputs(stack: Stack): PolicyStatement {
	return new PolicyStatement({
		sid: "ReadStackOutputs",
		actions: ["cloudformation:DescribeStacks"],
		resources: [stackArnPattern(stack)],
	});
}

/** The cdk-nag acknowledgement readStackOutputs needs, on the role that holds it. */
export function acceptReadStackOutputs(role: IConstruct): void {
	acceptStackWildcard(
		role,
		`A stack ARN ends in its generated ID; this is the ${StackClass.of(role).stackName} stack's name only (DescribeStacks for its outputs).`,
	);
}

/**
 * A registry login for ECR Public (GetAuthorizationToken, and the STS bearer
 * token it requires, for ECR Public only) and a push to the one repository
 * (what skopeo's and podman's pushes through the registry API are authorized as).
 */
export function pushToRepository(repositoryArn: string): PolicyStatement[] {
	return [
		new PolicyStatement({
			sid: "SignInToEcrPublic",
			actions: ["ecr-public:GetAuthorizationToken"],
			resources: ["*"],
		}),
		new PolicyStatement({
			sid: "BearerTokensForEcrPublicOnly",
			actions: ["sts:GetServiceBearerToken"],
			resources: ["*"],
			conditions: { StringEquals: { "sts:AWSServiceName": "ecr-public.amazonaws.com" } },
		}),
		new PolicyStatement({
			sid: "PushToTheRepository",
			actions: [
				"ecr-public:DescribeRepositories",
				"ecr-public:BatchCheckLayerAvailability",
				"ecr-public:InitiateLayerUpload",
				"ecr-public:UploadLayerPart",
				"ecr-public:CompleteLayerUpload",
				"ecr-public:PutImage",
			],
			resources: [repositoryArn],
		}),
	];
}

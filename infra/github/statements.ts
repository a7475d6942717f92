/**
 * IAM statements more than one GitHub role holds, each exactly what the code
 * of those roles calls: reading the stack's outputs, and the ECR Public
 * registry login, with a push to the repository (skopeo's) or only its
 * description (reading manifests).
 */
import { type Stack, Stack as StackClass } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IConstruct } from "constructs";
import { stackArnPattern } from "../arns.ts";
import { acceptStackWildcard, acceptWildcard } from "../findings.ts";

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
 * A registry login for ECR Public: GetAuthorizationToken, and the STS bearer
 * token it requires, for ECR Public only. Neither names a resource; what the
 * login may then do is the repository statement's beside it.
 */
function signInToEcrPublic(): PolicyStatement[] {
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
	];
}

/**
 * The login and a push to the one repository (what skopeo's and podman's
 * pushes through the registry API are authorized as).
 */
export function pushToRepository(repositoryArn: string): PolicyStatement[] {
	return [
		...signInToEcrPublic(),
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

/**
 * The login and the one repository's description (its URI): reading its
 * manifests signed in, which a public repository allows anyone, but at a
 * higher rate than anonymous pulls get. Nothing that pushes.
 */
export function readRepository(repositoryArn: string): PolicyStatement[] {
	return [
		...signInToEcrPublic(),
		new PolicyStatement({
			sid: "DescribeTheRepository",
			actions: ["ecr-public:DescribeRepositories"],
			resources: [repositoryArn],
		}),
	];
}

/**
 * GetParametersByPath of the stack's AMI parameters in every region: the
 * path itself (what the call is authorized against) and the names below it.
 * What verify's checks read (verify, and release before it moves its pointers).
 */
export function readAmiParameters(stack: Stack, path: string): PolicyStatement {
	return new PolicyStatement({
		sid: "ReadTheAmiParametersEverywhere",
		actions: ["ssm:GetParametersByPath"],
		resources: [path, `${path}/*`].map((name) =>
			stack.formatArn({
				service: "ssm",
				region: "*",
				resource: "parameter",
				resourceName: name.slice(1),
			}),
		),
	});
}

/** The cdk-nag acknowledgements readAmiParameters needs, on the role that holds it. */
export function acceptReadAmiParameters(role: IConstruct, path: string): void {
	for (const resource of [path, `${path}/*`]) {
		acceptWildcard(
			role,
			`arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:parameter${resource}`,
			"GetParametersByPath of this stack's AMI parameters in every region of the distribution: the wildcard is the region (and the names under the stack's path). Reading only.",
		);
	}
}

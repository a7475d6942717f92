import { Duration, Stack } from "aws-cdk-lib";
import { PolicyDocument, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { ec2ImageArns, stackArnPattern } from "../arns.ts";
import type { AmiDistribution } from "../distribution.ts";
import { acceptStackWildcard, acceptWildcard } from "../findings.ts";
import type { PublicRepository } from "../repository.ts";
import { MANAGED_BY } from "../tags.ts";
import type { GitHubOidc } from "./oidc.ts";

export interface PublishRoleProps {
	github: GitHubOidc;
	repository: PublicRepository;
	distribution: AmiDistribution;
}

/**
 * The role GitHub Actions publishes images with: exactly the calls the
 * publishing code makes (test/publish.test.ts compares the two), on EBS
 * snapshots and AMIs tagged ManagedBy=nix-images, this stack's repository
 * (skopeo's push) and this stack's outputs.
 */
export class PublishRole extends Role {
	constructor(scope: Construct, id: string, props: PublishRoleProps) {
		const stack = Stack.of(scope);
		super(scope, id, {
			assumedBy: props.github.principal,
			description: `Publishes nix-images ${props.github.describe()}.`,
			maxSessionDuration: Duration.hours(2),
			inlinePolicies: {
				Publish: new PolicyDocument({ statements: publishStatements(stack, props) }),
			},
		});
		acceptStackWildcard(
			this,
			"A stack ARN ends in its generated ID; this is this stack's name only (DescribeStacks for its outputs).",
		);
		acceptWildcard(
			this,
			"*",
			"ec2:DescribeImages and DescribeSnapshots (the idempotency look-ups), GetEbsEncryptionByDefault, ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken support no resource-level permissions.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::snapshot/*`,
			"A snapshot's ID exists only after StartSnapshot; starting one requires the ManagedBy tag, and writing blocks to it, deleting it or registering an AMI from it requires the snapshot to carry that tag.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::image/*`,
			"An AMI's ID exists only after RegisterImage; registering and tagging require the ManagedBy tag on the request, deprecating requires it on the AMI.",
		);
	}
}

function publishStatements(stack: Stack, props: PublishRoleProps): PolicyStatement[] {
	const { image, snapshot } = ec2ImageArns(stack, stack.region);
	const managed = { [`aws:ResourceTag/${MANAGED_BY.key}`]: MANAGED_BY.value };
	const tagging = { [`aws:RequestTag/${MANAGED_BY.key}`]: MANAGED_BY.value };
	return [
		new PolicyStatement({
			sid: "StartTaggedSnapshots",
			actions: ["ebs:StartSnapshot"],
			resources: [snapshot],
			conditions: { StringEquals: tagging },
		}),
		new PolicyStatement({
			sid: "WriteOwnSnapshots",
			actions: ["ebs:PutSnapshotBlock", "ebs:CompleteSnapshot"],
			resources: [snapshot],
			conditions: { StringEquals: managed },
		}),
		new PolicyStatement({
			sid: "DeleteOwnIncompleteSnapshots",
			actions: ["ec2:DeleteSnapshot"],
			resources: [snapshot],
			conditions: { StringEquals: managed },
		}),
		new PolicyStatement({
			sid: "RegisterTaggedImages",
			actions: ["ec2:RegisterImage"],
			resources: [image],
			conditions: { StringEquals: tagging },
		}),
		new PolicyStatement({
			sid: "RegisterFromOwnSnapshots",
			actions: ["ec2:RegisterImage"],
			resources: [snapshot],
			conditions: { StringEquals: managed },
		}),
		new PolicyStatement({
			sid: "TagOnCreate",
			actions: ["ec2:CreateTags"],
			resources: [snapshot, image],
			conditions: { StringEquals: tagging },
		}),
		new PolicyStatement({
			sid: "DeprecateOwnImages",
			actions: ["ec2:EnableImageDeprecation"],
			resources: [image],
			conditions: { StringEquals: managed },
		}),
		new PolicyStatement({
			sid: "FindImagesAndSnapshots",
			actions: ["ec2:DescribeImages", "ec2:DescribeSnapshots", "ec2:GetEbsEncryptionByDefault"],
			resources: ["*"],
		}),
		new PolicyStatement({
			sid: "SignInToEcrPublic",
			actions: ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"],
			resources: ["*"],
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
			resources: [props.repository.repositoryArn],
		}),
		new PolicyStatement({
			sid: "ReadStackOutputs",
			actions: ["cloudformation:DescribeStacks"],
			resources: [stackArnPattern(stack)],
		}),
	];
}

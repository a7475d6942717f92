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
 * The role GitHub Actions publishes and releases images with: EBS snapshots
 * and AMIs tagged ManagedBy=nix-images, DistributeImage with this stack's
 * configuration and role, and pushes to this stack's repository.
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
			"ec2:DescribeImages and DescribeSnapshots (the idempotency look-ups), ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken support no resource-level permissions.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::snapshot/*`,
			"A snapshot's ID exists only after StartSnapshot; starting one requires the ManagedBy tag, and writing blocks or registering an AMI from it requires the snapshot to carry that tag.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::image/*`,
			"An AMI's ID exists only after RegisterImage; registering and tagging require the ManagedBy tag on the request.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:imagebuilder:${stack.region}:<AWS::AccountId>:image/*`,
			"DistributeImage creates an Image Builder image whose name and version come from the AMI; GetImage follows it.",
		);
	}
}

function publishStatements(stack: Stack, props: PublishRoleProps): PolicyStatement[] {
	const { image, snapshot } = ec2ImageArns(stack, stack.region);
	const imageBuilderImages = stack.formatArn({
		service: "imagebuilder",
		resource: "image",
		resourceName: "*",
	});
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
			actions: ["ebs:PutSnapshotBlock", "ebs:CompleteSnapshot", "ebs:ListSnapshotBlocks"],
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
			sid: "FindImagesAndSnapshots",
			actions: ["ec2:DescribeImages", "ec2:DescribeSnapshots"],
			resources: ["*"],
		}),
		new PolicyStatement({
			sid: "Distribute",
			actions: ["imagebuilder:DistributeImage"],
			resources: [props.distribution.configuration.attrArn, imageBuilderImages],
		}),
		new PolicyStatement({
			sid: "FollowDistributions",
			actions: ["imagebuilder:GetImage", "imagebuilder:TagResource"],
			resources: [imageBuilderImages],
		}),
		new PolicyStatement({
			sid: "PassTheDistributionRole",
			actions: ["iam:PassRole"],
			resources: [props.distribution.executionRole.roleArn],
			conditions: { StringEquals: { "iam:PassedToService": "imagebuilder.amazonaws.com" } },
		}),
		new PolicyStatement({
			sid: "SignInToEcrPublic",
			actions: ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"],
			resources: ["*"],
		}),
		new PolicyStatement({
			sid: "PushToTheRepository",
			actions: [
				"ecr-public:BatchCheckLayerAvailability",
				"ecr-public:CompleteLayerUpload",
				"ecr-public:DescribeImages",
				"ecr-public:DescribeImageTags",
				"ecr-public:InitiateLayerUpload",
				"ecr-public:PutImage",
				"ecr-public:UploadLayerPart",
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

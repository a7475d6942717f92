import { Duration, Stack } from "aws-cdk-lib";
import { PolicyDocument, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { ec2ImageArns } from "../arns.ts";
import { acceptWildcard } from "../findings.ts";
import type { PublicRepository } from "../repository.ts";
import { IMAGE_SHA256_TAG, MANAGED_BY, PUBLISH_TAG_KEYS } from "../vocabulary.ts";
import type { GitHubOidc } from "./oidc.ts";
import { acceptReadStackOutputs, pushToRepository, readStackOutputs } from "./statements.ts";

export interface PublishRoleProps {
	github: GitHubOidc;
	/** The GitHub environment of the jobs that build and publish (not the deploy or the release role's). */
	environment: string;
	repository: PublicRepository;
}

/**
 * The role the images jobs publish with, which run the builds' code: exactly
 * the calls `publish` makes (test/roles.test.ts compares the two), on EBS
 * snapshots and AMIs tagged ManagedBy=nix-images, this stack's repository
 * (skopeo's push) and this stack's outputs. It can make nothing public:
 * distribution, launch permissions, the smoke test and the moving tags are
 * the release role's.
 */
export class PublishRole extends Role {
	constructor(scope: Construct, id: string, props: PublishRoleProps) {
		const stack = Stack.of(scope);
		super(scope, id, {
			assumedBy: props.github.principal(props.environment),
			description: `Publishes nix-images privately ${props.github.describe(props.environment)}.`,
			maxSessionDuration: Duration.hours(2),
			inlinePolicies: {
				Publish: new PolicyDocument({ statements: publishStatements(stack, props) }),
			},
		});
		acceptReadStackOutputs(this);
		acceptWildcard(
			this,
			"*",
			"ec2:DescribeImages and DescribeSnapshots (the idempotency look-ups), GetEbsEncryptionByDefault and GetEbsDefaultKmsKeyId, ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken (limited to ECR Public) support no resource-level permissions.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::snapshot/*`,
			"A snapshot's ID exists only after StartSnapshot; starting one requires the ManagedBy tag (tags only on creation), and writing blocks to it, deleting it or registering an AMI from it requires the snapshot to carry that tag.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::image/*`,
			"An AMI's ID exists only after RegisterImage; registering requires the ManagedBy tag on the request (tags only on creation, publish's keys and the image's SHA-256 only), and deprecating requires it on the AMI.",
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
		// Only as part of creating them (tagging an existing snapshot or AMI ManagedBy would make it
		// "ours"), and only publish's keys: the image's SHA-256 on the AMI alone.
		new PolicyStatement({
			sid: "TagSnapshotsOnStart",
			actions: ["ec2:CreateTags"],
			resources: [snapshot],
			conditions: {
				StringEquals: { ...tagging, "ec2:CreateAction": "StartSnapshot" },
				"ForAllValues:StringEquals": { "aws:TagKeys": [...PUBLISH_TAG_KEYS] },
			},
		}),
		new PolicyStatement({
			sid: "TagImagesOnRegister",
			actions: ["ec2:CreateTags"],
			resources: [image],
			conditions: {
				StringEquals: { ...tagging, "ec2:CreateAction": "RegisterImage" },
				"ForAllValues:StringEquals": { "aws:TagKeys": [...PUBLISH_TAG_KEYS, IMAGE_SHA256_TAG] },
			},
		}),
		new PolicyStatement({
			sid: "DeprecateOwnImages",
			actions: ["ec2:EnableImageDeprecation"],
			resources: [image],
			conditions: { StringEquals: managed },
		}),
		new PolicyStatement({
			sid: "FindImagesAndSnapshots",
			actions: [
				"ec2:DescribeImages",
				"ec2:DescribeSnapshots",
				"ec2:GetEbsEncryptionByDefault",
				"ec2:GetEbsDefaultKmsKeyId",
			],
			resources: ["*"],
		}),
		...pushToRepository(props.repository.repositoryArn),
		readStackOutputs(stack),
	];
}

import { Duration, Stack } from "aws-cdk-lib";
import { PolicyDocument, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { ec2ImageArns, stackArnPattern } from "../arns.ts";
import type { AmiDistribution } from "../distribution.ts";
import { acceptStackWildcard, acceptWildcard } from "../findings.ts";
import type { PublicRepository } from "../repository.ts";
import {
	ATTEMPT_TAG,
	DISTRIBUTION_TAG,
	MANAGED_BY,
	PURPOSE_TAG,
	RETRIES_TAG,
	SMOKE_TEST_TAG,
	SYSTEM_ARCHITECTURES,
} from "../vocabulary.ts";
import type { GitHubOidc } from "./oidc.ts";

export interface PublishRoleProps {
	github: GitHubOidc;
	/** The GitHub environment whose jobs may publish and release (not the deploy role's). */
	environment: string;
	repository: PublicRepository;
	distribution: AmiDistribution;
}

/**
 * The role GitHub Actions publishes images with: exactly the calls the
 * publishing code makes (test/publish-role.test.ts compares the two), on EBS
 * snapshots and AMIs tagged ManagedBy=nix-images, this stack's repository
 * (skopeo's push) and this stack's outputs.
 */
export class PublishRole extends Role {
	constructor(scope: Construct, id: string, props: PublishRoleProps) {
		const stack = Stack.of(scope);
		super(scope, id, {
			assumedBy: props.github.principal(props.environment),
			description: `Publishes nix-images ${props.github.describe(props.environment)}.`,
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
			"ec2:DescribeImages, DescribeSnapshots and DescribeInstances (the idempotency look-ups), GetEbsEncryptionByDefault, GetImageBlockPublicAccessState, ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken (limited to ECR Public) support no resource-level permissions.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::snapshot/*`,
			"A snapshot's ID exists only after StartSnapshot; starting one requires the ManagedBy tag (tags only on creation), and writing blocks to it, deleting it or registering an AMI from it requires the snapshot to carry that tag.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::image/*`,
			"An AMI's ID exists only after RegisterImage; registering requires the ManagedBy tag on the request (tags only on creation); deprecating, launching a smoke test and tagging release's steps (only those tag keys) require it on the AMI.",
		);
		const ec2InHome = (resource: string) =>
			`arn:<AWS::Partition>:ec2:${stack.region}:<AWS::AccountId>:${resource}/*`;
		acceptWildcard(
			this,
			ec2InHome("instance"),
			"A smoke-test instance's ID exists only after RunInstances; launching requires the ManagedBy and Purpose tags on the request, t3.nano or t4g.nano and IMDSv2; reading its console and terminating it require those tags on the instance.",
		);
		acceptWildcard(
			this,
			ec2InHome("volume"),
			"The smoke-test instance's root volume is made by RunInstances; it must be tagged ManagedBy on launch.",
		);
		for (const resource of ["network-interface", "subnet", "security-group"]) {
			acceptWildcard(
				this,
				ec2InHome(resource),
				"RunInstances in the account's default VPC names its default subnet and security group and creates a network interface, none known in advance; the instance statement limits what may be launched.",
			);
		}
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:imagebuilder:${stack.region}:<AWS::AccountId>:image/*`,
			"DistributeImage creates an Image Builder image whose ARN exists only after the call, and is authorized against it alone; GetImage, RetryImage and TagResource act on images of this account's Image Builder, which this stack uses only for its distributions. The source AMI cannot be restricted by IAM (CopyImage's and DistributeImage's permissions apply to the new image).",
		);
	}
}

/**
 * What `release` adds: the smoke test (only the smallest instance types,
 * IMDSv2 only, only from this project's AMIs, tagged on launch; reading and
 * terminating only those instances), the AMI tags that make it resumable,
 * and Image Builder's DistributeImage with this stack's configuration and role.
 */
function releaseStatements(stack: Stack, props: PublishRoleProps): PolicyStatement[] {
	const region = stack.region;
	const { image } = ec2ImageArns(stack, region);
	const ec2 = (resource: string) =>
		stack.formatArn({ service: "ec2", region, resource, resourceName: "*" });
	const managed = { [`aws:ResourceTag/${MANAGED_BY.key}`]: MANAGED_BY.value };
	const smokeTestInstances = {
		...managed,
		[`aws:ResourceTag/${PURPOSE_TAG.key}`]: PURPOSE_TAG.value,
	};
	const imageBuilderImages = stack.formatArn({
		service: "imagebuilder",
		resource: "image",
		resourceName: "*",
	});
	return [
		new PolicyStatement({
			sid: "LaunchSmokeTestInstances",
			actions: ["ec2:RunInstances"],
			resources: [ec2("instance")],
			conditions: {
				StringEquals: {
					[`aws:RequestTag/${MANAGED_BY.key}`]: MANAGED_BY.value,
					[`aws:RequestTag/${PURPOSE_TAG.key}`]: PURPOSE_TAG.value,
					"ec2:InstanceType": Object.values(SYSTEM_ARCHITECTURES).map((system) => system.smoke),
					"ec2:MetadataHttpTokens": "required",
				},
			},
		}),
		new PolicyStatement({
			sid: "LaunchWithTaggedVolumes",
			actions: ["ec2:RunInstances"],
			resources: [ec2("volume")],
			conditions: { StringEquals: { [`aws:RequestTag/${MANAGED_BY.key}`]: MANAGED_BY.value } },
		}),
		new PolicyStatement({
			sid: "LaunchOwnImages",
			actions: ["ec2:RunInstances"],
			resources: [image],
			conditions: { StringEquals: managed },
		}),
		new PolicyStatement({
			sid: "LaunchInTheDefaultNetwork",
			actions: ["ec2:RunInstances"],
			resources: [ec2("network-interface"), ec2("subnet"), ec2("security-group")],
		}),
		new PolicyStatement({
			sid: "TagSmokeTestInstancesOnLaunch",
			actions: ["ec2:CreateTags"],
			resources: [ec2("instance"), ec2("volume")],
			conditions: { StringEquals: { "ec2:CreateAction": "RunInstances" } },
		}),
		new PolicyStatement({
			sid: "WatchAndEndSmokeTestInstances",
			actions: ["ec2:GetConsoleOutput", "ec2:TerminateInstances"],
			resources: [ec2("instance")],
			conditions: { StringEquals: smokeTestInstances },
		}),
		new PolicyStatement({
			sid: "RecordReleaseStepsOnOwnImages",
			actions: ["ec2:CreateTags"],
			resources: [image],
			conditions: {
				StringEquals: managed,
				// Only the tags that record release's steps on the private AMI.
				"ForAllValues:StringEquals": {
					"aws:TagKeys": [SMOKE_TEST_TAG, ATTEMPT_TAG, DISTRIBUTION_TAG, RETRIES_TAG],
				},
			},
		}),
		new PolicyStatement({
			sid: "CheckInstancesAndPublicSharing",
			actions: ["ec2:DescribeInstances", "ec2:GetImageBlockPublicAccessState"],
			resources: ["*"],
		}),
		new PolicyStatement({
			sid: "ReadOnlyThisStacksConfigurations",
			// A dependent action of DistributeImage (Service Authorization Reference): what pins the configuration.
			actions: ["imagebuilder:GetDistributionConfiguration"],
			resources: Object.values(props.distribution.configurations).map((c) => c.attrArn),
		}),
		new PolicyStatement({
			sid: "Distribute",
			// Authorized against the new Image Builder image only.
			actions: ["imagebuilder:DistributeImage"],
			resources: [imageBuilderImages],
		}),
		new PolicyStatement({
			sid: "FollowAndRetryDistributions",
			actions: ["imagebuilder:GetImage", "imagebuilder:RetryImage", "imagebuilder:TagResource"],
			resources: [imageBuilderImages],
		}),
		new PolicyStatement({
			sid: "PassTheDistributionRole",
			actions: ["iam:PassRole"],
			resources: [props.distribution.executionRole.roleArn],
			conditions: { StringEquals: { "iam:PassedToService": "imagebuilder.amazonaws.com" } },
		}),
	];
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
			// Only as part of creating them: tagging an existing snapshot or AMI ManagedBy would make it "ours".
			conditions: {
				StringEquals: {
					...tagging,
					"ec2:CreateAction": ["RegisterImage", "StartSnapshot"],
				},
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
			actions: ["ec2:DescribeImages", "ec2:DescribeSnapshots", "ec2:GetEbsEncryptionByDefault"],
			resources: ["*"],
		}),
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
			resources: [props.repository.repositoryArn],
		}),
		...releaseStatements(stack, props),
		new PolicyStatement({
			sid: "ReadStackOutputs",
			actions: ["cloudformation:DescribeStacks"],
			resources: [stackArnPattern(stack)],
		}),
	];
}

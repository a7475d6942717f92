import { Duration, Stack } from "aws-cdk-lib";
import { PolicyDocument, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { ec2ImageArns } from "../arns.ts";
import type { AmiDistribution } from "../distribution.ts";
import { acceptWildcard } from "../findings.ts";
import type { PublicRepository } from "../repository.ts";
import {
	ATTEMPT_TAG,
	DISTRIBUTION_TAG,
	IMAGE_SHA256_TAG,
	MANAGED_BY,
	PURPOSE_TAG,
	RETRIES_TAG,
	SMOKE_TEST_TAG,
	SYSTEM_ARCHITECTURES,
} from "../vocabulary.ts";
import type { GitHubOidc } from "./oidc.ts";
import { retentionStatements } from "./retention-statements.ts";
import {
	acceptReadAmiParameters,
	acceptReadStackOutputs,
	pushToRepository,
	readAmiParameters,
	readStackOutputs,
} from "./statements.ts";

export interface ReleaseRoleProps {
	github: GitHubOidc;
	/** The GitHub environment of the release job, which builds nothing (not the deploy or publish role's). */
	environment: string;
	repository: PublicRepository;
	distribution: AmiDistribution;
	/** The smoke test's subnet (the smokeTestSubnet setting); unset: any of the default VPC's. */
	smokeTestSubnet?: string;
}

/**
 * The role the release job makes things public with: exactly the calls
 * `release` makes (test/roles.test.ts compares the two). It checks what
 * publish recorded (reads), boots each AMI once (the smoke test), starts
 * Image Builder's DistributeImage with this stack's configurations and role
 * (which copies and shares), and pushes the container index and moving tags.
 * It uploads and registers nothing: that is the publish role's.
 */
export class ReleaseRole extends Role {
	constructor(scope: Construct, id: string, props: ReleaseRoleProps) {
		const stack = Stack.of(scope);
		super(scope, id, {
			assumedBy: props.github.principal(props.environment),
			description: `Releases nix-images ${props.github.describe(props.environment)}.`,
			maxSessionDuration: Duration.hours(2),
			inlinePolicies: {
				Release: new PolicyDocument({ statements: releaseStatements(stack, props) }),
			},
		});
		acceptReadStackOutputs(this);
		acceptReadAmiParameters(this, props.distribution.parameterPath);
		acceptWildcard(
			this,
			"*",
			"ec2:DescribeImages, DescribeSnapshots and DescribeInstances (checking the records, finding the smoke test's instances, retention's inventory), ListImagesInRecycleBin (what counts against the public-AMI quota), servicequotas:GetServiceQuota and GetAWSDefaultServiceQuota (the quota), DescribeVpcs, DescribeSubnets and DescribeInstanceTypeOfferings (where the smoke test may launch), GetEbsEncryptionByDefault, GetEbsDefaultKmsKeyId and GetImageBlockPublicAccessState (whether the copies can be made, and public), ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken (limited to ECR Public) support no resource-level permissions.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::image/*`,
			"Launching a smoke test from an AMI and tagging release's steps on it (only those tag keys) require the ManagedBy tag on the AMI, whose ID publish made.",
		);
		acceptWildcard(
			this,
			"arn:<AWS::Partition>:ec2:*::image/*",
			"Image Builder makes the copies in every region of the distribution under IDs known only afterwards; deprecating them, tagging them with the disk image's SHA-256 (only that tag key), and retiring (launch permission removed, deregistered) what retention takes, require them to carry ManagedBy=nix-images, which the distribution configuration tags them with.",
		);
		acceptWildcard(
			this,
			"arn:<AWS::Partition>:ec2:*::snapshot/*",
			"The copies' snapshots exist in every region under IDs known only after the distribution; release tags them (only ManagedBy=nix-images, BuildId and System, never over another ManagedBy) and retention deletes only snapshots tagged ManagedBy=nix-images.",
		);
		for (const name of Object.values(props.distribution.parameterNames)) {
			acceptWildcard(
				this,
				`arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:parameter${name}`,
				"One system's AMI parameter, by its exact name, in any region of the distribution: read (retention never takes the AMI a parameter names there) and, by rollback, pointed back at an earlier release's AMI there.",
			);
		}
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
		for (const resource of [
			"network-interface",
			...(props.smokeTestSubnet ? [] : ["subnet"]),
			"security-group",
		]) {
			acceptWildcard(
				this,
				ec2InHome(resource),
				"RunInstances names the subnet's VPC default security group and creates a network interface (and, without the smokeTestSubnet setting, uses a default subnet of the default VPC), none known in advance; the instance statement limits what may be launched.",
			);
		}
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:imagebuilder:${stack.region}:<AWS::AccountId>:image/*`,
			"DistributeImage creates an Image Builder image whose ARN exists only after the call, and is authorized against it alone; GetImage, RetryImage and TagResource act on images of this account's Image Builder, which this stack uses only for its distributions. The source AMI cannot be restricted by IAM (CopyImage's and DistributeImage's permissions apply to the new image); release checks it against the records and its tags first.",
		);
	}
}

function releaseStatements(stack: Stack, props: ReleaseRoleProps): PolicyStatement[] {
	const region = stack.region;
	const { image } = ec2ImageArns(stack, region);
	const ec2 = (resource: string) =>
		stack.formatArn({ service: "ec2", region, resource, resourceName: "*" });
	const managed = { [`aws:ResourceTag/${MANAGED_BY.key}`]: MANAGED_BY.value };
	// Each system's AMI parameter by its exact name, in any region of the distribution.
	const parameterArns = Object.values(props.distribution.parameterNames).map((name) =>
		stack.formatArn({
			service: "ssm",
			region: "*",
			resource: "parameter",
			resourceName: name.slice(1),
		}),
	);
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
			sid: "CheckRecordsAndPublicSharing",
			actions: [
				"ec2:DescribeImages",
				"ec2:DescribeSnapshots",
				"ec2:DescribeInstances",
				"ec2:DescribeVpcs",
				"ec2:DescribeSubnets",
				"ec2:DescribeInstanceTypeOfferings",
				"ec2:GetEbsEncryptionByDefault",
				"ec2:GetEbsDefaultKmsKeyId",
				"ec2:GetImageBlockPublicAccessState",
			],
			resources: ["*"],
		}),
		new PolicyStatement({
			sid: "ReadWhatUsersGetNow",
			// Which build each system's parameter names (release refuses older ones), and in every
			// region which AMIs users get now (retention never takes those).
			actions: ["ssm:GetParameter"],
			resources: parameterArns,
		}),
		new PolicyStatement({
			sid: "PointTheParametersBack",
			// rollback: each system's parameter, by its exact name, back at an earlier release's AMI
			// in each region (the distribution role writes them at a release).
			actions: ["ssm:PutParameter"],
			resources: parameterArns,
		}),
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
			sid: "LaunchInTheSmokeTestNetwork",
			actions: ["ec2:RunInstances"],
			resources: [
				ec2("network-interface"),
				props.smokeTestSubnet
					? stack.formatArn({
							service: "ec2",
							region,
							resource: "subnet",
							resourceName: props.smokeTestSubnet,
						})
					: ec2("subnet"),
				ec2("security-group"),
			],
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
			sid: "TagOwnCopiesWithTheImageSha256",
			// The source's digest onto its copies in every region: that one key only (and some key,
			// which ForAllValues alone would not require), on AMIs the configuration tagged ManagedBy,
			// never a source AMI (publish tags those BuildId, the copies have none), whose tag
			// release reads and trusts.
			actions: ["ec2:CreateTags"],
			resources: [ec2ImageArns(stack, "*").image],
			conditions: {
				StringEquals: managed,
				"ForAllValues:StringEquals": { "aws:TagKeys": [IMAGE_SHA256_TAG] },
				Null: { "aws:TagKeys": "false", "aws:ResourceTag/BuildId": "true" },
			},
		}),
		new PolicyStatement({
			sid: "DeprecateOwnCopiesEverywhere",
			// The distribution's copies in every region, tagged ManagedBy by the configuration's AmiTags.
			actions: ["ec2:EnableImageDeprecation"],
			resources: [ec2ImageArns(stack, "*").image],
			conditions: { StringEquals: managed },
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
		// verify's checks, which release makes before it moves its pointers (tasks/verify/run.ts).
		readAmiParameters(stack, props.distribution.parameterPath),
		...retentionStatements(stack, props.repository.repositoryArn),
		...pushToRepository(props.repository.repositoryArn),
		readStackOutputs(stack),
	];
}

import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import {
	type IOidcProvider,
	OidcProviderNative,
	PolicyDocument,
	PolicyStatement,
	Role,
	WebIdentityPrincipal,
} from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { acceptWildcard } from "./findings.ts";
import { MANAGED_BY } from "./tags.ts";

const ISSUER = "token.actions.githubusercontent.com";

export interface GitHubAccessProps {
	/** owner/name */
	repository: string;
	environment: string;
	/** Reuse the account's provider (there can be only one per issuer) instead of creating it. */
	existingProviderArn?: string;
	/** What the roles may touch: this stack's resources, by name. */
	stackName: string;
	repositoryName: string;
	distributionConfigurationName: string;
	lifecyclePolicyName: string;
	distributionExecutionRoleArn: string;
}

/**
 * GitHub Actions' OIDC provider and two roles that only jobs of one repository
 * running in one GitHub environment can assume: one deploys this stack, one
 * publishes images.
 */
export class GitHubAccess extends Construct {
	readonly provider: IOidcProvider;
	readonly deployRole: Role;
	readonly publishRole: Role;

	constructor(scope: Construct, id: string, props: GitHubAccessProps) {
		super(scope, id);
		const stack = Stack.of(this);
		if (props.existingProviderArn) {
			this.provider = OidcProviderNative.fromOidcProviderArn(
				this,
				"Provider",
				props.existingProviderArn,
			);
		} else {
			const provider = new OidcProviderNative(this, "Provider", {
				url: `https://${ISSUER}`,
				clientIds: ["sts.amazonaws.com"],
			});
			// Other stacks and repositories of the account may come to rely on it.
			provider.applyRemovalPolicy(RemovalPolicy.RETAIN);
			this.provider = provider;
		}
		const principal = new WebIdentityPrincipal(this.provider.oidcProviderArn, {
			StringEquals: {
				[`${ISSUER}:aud`]: "sts.amazonaws.com",
				[`${ISSUER}:sub`]: `repo:${props.repository}:environment:${props.environment}`,
			},
		});
		const arn = (service: string, resource: string, resourceName: string, region = stack.region) =>
			stack.formatArn({ service, region, resource, resourceName });
		const stackArn = arn("cloudformation", "stack", `${props.stackName}/*`);
		const repositoryArn = stack.formatArn({
			service: "ecr-public",
			region: "",
			resource: "repository",
			resourceName: props.repositoryName,
		});
		/** CloudFormation names this stack's roles <stack name>-<logical id>-<suffix>. */
		const stackRoles = stack.formatArn({
			service: "iam",
			region: "",
			resource: "role",
			resourceName: `${props.stackName}-*`,
		});
		const distributionArn = arn(
			"imagebuilder",
			"distribution-configuration",
			props.distributionConfigurationName,
		);

		this.deployRole = new Role(this, "DeployRole", {
			assumedBy: principal,
			description: `Deploys the ${props.stackName} stack from GitHub Actions (${props.repository}, environment ${props.environment}).`,
			maxSessionDuration: Duration.hours(1),
			inlinePolicies: {
				DeployStack: new PolicyDocument({
					statements: [
						new PolicyStatement({
							sid: "ChangeThisStack",
							actions: [
								"cloudformation:CreateChangeSet",
								"cloudformation:DeleteChangeSet",
								"cloudformation:DescribeChangeSet",
								"cloudformation:DescribeStackEvents",
								"cloudformation:DescribeStacks",
								"cloudformation:ExecuteChangeSet",
								"cloudformation:GetTemplate",
							],
							resources: [stackArn],
						}),
						new PolicyStatement({
							sid: "ReadTemplates",
							actions: ["cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate"],
							resources: ["*"],
						}),
						new PolicyStatement({
							sid: "ManageThisStacksRoles",
							actions: [
								"iam:CreateRole",
								"iam:DeleteRole",
								"iam:DeleteRolePolicy",
								"iam:GetRole",
								"iam:GetRolePolicy",
								"iam:PutRolePolicy",
								"iam:TagRole",
								"iam:UntagRole",
								"iam:UpdateAssumeRolePolicy",
								"iam:UpdateRole",
								"iam:UpdateRoleDescription",
							],
							resources: [stackRoles],
						}),
						new PolicyStatement({
							sid: "AttachOnlyTheLifecyclePolicy",
							actions: ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
							resources: [stackRoles],
							conditions: {
								ArnEquals: {
									"iam:PolicyARN": `arn:${stack.partition}:iam::aws:policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy`,
								},
							},
						}),
						new PolicyStatement({
							sid: "PassRolesToImageBuilder",
							actions: ["iam:PassRole"],
							resources: [stackRoles],
							conditions: { StringEquals: { "iam:PassedToService": "imagebuilder.amazonaws.com" } },
						}),
						new PolicyStatement({
							sid: "ManageTheOidcProvider",
							actions: [
								"iam:AddClientIDToOpenIDConnectProvider",
								"iam:CreateOpenIDConnectProvider",
								"iam:GetOpenIDConnectProvider",
								"iam:RemoveClientIDFromOpenIDConnectProvider",
								"iam:TagOpenIDConnectProvider",
								"iam:UntagOpenIDConnectProvider",
								"iam:UpdateOpenIDConnectProviderThumbprint",
							],
							resources: [
								stack.formatArn({
									service: "iam",
									region: "",
									resource: "oidc-provider",
									resourceName: ISSUER,
								}),
							],
						}),
						new PolicyStatement({
							sid: "ManageImageBuilderResources",
							actions: [
								"imagebuilder:CreateDistributionConfiguration",
								"imagebuilder:DeleteDistributionConfiguration",
								"imagebuilder:GetDistributionConfiguration",
								"imagebuilder:UpdateDistributionConfiguration",
								"imagebuilder:CreateLifecyclePolicy",
								"imagebuilder:DeleteLifecyclePolicy",
								"imagebuilder:GetLifecyclePolicy",
								"imagebuilder:UpdateLifecyclePolicy",
								"imagebuilder:TagResource",
								"imagebuilder:UntagResource",
							],
							resources: [
								distributionArn,
								arn("imagebuilder", "lifecycle-policy", props.lifecyclePolicyName),
							],
						}),
						new PolicyStatement({
							sid: "ManageTheRepository",
							actions: [
								"ecr-public:CreateRepository",
								"ecr-public:DeleteRepository",
								"ecr-public:DescribeRepositories",
								"ecr-public:GetRepositoryCatalogData",
								"ecr-public:ListTagsForResource",
								"ecr-public:PutRepositoryCatalogData",
								"ecr-public:TagResource",
								"ecr-public:UntagResource",
							],
							resources: [repositoryArn],
						}),
					],
				}),
			},
		});

		const stackWildcard = `arn:<AWS::Partition>:cloudformation:${stack.region}:<AWS::AccountId>:stack/${props.stackName}/*`;
		acceptWildcard(
			this.deployRole,
			stackWildcard,
			"A stack ARN ends in its generated ID; this is this stack's name only.",
		);
		acceptWildcard(
			this.deployRole,
			"*",
			"cloudformation:GetTemplateSummary and ValidateTemplate support no resource-level permissions.",
		);
		acceptWildcard(
			this.deployRole,
			`arn:<AWS::Partition>:iam::<AWS::AccountId>:role/${props.stackName}-*`,
			"CloudFormation names this stack's roles <stack name>-<logical id>-<suffix>; the prefix limits the deploy role to them, and PassRole only to Image Builder.",
		);

		const snapshot = stack.formatArn({
			service: "ec2",
			account: "",
			resource: "snapshot",
			resourceName: "*",
		});
		const image = stack.formatArn({
			service: "ec2",
			account: "",
			resource: "image",
			resourceName: "*",
		});
		const managed = { [`aws:ResourceTag/${MANAGED_BY.key}`]: MANAGED_BY.value };
		const tagging = { [`aws:RequestTag/${MANAGED_BY.key}`]: MANAGED_BY.value };
		this.publishRole = new Role(this, "PublishRole", {
			assumedBy: principal,
			description: `Publishes nix-images from GitHub Actions (${props.repository}, environment ${props.environment}).`,
			maxSessionDuration: Duration.hours(2),
			inlinePolicies: {
				Publish: new PolicyDocument({
					statements: [
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
							resources: [distributionArn, arn("imagebuilder", "image", "*")],
						}),
						new PolicyStatement({
							sid: "FollowDistributions",
							actions: ["imagebuilder:GetImage", "imagebuilder:TagResource"],
							resources: [arn("imagebuilder", "image", "*")],
						}),
						new PolicyStatement({
							sid: "PassTheDistributionRole",
							actions: ["iam:PassRole"],
							resources: [props.distributionExecutionRoleArn],
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
							resources: [repositoryArn],
						}),
						new PolicyStatement({
							sid: "ReadStackOutputs",
							actions: ["cloudformation:DescribeStacks"],
							resources: [stackArn],
						}),
					],
				}),
			},
		});
		const publish = this.publishRole;
		acceptWildcard(
			publish,
			stackWildcard,
			"A stack ARN ends in its generated ID; this is this stack's name only (DescribeStacks for its outputs).",
		);
		acceptWildcard(
			publish,
			"*",
			"ec2:DescribeImages and DescribeSnapshots (the idempotency look-ups), ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken support no resource-level permissions.",
		);
		acceptWildcard(
			publish,
			`arn:<AWS::Partition>:ec2:${stack.region}::snapshot/*`,
			"A snapshot's ID exists only after StartSnapshot; starting one requires the ManagedBy tag, and writing blocks or registering an AMI from it requires the snapshot to carry that tag.",
		);
		acceptWildcard(
			publish,
			`arn:<AWS::Partition>:ec2:${stack.region}::image/*`,
			"An AMI's ID exists only after RegisterImage; registering and tagging require the ManagedBy tag on the request.",
		);
		acceptWildcard(
			publish,
			`arn:<AWS::Partition>:imagebuilder:${stack.region}:<AWS::AccountId>:image/*`,
			"DistributeImage creates an Image Builder image whose name and version come from the AMI; GetImage follows it.",
		);
	}
}

import { ArnFormat, Stack } from "aws-cdk-lib";
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnDistributionConfiguration } from "aws-cdk-lib/aws-imagebuilder";
import { Construct } from "constructs";
import { ec2ImageArns } from "./arns.ts";
import { acceptWildcard } from "./findings.ts";
import { LIFECYCLE_TAG_KEY, lifecycleTagValue, MANAGED_BY } from "./vocabulary.ts";

export interface AmiDistributionProps {
	/** Lower-case base of the configurations' names: `<name>-<system>`. */
	name: string;
	/** The stack's name, in the SSM parameters' path. */
	stackName: string;
	systems: readonly string[];
	regions: readonly string[];
	publicAmis: boolean;
}

/**
 * The SSM parameter that holds `system`'s latest AMI id in every region of
 * the distribution (data type aws:ec2:image), guessable from the stack and system.
 */
function amiParameterName(stackName: string, system: string): string {
	return `${amiParameterPath(stackName)}/nixos/${system}/latest`;
}

/** The path every AMI parameter of a stack lies under: what verify lists (and flags strays under). */
function amiParameterPath(stackName: string): string {
	return `/nix-images/${stackName}`;
}

/** A role only Image Builder, acting for this account, can assume. */
export function imageBuilderPrincipal(scope: Construct): ServicePrincipal {
	return new ServicePrincipal("imagebuilder.amazonaws.com", {
		conditions: { StringEquals: { "aws:SourceAccount": Stack.of(scope).account } },
	});
}

/**
 * Where `release` sends an AMI with Image Builder's DistributeImage: per
 * system a configuration with one AMI distribution per region, each writing
 * the copy's id to the system's SSM parameter there (a configuration names
 * its parameters, hence one per system); and the role DistributeImage runs as.
 */
export class AmiDistribution extends Construct {
	/** Each system's configuration name, known before it exists (IAM statements that create it need it). */
	readonly names: Record<string, string>;
	/** The name of the single configuration of versions before one per system (replaced, so deleted, on deploy). */
	readonly previousName: string;
	readonly configurations: Record<string, CfnDistributionConfiguration>;
	/** Each system's SSM parameter name. */
	readonly parameterNames: Record<string, string>;
	/** The path all of them lie under (GetParametersByPath's). */
	readonly parameterPath: string;
	readonly executionRole: Role;

	constructor(scope: Construct, id: string, props: AmiDistributionProps) {
		super(scope, id);
		const stack = Stack.of(this);
		this.previousName = props.name;
		this.names = Object.fromEntries(
			props.systems.map((system) => [system, `${props.name}-${system}`]),
		);
		this.parameterPath = amiParameterPath(props.stackName);
		this.parameterNames = Object.fromEntries(
			props.systems.map((system) => [system, amiParameterName(props.stackName, system)]),
		);
		const parameterArns = Object.values(this.parameterNames).map((name) =>
			stack.formatArn({
				service: "ssm",
				region: "*",
				resource: "parameter",
				resourceName: name.slice(1),
			}),
		);
		const { image, snapshot } = ec2ImageArns(this, "*");

		// Only what distribution does: copy the AMI to each region, tag the copies,
		// open their launch permission, and log.
		this.executionRole = new Role(this, "ExecutionRole", {
			assumedBy: imageBuilderPrincipal(this),
			description: "Assumed by EC2 Image Builder to distribute nix-images AMIs (DistributeImage).",
			inlinePolicies: {
				Distribute: new PolicyDocument({
					statements: [
						new PolicyStatement({
							sid: "ReadImages",
							actions: [
								"ec2:DescribeImages",
								"ec2:DescribeImageAttribute",
								"ec2:DescribeSnapshots",
							],
							resources: ["*"],
						}),
						new PolicyStatement({
							sid: "CopyManagedImages",
							actions: ["ec2:CopyImage"],
							resources: [image, snapshot],
						}),
						new PolicyStatement({
							sid: "TagCopies",
							actions: ["ec2:CreateTags"],
							resources: [image, snapshot],
						}),
						new PolicyStatement({
							sid: "ShareCopies",
							actions: ["ec2:ModifyImageAttribute"],
							resources: [image],
							conditions: { StringEquals: { "aws:ResourceTag/CreatedBy": "EC2 Image Builder" } },
						}),
						new PolicyStatement({
							sid: "WriteTheAmiParameters",
							actions: ["ssm:PutParameter"],
							resources: parameterArns,
						}),
						new PolicyStatement({
							sid: "Log",
							actions: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
							resources: [
								stack.formatArn({
									service: "logs",
									region: "*",
									resource: "log-group",
									resourceName: "/aws/imagebuilder/*",
									arnFormat: ArnFormat.COLON_RESOURCE_NAME,
								}),
							],
						}),
					],
				}),
			},
		});

		const role = this.executionRole;
		acceptWildcard(
			role,
			"*",
			"ec2:DescribeImages, DescribeImageAttribute and DescribeSnapshots support no resource-level permissions.",
		);
		acceptWildcard(
			role,
			"arn:<AWS::Partition>:ec2:*::image/*",
			"Distribution copies the AMI into every configured region; the copies' IDs exist only after CopyImage. ModifyImageAttribute is limited to images tagged CreatedBy=EC2 Image Builder (its copies, and this project's own AMIs, which publish tags so); CreateTags is not limited, since whether Image Builder tags the copies at CopyImage or after it is not documented.",
		);
		acceptWildcard(
			role,
			"arn:<AWS::Partition>:ec2:*::snapshot/*",
			"CopyImage copies the AMI's snapshot into every configured region under IDs that do not exist beforehand.",
		);
		acceptWildcard(
			role,
			"arn:<AWS::Partition>:logs:*:<AWS::AccountId>:log-group:/aws/imagebuilder/*",
			"Image Builder writes distribution logs to its own /aws/imagebuilder/ log groups in each region.",
		);

		for (const name of Object.values(this.parameterNames)) {
			acceptWildcard(
				role,
				`arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:parameter${name}`,
				"Distribution writes this one parameter in every configured region; the wildcard is the region only.",
			);
		}

		this.configurations = Object.fromEntries(
			props.systems.map((system) => [
				system,
				new CfnDistributionConfiguration(this, system, {
					name: this.names[system] as string,
					description: `nix-images: NixOS AMIs for ${system} in every region, published by bun task release.`,
					// Raw CloudFormation inside amiDistributionConfiguration: the keys are PascalCase.
					distributions: props.regions.map((region) => ({
						region,
						amiDistributionConfiguration: {
							Description: "NixOS for Amazon EC2, built by nix-images",
							AmiTags: {
								[MANAGED_BY.key]: MANAGED_BY.value,
								[LIFECYCLE_TAG_KEY]: lifecycleTagValue(props.stackName, system),
							},
							...(props.publicAmis
								? { LaunchPermissionConfiguration: { UserGroups: ["all"] } }
								: {}),
						},
						ssmParameterConfigurations: [
							{ parameterName: this.parameterNames[system] as string, dataType: "aws:ec2:image" },
						],
					})),
					tags: { [MANAGED_BY.key]: MANAGED_BY.value },
				}),
			]),
		);
	}
}

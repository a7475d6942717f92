import { Duration, Stack } from "aws-cdk-lib";
import { PolicyDocument, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { stackArnPattern } from "../arns.ts";
import type { AmiDistribution } from "../distribution.ts";
import { acceptStackWildcard, acceptWildcard } from "../findings.ts";
import type { AmiLifecycle } from "../lifecycle.ts";
import type { PublicRepository } from "../repository.ts";
import { GITHUB_OIDC_ISSUER, type GitHubOidc } from "./oidc.ts";

export interface DeployRoleProps {
	github: GitHubOidc;
	/** The GitHub environment whose jobs may deploy. */
	environment: string;
	repository: PublicRepository;
	distribution: AmiDistribution;
	lifecycle: AmiLifecycle;
}

/**
 * The role GitHub Actions deploys this stack with: change sets of this stack
 * only, and the resources it holds. Resources are named by their names rather
 * than by their tokens: CloudFormation acts with this role while it creates
 * or replaces them, before their attributes exist.
 */
export class DeployRole extends Role {
	constructor(scope: Construct, id: string, props: DeployRoleProps) {
		const stack = Stack.of(scope);
		super(scope, id, {
			assumedBy: props.github.principal(props.environment),
			description: `Deploys the ${stack.stackName} stack ${props.github.describe(props.environment)}.`,
			maxSessionDuration: Duration.hours(1),
			inlinePolicies: {
				DeployStack: new PolicyDocument({ statements: deployStatements(stack, props) }),
			},
		});
		acceptStackWildcard(
			this,
			"A stack ARN ends in its generated ID; this is this stack's name only.",
		);
		acceptWildcard(
			this,
			"*",
			"cloudformation:GetTemplateSummary and ValidateTemplate support no resource-level permissions.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:iam::<AWS::AccountId>:role/${stack.stackName}-*`,
			"CloudFormation names this stack's roles <stack name>-<logical id>-<suffix>; the prefix limits the deploy role to them, and PassRole only to Image Builder.",
		);
	}
}

function deployStatements(stack: Stack, props: DeployRoleProps): PolicyStatement[] {
	const arn = (service: string, resource: string, resourceName: string) =>
		stack.formatArn({ service, resource, resourceName });
	/** CloudFormation names this stack's roles <stack name>-<logical id>-<suffix>. */
	const stackRoles = stack.formatArn({
		service: "iam",
		region: "",
		resource: "role",
		resourceName: `${stack.stackName}-*`,
	});
	return [
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
			resources: [stackArnPattern(stack)],
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
		// Only a provider this stack made: an existing one may serve other repositories.
		...(props.github.owned ? [oidcStatement(stack)] : []),
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
				// The one configuration of earlier versions too, so the first deploy of this one can delete it.
				...[...Object.values(props.distribution.names), props.distribution.previousName].map(
					(name) => arn("imagebuilder", "distribution-configuration", name),
				),
				// The one policy of earlier versions too, so the first deploy of this one can delete it.
				...[...Object.values(props.lifecycle.names), props.lifecycle.previousName].map((name) =>
					arn("imagebuilder", "lifecycle-policy", name),
				),
			],
		}),
		new PolicyStatement({
			sid: "ManageTheRepository",
			actions: [
				"ecr-public:CreateRepository",
				"ecr-public:DescribeRepositories",
				"ecr-public:GetRepositoryCatalogData",
				"ecr-public:ListTagsForResource",
				"ecr-public:PutRepositoryCatalogData",
				"ecr-public:TagResource",
				"ecr-public:UntagResource",
			],
			resources: [props.repository.repositoryArn],
		}),
	];
}

/** What CloudFormation does with the GitHub OIDC provider the stack owns. */
function oidcStatement(stack: Stack): PolicyStatement {
	return new PolicyStatement({
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
				resourceName: GITHUB_OIDC_ISSUER,
			}),
		],
	});
}

/**
 * The two sides of each GitHub role's least privilege: the AWS operations
 * the code of the tasks it runs can send (the SDK commands that code
 * imports, followed through its imports), and the actions the synthesized
 * role allows.
 */
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { buildApp } from "../../infra/app.ts";
import { REPO } from "../fixtures/projects.ts";
import { reachableFrom } from "../imports.ts";
import type { Statement } from "./iam.ts";

/** The body of each task a GitHub role runs: what it can call is what these reach. */
export const ROLE_TASKS = {
	PublishRole: ["tasks/publish.ts"],
	// The release job also prunes (after a successful release), and the rollback workflow rolls
	// back: never the publish role's.
	ReleaseRole: ["tasks/release.ts", "tasks/prune.ts", "tasks/rollback.ts"],
	// The verify workflow's, which reads only.
	VerifyRole: ["tasks/verify.ts"],
} as const;
export type GitHubRole = keyof typeof ROLE_TASKS | "DeployRole";

/**
 * Actions a role needs that are no operation of their own: each with the
 * operation that implies it (a role may hold it only with that one) and why.
 */
export const IMPLIED_ACTIONS: Record<string, { by: string; why: string }> = {
	"iam:PassRole": {
		by: "imagebuilder:DistributeImage",
		why: "DistributeImage hands Image Builder the stack's distribution role.",
	},
	"imagebuilder:GetDistributionConfiguration": {
		by: "imagebuilder:DistributeImage",
		why: "A dependent action of DistributeImage: Image Builder reads the configuration as the caller.",
	},
	"imagebuilder:TagResource": {
		by: "imagebuilder:DistributeImage",
		why: "The tags given to DistributeImage are put on its image under this permission.",
	},
	"ec2:CreateTags": {
		by: "ec2:RegisterImage",
		why: "Tags given at creation (TagSpecifications, StartSnapshot's Tags) are authorized as CreateTags with ec2:CreateAction.",
	},
	"sts:GetServiceBearerToken": {
		by: "ecr-public:GetAuthorizationToken",
		why: "ECR Public's GetAuthorizationToken requires it.",
	},
	...Object.fromEntries(
		[
			"BatchCheckLayerAvailability",
			"InitiateLayerUpload",
			"UploadLayerPart",
			"CompleteLayerUpload",
			"PutImage",
		].map((action) => [
			`ecr-public:${action}`,
			{
				by: "ecr-public:GetAuthorizationToken",
				why: "A push through the registry API with the login (skopeo's, podman's) is authorized as this action.",
			},
		]),
	),
};

/** IAM's service prefix where it is not the SDK package's name. */
const IAM_PREFIX: Record<string, string> = { "service-quotas": "servicequotas" };

/** What `role` holds beyond the operations the code makes and what those imply: should be nothing. */
export function beyondTheCode(role: Set<string>, code: Set<string>): string[] {
	return [...role].filter((action) => {
		if (code.has(action)) return false;
		const implied = IMPLIED_ACTIONS[action];
		return implied === undefined || !code.has(implied.by);
	});
}

/**
 * Every `<service>:<Operation>` whose SDK command the code reachable from
 * `entries` (task bodies, relative to the repository) imports.
 */
export function codeOperations(entries: readonly string[]): Set<string> {
	const operations = new Set<string>();
	for (const imports of reachableFrom(entries.map((entry) => join(REPO, entry))).values()) {
		for (const [name, imported] of imports.names) {
			const client = name.match(/^@aws-sdk\/client-([a-z0-9-]+)$/)?.[1];
			if (client === undefined) continue;
			const service = IAM_PREFIX[client] ?? client;
			for (const command of imported) {
				const operation = command.match(/^(\w+)Command$/)?.[1];
				if (operation) operations.add(`${service}:${operation}`);
			}
		}
	}
	return operations;
}

/** The inline policy statements of the stack's role of this construct id (GitHub roles need githubRepository). */
export function roleStatements(id: GitHubRole): Statement[] {
	const previous = process.env.CDK_VALIDATION;
	process.env.CDK_VALIDATION = "false";
	try {
		const { stack } = buildApp(new App({ context: { githubRepository: "o/r" } }));
		const roles = Template.fromStack(stack).findResources("AWS::IAM::Role");
		const [role] = Object.entries(roles).filter(([logicalId]) =>
			logicalId.startsWith(`GitHub${id}`),
		);
		if (role === undefined) throw new Error(`no role ${id} in the template`);
		return role[1].Properties.Policies.flatMap(
			(policy: { PolicyDocument: { Statement: Statement[] } }) => policy.PolicyDocument.Statement,
		) as Statement[];
	} finally {
		if (previous === undefined) delete process.env.CDK_VALIDATION;
		else process.env.CDK_VALIDATION = previous;
	}
}

/** The actions the stack's role of this construct id grants. */
export function roleActions(id: GitHubRole): Set<string> {
	return new Set(roleStatements(id).flatMap((statement) => statement.Action));
}

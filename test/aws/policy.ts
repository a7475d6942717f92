/**
 * The two sides of the publish role's least privilege: the AWS operations the
 * publishing and releasing code can send (the SDK commands it imports), and the actions
 * the synthesized role allows.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { buildApp } from "../../infra/app.ts";
import { REPO } from "../fixtures/projects.ts";

/** Where the publishing code lives: what the publish role runs. */
const PUBLISHING_CODE = [
	"infra/sdk",
	"infra/account",
	"infra/publish",
	"infra/release",
	"tasks/publish",
	"tasks/release",
	"tasks/aws",
	"tasks/publish.ts",
	"tasks/release.ts",
];

/** Actions a role needs that are no operation of their own, each with why. */
export const IMPLIED_ACTIONS: Record<string, string> = {
	"iam:PassRole": "DistributeImage hands Image Builder the stack's distribution role.",
	"imagebuilder:GetDistributionConfiguration":
		"A dependent action of DistributeImage: Image Builder reads the configuration as the caller.",
	"imagebuilder:TagResource":
		"The tags given to DistributeImage are put on its image under this permission.",
	"sts:GetServiceBearerToken": "ECR Public's GetAuthorizationToken requires it.",
	...Object.fromEntries(
		[
			"BatchCheckLayerAvailability",
			"InitiateLayerUpload",
			"UploadLayerPart",
			"CompleteLayerUpload",
			"PutImage",
		].map((action) => [
			`ecr-public:${action}`,
			"skopeo's push through the registry API is authorized as this action.",
		]),
	),
};

function sourceFiles(path: string): string[] {
	const full = join(REPO, path);
	if (full.endsWith(".ts")) return [full];
	return readdirSync(full, { recursive: true, withFileTypes: true })
		.filter(
			(entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"),
		)
		.map((entry) => join(entry.parentPath, entry.name));
}

/** Every `<service>:<Operation>` whose SDK command the publishing code imports. */
export function codeOperations(): Set<string> {
	const operations = new Set<string>();
	const imports = /import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/client-([a-z0-9-]+)"/g;
	for (const file of PUBLISHING_CODE.flatMap(sourceFiles)) {
		for (const [, names = "", service] of readFileSync(file, "utf8").matchAll(imports)) {
			for (const name of names.split(",").map((n) => n.trim())) {
				const command = name.match(/^(\w+)Command$/)?.[1];
				if (command) operations.add(`${service}:${command}`);
			}
		}
	}
	return operations;
}

/** The actions the stack's role of this construct id grants (GitHub roles need githubRepository). */
export function roleActions(id: "PublishRole" | "DeployRole"): Set<string> {
	const previous = process.env.CDK_VALIDATION;
	process.env.CDK_VALIDATION = "false";
	try {
		const { stack } = buildApp(new App({ context: { githubRepository: "o/r" } }));
		const roles = Template.fromStack(stack).findResources("AWS::IAM::Role");
		const [role] = Object.entries(roles).filter(([logicalId]) =>
			logicalId.startsWith(`GitHub${id}`),
		);
		if (role === undefined) throw new Error(`no role ${id} in the template`);
		const statements = role[1].Properties.Policies.flatMap(
			(policy: { PolicyDocument: { Statement: { Action: string | string[] }[] } }) =>
				policy.PolicyDocument.Statement,
		) as { Action: string | string[] }[];
		return new Set(statements.flatMap((statement) => statement.Action));
	} finally {
		if (previous === undefined) delete process.env.CDK_VALIDATION;
		else process.env.CDK_VALIDATION = previous;
	}
}

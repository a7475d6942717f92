/**
 * The synthesized template, resource by resource. CloudFormation validation
 * is off here for speed (it runs in the cdk-nag tests below and in `synth`).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { AccountRootPrincipal, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import { buildApp } from "./app.ts";
import { defaultRegions } from "./regions.ts";

/** The systems, as nix/systems.json lists them. */
const SYSTEMS = JSON.parse(
	readFileSync(join(import.meta.dir, "../nix/systems.json"), "utf8"),
) as string[];

const outdirs: string[] = [];
afterAll(() => {
	for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function synthesize(context: Record<string, unknown> = {}, validation = false) {
	const outdir = mkdtempSync(join(tmpdir(), "nix-images-cdk-"));
	outdirs.push(outdir);
	const previous = process.env.CDK_VALIDATION;
	process.env.CDK_VALIDATION = validation ? "true" : "false";
	try {
		const { app, stack } = buildApp(new App({ outdir, context }));
		return { app, stack, outdir, template: () => Template.fromStack(stack) };
	} finally {
		if (previous === undefined) delete process.env.CDK_VALIDATION;
		else process.env.CDK_VALIDATION = previous;
	}
}

const withGitHub = synthesize({ githubRepository: "commiterate/nix-images" });
const template = withGitHub.template();
const imageBuilderTrust = {
	Statement: [
		{
			Action: "sts:AssumeRole",
			Effect: "Allow",
			Principal: { Service: "imagebuilder.amazonaws.com" },
			Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
		},
	],
};

describe("the stack", () => {
	test("lives in us-east-1 and needs no bootstrap: no assets, no bootstrap version check", () => {
		expect(withGitHub.stack.region).toBe("us-east-1");
		const json = template.toJSON();
		expect(json.Parameters?.BootstrapVersion).toBeUndefined();
		expect(json.Rules?.CheckBootstrapVersion).toBeUndefined();
		expect(readdirSync(withGitHub.outdir).filter((file) => file.endsWith(".assets.json"))).toEqual(
			[],
		);
	});
});

describe("the ECR Public repository", () => {
	test("is named nix, kept on stack deletion, with catalog data for both architectures", () => {
		template.hasResource("AWS::ECR::PublicRepository", {
			DeletionPolicy: "Retain",
			UpdateReplacePolicy: "Retain",
			Properties: {
				RepositoryName: "nix",
				RepositoryCatalogData: {
					RepositoryDescription: Match.stringLikeRegexp("Nix"),
					AboutText: Match.stringLikeRegexp("Nix in a container"),
					UsageText: Match.stringLikeRegexp("docker run"),
					Architectures: ["ARM 64", "x86-64"],
					OperatingSystems: ["Linux"],
				},
			},
		});
	});
});

describe("the distribution configuration", () => {
	type Distribution = {
		Region: string;
		AmiDistributionConfiguration: Record<string, unknown>;
		SsmParameterConfigurations: object[];
	};
	const configurations = () =>
		Object.values(template.findResources("AWS::ImageBuilder::DistributionConfiguration")).map(
			(resource) => resource.Properties as { Name: string; Distributions: Distribution[] },
		);
	const distributions = () => configurations()[0]?.Distributions as Distribution[];

	test("has one configuration per system of nix/systems.json", () => {
		expect(configurations().map((c) => c.Name)).toEqual(
			SYSTEMS.map((system) => `production-nixos-${system}`),
		);
	});
	test("writes each system's AMI id to its own SSM parameter in every region", () => {
		for (const [index, system] of SYSTEMS.entries()) {
			const list = configurations()[index]?.Distributions ?? [];
			expect(list).toHaveLength(17);
			for (const distribution of list) {
				expect(distribution.SsmParameterConfigurations).toEqual([
					{
						ParameterName: `/nix-images/Production/nixos/${system}/latest`,
						DataType: "aws:ec2:image",
					},
				]);
			}
		}
		expect(JSON.parse(template.toJSON().Outputs.AmiParameterNames.Value)).toEqual(
			Object.fromEntries(
				SYSTEMS.map((system) => [system, `/nix-images/Production/nixos/${system}/latest`]),
			),
		);
	});
	test("lets its role write only those parameters, in any region", () => {
		const role = Object.values(template.findResources("AWS::IAM::Role")).find(
			(r) => r.Properties.Policies?.[0]?.PolicyName === "Distribute",
		);
		const statements = role?.Properties.Policies[0].PolicyDocument.Statement as {
			Sid: string;
			Action: string | string[];
			Resource: unknown;
		}[];
		const ssm = statements.filter((statement) => JSON.stringify(statement.Action).includes("ssm:"));
		expect(ssm.map((statement) => [statement.Sid, statement.Action])).toEqual([
			["WriteTheAmiParameters", "ssm:PutParameter"],
		]);
		expect(JSON.stringify(ssm[0]?.Resource)).toBe(
			JSON.stringify(
				SYSTEMS.map((system) => ({
					"Fn::Join": [
						"",
						[
							"arn:",
							{ Ref: "AWS::Partition" },
							":ssm:*:",
							{ Ref: "AWS::AccountId" },
							`:parameter/nix-images/Production/nixos/${system}/latest`,
						],
					],
				})),
			),
		);
	});

	test("has one AMI distribution per default region: 17, no opt-in region, no duplicate", () => {
		const regions = distributions().map((d) => d.Region);
		expect(regions).toHaveLength(17);
		expect(new Set(regions).size).toBe(17);
		expect(regions).toEqual(defaultRegions());
		for (const optIn of ["af-south-1", "ap-east-1", "eu-south-1", "me-south-1", "il-central-1"]) {
			expect(regions).not.toContain(optIn);
		}
	});
	test("makes the AMIs public and tags them for their system's lifecycle policy", () => {
		for (const system of SYSTEMS) {
			const [configuration] = Object.values(
				template.findResources("AWS::ImageBuilder::DistributionConfiguration", {
					Properties: { Name: `production-nixos-${system}` },
				}),
			);
			for (const distribution of configuration?.Properties.Distributions ?? []) {
				expect(distribution.AmiDistributionConfiguration).toEqual({
					Description: "NixOS for Amazon EC2, built by nix-images",
					AmiTags: { ManagedBy: "nix-images", "nix-images:lifecycle": `Production-${system}` },
					LaunchPermissionConfiguration: { UserGroups: ["all"] },
				});
			}
		}
	});
	test("follows the regions and publicAmis context", () => {
		const custom = synthesize({
			regions: ["eu-west-1", "us-east-1"],
			publicAmis: false,
		}).template();
		const [configuration] = Object.values(
			custom.findResources("AWS::ImageBuilder::DistributionConfiguration"),
		);
		const list = configuration?.Properties.Distributions as {
			Region: string;
			AmiDistributionConfiguration: object;
		}[];
		expect(list.map((d) => d.Region)).toEqual(["eu-west-1", "us-east-1"]);
		for (const d of list)
			expect(d.AmiDistributionConfiguration).not.toHaveProperty("LaunchPermissionConfiguration");
	});
	test("its execution role is trusted by Image Builder only, for this account, and may only distribute", () => {
		template.hasResourceProperties("AWS::IAM::Role", {
			Description: Match.stringLikeRegexp("distribute nix-images AMIs"),
			AssumeRolePolicyDocument: imageBuilderTrust,
			Policies: [
				{
					PolicyName: "Distribute",
					PolicyDocument: {
						Statement: Match.arrayWith([
							Match.objectLike({ Sid: "CopyManagedImages", Action: "ec2:CopyImage" }),
							Match.objectLike({
								Sid: "ShareCopies",
								Action: "ec2:ModifyImageAttribute",
								Condition: { StringEquals: { "aws:ResourceTag/CreatedBy": "EC2 Image Builder" } },
							}),
						]),
					},
				},
			],
		});
		const role = Object.values(template.findResources("AWS::IAM::Role")).find((r) =>
			String(r.Properties.Description).includes("distribute"),
		);
		const actions = (
			(role?.Properties.Policies[0].PolicyDocument.Statement ?? []) as {
				Action: string | string[];
			}[]
		).flatMap((s) => s.Action);
		expect(actions.filter((a) => a.endsWith("*"))).toEqual([]);
		expect(actions).not.toContain("ec2:DeregisterImage");
	});
});

describe("the lifecycle policy", () => {
	test("one per system, each selecting its own system's tag: keeps 2 and deletes AMIs and snapshots older than 90 days", () => {
		template.resourceCountIs("AWS::ImageBuilder::LifecyclePolicy", SYSTEMS.length);
		for (const system of SYSTEMS) {
			template.hasResourceProperties("AWS::ImageBuilder::LifecyclePolicy", {
				Name: `production-nixos-${system}`,
				ResourceType: "AMI_IMAGE",
				Status: "ENABLED",
				ResourceSelection: { TagMap: { "nix-images:lifecycle": `Production-${system}` } },
				PolicyDetails: [
					{
						Action: { Type: "DELETE", IncludeResources: { Amis: true, Snapshots: true } },
						Filter: { Type: "AGE", Value: 90, Unit: "DAYS", RetainAtLeast: 2 },
					},
				],
			});
		}
	});
	test("runs as a role trusted by Image Builder (not EC2) with the lifecycle service policy", () => {
		template.hasResourceProperties("AWS::IAM::Role", {
			Description: Match.stringLikeRegexp("lifecycle policy"),
			AssumeRolePolicyDocument: imageBuilderTrust,
			ManagedPolicyArns: [
				{
					"Fn::Join": [
						"",
						[
							"arn:",
							{ Ref: "AWS::Partition" },
							":iam::aws:policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy",
						],
					],
				},
			],
		});
		const trusted = JSON.stringify(template.findResources("AWS::IAM::Role"));
		expect(trusted).not.toContain("ec2.amazonaws.com");
	});
	test("follows lifecycleKeep and lifecycleMaxAgeDays", () => {
		synthesize({ lifecycleKeep: 5, lifecycleMaxAgeDays: 30 })
			.template()
			.hasResourceProperties("AWS::ImageBuilder::LifecyclePolicy", {
				PolicyDetails: [
					Match.objectLike({ Filter: { Type: "AGE", Value: 30, Unit: "DAYS", RetainAtLeast: 5 } }),
				],
			});
	});
});

describe("GitHub Actions access", () => {
	const trust = (environment: string) => ({
		Statement: [
			{
				Action: "sts:AssumeRoleWithWebIdentity",
				Effect: "Allow",
				Principal: { Federated: Match.anyValue() },
				Condition: {
					StringEquals: {
						"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
						"token.actions.githubusercontent.com:sub": `repo:commiterate/nix-images:environment:${environment}`,
					},
				},
			},
		],
	});
	test("creates the OIDC provider, kept on stack deletion", () => {
		template.hasResource("AWS::IAM::OIDCProvider", {
			DeletionPolicy: "Retain",
			Properties: {
				Url: "https://token.actions.githubusercontent.com",
				ClientIdList: ["sts.amazonaws.com"],
			},
		});
	});
	test("trusts the deploy, publish, release and verify roles each to its own environment of the repository", () => {
		for (const [name, environment] of [
			["DeployStack", "Production"],
			["Publish", "Images"],
			["Release", "Release"],
			["Verify", "Verify"],
		] as const) {
			template.hasResourceProperties("AWS::IAM::Role", {
				AssumeRolePolicyDocument: trust(environment),
				Policies: [Match.objectLike({ PolicyName: name })],
			});
		}
	});
	test("lets the publish role write, delete and deprecate only snapshots and AMIs tagged as its own", () => {
		template.hasResourceProperties("AWS::IAM::Role", {
			Policies: [
				{
					PolicyName: "Publish",
					PolicyDocument: {
						Statement: Match.arrayWith([
							Match.objectLike({
								Sid: "StartTaggedSnapshots",
								Action: "ebs:StartSnapshot",
								Condition: { StringEquals: { "aws:RequestTag/ManagedBy": "nix-images" } },
							}),
							Match.objectLike({
								Sid: "DeleteOwnIncompleteSnapshots",
								Action: "ec2:DeleteSnapshot",
								Condition: { StringEquals: { "aws:ResourceTag/ManagedBy": "nix-images" } },
							}),
							Match.objectLike({
								Sid: "DeprecateOwnImages",
								Action: "ec2:EnableImageDeprecation",
								Condition: { StringEquals: { "aws:ResourceTag/ManagedBy": "nix-images" } },
							}),
						]),
					},
				},
			],
		});
	});
	test("lets the publish role distribute, share, boot and move nothing: only the release role may", () => {
		const actions = (policyName: string) =>
			Object.values(template.findResources("AWS::IAM::Role"))
				.flatMap((role) => role.Properties.Policies ?? [])
				.filter((policy: { PolicyName: string }) => policy.PolicyName === policyName)
				.flatMap(
					(policy: { PolicyDocument: { Statement: { Action: string | string[] }[] } }) =>
						policy.PolicyDocument.Statement,
				)
				.flatMap((statement) => [statement.Action].flat());
		const releasing = [
			"imagebuilder:DistributeImage",
			"imagebuilder:RetryImage",
			"iam:PassRole",
			"ec2:RunInstances",
			"ec2:ModifyImageAttribute",
		];
		expect(actions("Publish").filter((action) => releasing.includes(action))).toEqual([]);
		// (Image Builder's distribution role shares the copies; the release role's
		// ModifyImageAttribute is retention's, removing the public permission before deregistering.)
		expect(releasing.filter((action) => !actions("Release").includes(action))).toEqual([]);
		// The release role uploads and registers nothing.
		expect(
			actions("Release").filter((action) =>
				["ebs:StartSnapshot", "ebs:PutSnapshotBlock", "ec2:RegisterImage"].includes(action),
			),
		).toEqual([]);
	});
	test("lets release retire, delete and tag only what carries ManagedBy=nix-images, in every region", () => {
		const statements = Object.values(template.findResources("AWS::IAM::Role"))
			.flatMap((role) => role.Properties.Policies ?? [])
			.filter((policy: { PolicyName: string }) => policy.PolicyName === "Release")
			.flatMap(
				(policy: { PolicyDocument: { Statement: object[] } }) => policy.PolicyDocument.Statement,
			) as { Sid?: string; Action: string | string[]; Condition?: object; Resource: unknown }[];
		const deleting = ["ec2:ModifyImageAttribute", "ec2:DeregisterImage", "ec2:DeleteSnapshot"];
		const withDeletes = statements.filter((statement) =>
			[statement.Action].flat().some((action) => deleting.includes(action)),
		);
		expect(withDeletes.map((statement) => statement.Sid).sort()).toEqual([
			"DeleteOwnSnapshotsEverywhere",
			"RetireOwnImagesEverywhere",
		]);
		for (const statement of withDeletes) {
			expect(statement.Condition).toEqual({
				StringEquals: { "aws:ResourceTag/ManagedBy": "nix-images" },
			});
		}
		const tagging = statements.find((statement) => statement.Sid === "TagCopiesSnapshots");
		expect(tagging?.Condition).toEqual({
			StringEquals: { "aws:RequestTag/ManagedBy": "nix-images" },
			StringEqualsIfExists: { "aws:ResourceTag/ManagedBy": "nix-images" },
			"ForAllValues:StringEquals": { "aws:TagKeys": ["ManagedBy", "BuildId", "System"] },
		});
		expect(JSON.stringify(tagging?.Resource)).toContain(":ec2:*::snapshot/*");
	});
	test("lets release boot only t3.nano and t4g.nano with IMDSv2 from its own AMIs, and watch and end only its tagged instances", () => {
		const statements = Object.values(template.findResources("AWS::IAM::Role"))
			.flatMap((role) => role.Properties.Policies ?? [])
			.filter((policy: { PolicyName: string }) => policy.PolicyName === "Release")
			.flatMap(
				(policy: { PolicyDocument: { Statement: object[] } }) => policy.PolicyDocument.Statement,
			);
		const bySid = (sid: string) =>
			statements.find((statement) => (statement as { Sid?: string }).Sid === sid) as
				| { Action: string | string[]; Condition?: object }
				| undefined;
		expect(bySid("LaunchSmokeTestInstances")?.Condition).toEqual({
			StringEquals: {
				"aws:RequestTag/ManagedBy": "nix-images",
				"aws:RequestTag/Purpose": "smoke-test",
				"ec2:InstanceType": ["t3.nano", "t4g.nano"],
				"ec2:MetadataHttpTokens": "required",
			},
		});
		expect(bySid("LaunchOwnImages")?.Condition).toEqual({
			StringEquals: { "aws:ResourceTag/ManagedBy": "nix-images" },
		});
		expect(bySid("WatchAndEndSmokeTestInstances")?.Condition).toEqual({
			StringEquals: {
				"aws:ResourceTag/ManagedBy": "nix-images",
				"aws:ResourceTag/Purpose": "smoke-test",
			},
		});
		expect(bySid("RecordReleaseStepsOnOwnImages")?.Condition).toEqual({
			StringEquals: { "aws:ResourceTag/ManagedBy": "nix-images" },
			"ForAllValues:StringEquals": {
				"aws:TagKeys": [
					"SmokeTest",
					"SmokeTestAttempt",
					"ImageBuilderImage",
					"ImageBuilderRetries",
				],
			},
		});
		// The image's SHA-256 onto the copies, in every region: that key alone, only on AMIs of ours.
		expect(bySid("TagOwnCopiesWithTheImageSha256")).toMatchObject({
			Action: "ec2:CreateTags",
			Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":ec2:*::image/*"]] },
			Condition: {
				StringEquals: { "aws:ResourceTag/ManagedBy": "nix-images" },
				"ForAllValues:StringEquals": { "aws:TagKeys": ["ImageSha256"] },
				// Never on a source AMI (tagged BuildId by publish), whose tag release trusts.
				Null: { "aws:TagKeys": "false", "aws:ResourceTag/BuildId": "true" },
			},
		});
		// No other statement of release's lets it set ImageSha256 (nor any key on a copy).
		const imageTagging = statements.filter((statement) => {
			const s = statement as { Action: string | string[]; Resource: unknown };
			return (
				[s.Action].flat().includes("ec2:CreateTags") &&
				JSON.stringify(s.Resource).includes(":image/")
			);
		}) as { Sid: string; Condition: Record<string, Record<string, string[]>> }[];
		expect(imageTagging.map((statement) => statement.Sid).sort()).toEqual([
			"RecordReleaseStepsOnOwnImages",
			"TagOwnCopiesWithTheImageSha256",
		]);
		expect(
			imageTagging.flatMap(
				(statement) =>
					statement.Condition["ForAllValues:StringEquals"]?.["aws:TagKeys"] ?? ["(any)"],
			),
		).not.toContain("(any)");
		expect(bySid("PassTheDistributionRole")?.Condition).toEqual({
			StringEquals: { "iam:PassedToService": "imagebuilder.amazonaws.com" },
		});
		// Every RunInstances statement is narrowed, except the network's, which launches nothing alone.
		const launches = statements.filter((statement) =>
			[(statement as { Action: string | string[] }).Action].flat().includes("ec2:RunInstances"),
		) as { Sid: string; Condition?: object }[];
		expect(
			launches.filter((statement) => statement.Condition === undefined).map((s) => s.Sid),
		).toEqual(["LaunchInTheSmokeTestNetwork"]);
	});
	test("lets publish tag snapshots and AMIs only as it creates them, with its keys only (the image's SHA-256 on the AMI alone), and get bearer tokens only for ECR Public", () => {
		const statements = (policyName: string, t = template) =>
			Object.values(t.findResources("AWS::IAM::Role"))
				.flatMap((role) => role.Properties.Policies ?? [])
				.filter((policy: { PolicyName: string }) => policy.PolicyName === policyName)
				.flatMap(
					(policy: {
						PolicyDocument: {
							Statement: { Sid: string; Action: string | string[]; Condition?: object }[];
						};
					}) => policy.PolicyDocument.Statement,
				);
		const publish = statements("Publish");
		const keys = ["Name", "ManagedBy", "BuildId", "System", "CreatedBy", "nix-images:lifecycle"];
		const tagging = publish.filter((statement) =>
			[statement.Action].flat().includes("ec2:CreateTags"),
		) as unknown as { Sid: string; Condition?: object; Resource: unknown }[];
		expect(tagging.map((statement) => statement.Sid)).toEqual([
			"TagSnapshotsOnStart",
			"TagImagesOnRegister",
		]);
		expect(tagging[0]?.Condition).toEqual({
			StringEquals: {
				"aws:RequestTag/ManagedBy": "nix-images",
				"ec2:CreateAction": "StartSnapshot",
			},
			"ForAllValues:StringEquals": { "aws:TagKeys": keys },
		});
		expect(JSON.stringify(tagging[0]?.Resource)).toContain("::snapshot/*");
		expect(tagging[1]?.Condition).toEqual({
			StringEquals: {
				"aws:RequestTag/ManagedBy": "nix-images",
				"ec2:CreateAction": "RegisterImage",
			},
			"ForAllValues:StringEquals": { "aws:TagKeys": [...keys, "ImageSha256"] },
		});
		expect(JSON.stringify(tagging[1]?.Resource)).toContain("::image/*");
		expect(
			publish.find((statement) => statement.Sid === "BearerTokensForEcrPublicOnly"),
		).toMatchObject({
			Action: "sts:GetServiceBearerToken",
			Condition: { StringEquals: { "sts:AWSServiceName": "ecr-public.amazonaws.com" } },
		});
		// The deploy role never deletes the repository (kept on stack deletion), and leaves an OIDC
		// provider the stack did not make alone.
		const deploy = statements("DeployStack");
		expect(JSON.stringify(deploy)).not.toContain("ecr-public:DeleteRepository");
		expect(deploy.map((statement) => statement.Sid)).toContain("ManageTheOidcProvider");
		const existing = synthesize({
			githubRepository: "o/r",
			githubOidcProviderArn:
				"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
		}).template();
		expect(statements("DeployStack", existing).map((statement) => statement.Sid)).not.toContain(
			"ManageTheOidcProvider",
		);
	});
	describe("the verify role", () => {
		type Statement = {
			Sid: string;
			Action: string | string[];
			Resource: unknown;
			Condition?: object;
		};
		const verifyRole = (t = template) => {
			const roles = Object.entries(t.findResources("AWS::IAM::Role")).filter(([logicalId]) =>
				logicalId.startsWith("GitHubVerifyRole"),
			);
			expect(roles).toHaveLength(1);
			return roles[0]?.[1].Properties as {
				AssumeRolePolicyDocument: object;
				MaxSessionDuration: number;
				ManagedPolicyArns?: unknown;
				Policies: { PolicyName: string; PolicyDocument: { Statement: Statement[] } }[];
			};
		};
		const statements = (t = template) =>
			verifyRole(t).Policies.flatMap((policy) => policy.PolicyDocument.Statement);
		/** An ARN the template joins from the partition (and the account where it has one). */
		const joined = (...parts: unknown[]) => ({ "Fn::Join": ["", parts] });
		const partition = { Ref: "AWS::Partition" };
		const account = { Ref: "AWS::AccountId" };

		test("is trusted by the verify environment alone, for at most an hour, with one inline policy", () => {
			// The whole trust policy, so that no second statement or looser condition slips in.
			const trusted = (environment: string, t = template) => ({
				Version: "2012-10-17",
				Statement: [
					{
						Action: "sts:AssumeRoleWithWebIdentity",
						Effect: "Allow",
						Principal: {
							Federated: { Ref: Object.keys(t.findResources("AWS::IAM::OIDCProvider"))[0] },
						},
						Condition: {
							StringEquals: {
								"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
								"token.actions.githubusercontent.com:sub": `repo:commiterate/nix-images:environment:${environment}`,
							},
						},
					},
				],
			});
			const role = verifyRole();
			expect(role.AssumeRolePolicyDocument).toEqual(trusted("Verify"));
			expect(role.MaxSessionDuration).toBe(3600);
			expect(role.ManagedPolicyArns).toBeUndefined();
			expect(role.Policies.map((policy) => policy.PolicyName)).toEqual(["Verify"]);
			const renamed = synthesize({
				githubRepository: "commiterate/nix-images",
				githubVerifyEnvironment: "Audit",
			}).template();
			expect(verifyRole(renamed).AssumeRolePolicyDocument).toEqual(trusted("Audit", renamed));
		});
		test("holds exactly what verify reads, each on its resources", () => {
			expect(
				statements().map(({ Sid, Action, Resource, Condition }) => ({
					Sid,
					Action,
					Resource,
					...(Condition ? { Condition } : {}),
				})),
			).toEqual([
				{
					Sid: "ReadImagesAndPublicSharing",
					Action: [
						"ec2:DescribeImages",
						"ec2:DescribeSnapshots",
						"ec2:GetImageBlockPublicAccessState",
					],
					Resource: "*",
				},
				{
					Sid: "ReadTheAmiParametersEverywhere",
					Action: "ssm:GetParametersByPath",
					Resource: ["/nix-images/Production", "/nix-images/Production/*"].map((path) =>
						joined("arn:", partition, ":ssm:*:", account, `:parameter${path}`),
					),
				},
				{
					Sid: "ReadOwnSnapshotBlocks",
					Action: ["ebs:ListSnapshotBlocks", "ebs:GetSnapshotBlock"],
					Resource: joined("arn:", partition, ":ec2:us-east-1::snapshot/*"),
					Condition: { StringEquals: { "aws:ResourceTag/ManagedBy": "nix-images" } },
				},
				{
					Sid: "SignInToEcrPublic",
					Action: "ecr-public:GetAuthorizationToken",
					Resource: "*",
				},
				{
					Sid: "BearerTokensForEcrPublicOnly",
					Action: "sts:GetServiceBearerToken",
					Resource: "*",
					Condition: { StringEquals: { "sts:AWSServiceName": "ecr-public.amazonaws.com" } },
				},
				{
					Sid: "DescribeTheRepository",
					Action: "ecr-public:DescribeRepositories",
					Resource: joined("arn:", partition, ":ecr-public::", account, ":repository/nix"),
				},
				{
					Sid: "ReadStackOutputs",
					Action: "cloudformation:DescribeStacks",
					Resource: joined(
						"arn:",
						partition,
						":cloudformation:us-east-1:",
						account,
						":stack/Production/*",
					),
				},
			]);
			for (const statement of statements()) expect(statement).toMatchObject({ Effect: "Allow" });
		});
		test("holds nothing that writes: every action describes, gets or lists, and none pushes", () => {
			const actions = statements().flatMap((statement) => [statement.Action].flat());
			expect(
				actions.filter((action) => !/^[a-z0-9-]+:(Describe|Get|List)[A-Z]/.test(action)),
			).toEqual([]);
			// The same login as the publish role's, without its push (DescribeRepositories alone is shared).
			const push = Object.values(template.findResources("AWS::IAM::Role"))
				.flatMap((role) => role.Properties.Policies ?? [])
				.flatMap(
					(policy: { PolicyDocument: { Statement: Statement[] } }) =>
						policy.PolicyDocument.Statement,
				)
				.find((statement: Statement) => statement.Sid === "PushToTheRepository") as Statement;
			const pushing = [push.Action]
				.flat()
				.filter((action) => action !== "ecr-public:DescribeRepositories");
			expect(pushing).toContain("ecr-public:PutImage");
			expect(actions.filter((action) => pushing.includes(action))).toEqual([]);
		});
		test("reads the AMI parameters under the stack's own path, which every parameter lies under", () => {
			const t = synthesize({ githubRepository: "o/r", stackName: "Staging" }).template();
			const names = Object.values(
				JSON.parse(t.toJSON().Outputs.AmiParameterNames.Value) as Record<string, string>,
			);
			expect(names.length).toBe(SYSTEMS.length);
			for (const name of names) expect(name.startsWith("/nix-images/Staging/")).toBe(true);
			const ssm = statements(t).find(
				(statement) => statement.Sid === "ReadTheAmiParametersEverywhere",
			);
			expect(JSON.stringify(ssm?.Resource)).toBe(
				JSON.stringify(
					["/nix-images/Staging", "/nix-images/Staging/*"].map((path) =>
						joined("arn:", partition, ":ssm:*:", account, `:parameter${path}`),
					),
				),
			);
			t.hasOutput("VerifyRoleArn", {
				Description:
					"Role for GitHub Actions to verify a release (the verify workflow): reads only",
			});
		});
	});
	test("with the smokeTestSubnet setting, launches only into that subnet, and says so in an output", () => {
		const subnet = "subnet-0123456789abcdef0";
		const t = synthesize({ githubRepository: "o/r", smokeTestSubnet: subnet }).template();
		t.hasOutput("SmokeTestSubnet", { Value: subnet });
		template.hasOutput("SmokeTestSubnet", { Value: "default" });
		const network = Object.values(t.findResources("AWS::IAM::Role"))
			.flatMap((role) => role.Properties.Policies ?? [])
			.flatMap(
				(policy: { PolicyDocument: { Statement: { Sid: string; Resource: unknown[] }[] } }) =>
					policy.PolicyDocument.Statement,
			)
			.find((statement) => statement.Sid === "LaunchInTheSmokeTestNetwork") ?? { Resource: [] };
		expect(JSON.stringify(network.Resource)).toContain(`:subnet/${subnet}`);
		expect(JSON.stringify(network.Resource)).not.toContain(":subnet/*");
	});
	test("uses an existing provider when given, and nothing GitHub without a repository", () => {
		const existing = synthesize({
			githubRepository: "o/r",
			githubOidcProviderArn:
				"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
		}).template();
		existing.resourceCountIs("AWS::IAM::OIDCProvider", 0);
		existing.hasOutput("GitHubOidcProviderArn", {
			Value: "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
		});
		const none = synthesize().template();
		none.resourceCountIs("AWS::IAM::OIDCProvider", 0);
		none.resourceCountIs("AWS::IAM::Role", 2);
		expect(Object.keys(none.findOutputs("*"))).not.toContain("PublishRoleArn");
		expect(Object.keys(none.findOutputs("*"))).not.toContain("VerifyRoleArn");
	});
});

describe("the outputs", () => {
	test("give publish and release everything they need", () => {
		expect(Object.keys(template.findOutputs("*")).sort()).toEqual([
			"AmiParameterNames",
			"DeployRoleArn",
			"DistributionConfigurationArns",
			"DistributionRegions",
			"DistributionRoleArn",
			"GitHubOidcProviderArn",
			"LifecycleKeep",
			"LifecycleMaxAgeDays",
			"LifecyclePolicyArns",
			"LifecycleTagKey",
			"LifecycleTagValues",
			"PublicAmis",
			"PublishRoleArn",
			"ReleaseRoleArn",
			"RepositoryArn",
			"RepositoryName",
			"SmokeTestSubnet",
			"VerifyRoleArn",
		]);
		template.hasOutput("DistributionRegions", { Value: defaultRegions().join(",") });
		template.hasOutput("LifecycleTagKey", { Value: "nix-images:lifecycle" });
		template.hasOutput("PublicAmis", { Value: "true" });
	});
});

describe("cdk-nag and CloudFormation validation", () => {
	test("find nothing unacknowledged, and every acknowledgement has a reason", () => {
		const { app } = synthesize({ githubRepository: "commiterate/nix-images" }, true);
		const assembly = app.synth();
		const report = JSON.parse(
			readFileSync(join(assembly.directory, "validation-report.json"), "utf8"),
		);
		const nag = report.pluginReports.find(
			(r: { pluginName: string }) => r.pluginName === "AwsSolutions",
		);
		expect(nag.violations).toEqual([]);
		expect(nag.suppressedViolations.length).toBeGreaterThan(0);
		for (const suppressed of nag.suppressedViolations)
			expect(suppressed.reason.length).toBeGreaterThan(20);
		const others = report.pluginReports.filter(
			(r: { pluginName: string }) => r.pluginName !== "AwsSolutions",
		);
		for (const other of others) expect(other.violations).toEqual([]);
	});
	test("fail synthesis on a wildcard nobody acknowledged", () => {
		const outdir = mkdtempSync(join(tmpdir(), "nix-images-cdk-"));
		outdirs.push(outdir);
		const { app, stack } = buildApp(new App({ outdir }));
		new Role(Stack.of(stack), "Careless", {
			assumedBy: new AccountRootPrincipal(),
		}).addToPolicy(new PolicyStatement({ actions: ["s3:GetObject"], resources: ["*"] }));
		expect(() => app.synth()).toThrow(
			/Production\/Careless\/DefaultPolicy\/Resource[\s\S]*AwsSolutions-IAM5\[Resource::\*\]/,
		);
	});
});

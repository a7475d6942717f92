import { BootstraplessSynthesizer, CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { AmiDistribution } from "./distribution.ts";
import { DeployRole } from "./github/deploy-role.ts";
import { GitHubOidc } from "./github/oidc.ts";
import { PublishRole } from "./github/publish-role.ts";
import { ReleaseRole } from "./github/release-role.ts";
import { VerifyRole } from "./github/verify-role.ts";
import { AmiLifecycle } from "./lifecycle.ts";
import { PublicRepository } from "./repository.ts";
import type { StackSettings } from "./settings.ts";
import {
	HOME_REGION,
	LIFECYCLE_TAG_KEY,
	lifecycleTagValue,
	SMOKE_TEST_DEFAULT_VPC,
	SYSTEM_ARCHITECTURES,
} from "./vocabulary.ts";

/**
 * The control plane: everything that must exist in AWS before images can be
 * published. No assets (bulk data goes through `publish` and `release`), so
 * the account needs no `cdk bootstrap`.
 */
export class ImagesStack extends Stack {
	constructor(scope: Construct, settings: StackSettings, props: StackProps = {}) {
		super(scope, settings.stackName, {
			...props,
			env: { region: HOME_REGION },
			synthesizer: new BootstraplessSynthesizer(),
			description:
				"nix-images: ECR Public repository, AMI distribution and lifecycle, GitHub OIDC roles",
		});
		const baseName = `${settings.stackName.toLowerCase()}-nixos`;
		const systems = Object.keys(SYSTEM_ARCHITECTURES);

		const repository = new PublicRepository(this, "Repository", {
			repositoryName: settings.repositoryName,
		});
		const distribution = new AmiDistribution(this, "Distribution", {
			name: baseName,
			stackName: settings.stackName,
			systems,
			regions: settings.regions,
			publicAmis: settings.publicAmis,
		});
		const lifecycle = new AmiLifecycle(this, "Lifecycle", {
			name: baseName,
			stackName: settings.stackName,
			systems,
			keep: settings.lifecycleKeep,
			maxAgeDays: settings.lifecycleMaxAgeDays,
		});

		const output = (id: string, value: string, description: string) =>
			new CfnOutput(this, id, { value, description });
		output(
			"RepositoryName",
			settings.repositoryName,
			"ECR Public repository of the container image",
		);
		output("RepositoryArn", repository.resource.attrArn, "ECR Public repository ARN");
		output(
			"DistributionConfigurationArns",
			this.toJsonString(
				Object.fromEntries(
					Object.entries(distribution.configurations).map(([system, c]) => [system, c.attrArn]),
				),
			),
			"Image Builder distribution configuration for DistributeImage, per system (JSON)",
		);
		output(
			"AmiParameterNames",
			JSON.stringify(distribution.parameterNames),
			"SSM parameter with the latest AMI id in every distribution region, per system (JSON)",
		);
		output(
			"DistributionRoleArn",
			distribution.executionRole.roleArn,
			"Execution role to pass to DistributeImage",
		);
		output(
			"DistributionRegions",
			settings.regions.join(","),
			"Regions the AMIs are distributed to",
		);
		output(
			"LifecyclePolicyArns",
			this.toJsonString(
				Object.fromEntries(
					Object.entries(lifecycle.policies).map(([system, policy]) => [system, policy.attrArn]),
				),
			),
			"Image Builder lifecycle policy of the AMIs, per system (JSON)",
		);
		output(
			"LifecycleKeep",
			String(settings.lifecycleKeep),
			"AMIs each system's lifecycle policy and bun task prune keep in each region",
		);
		output(
			"LifecycleMaxAgeDays",
			String(settings.lifecycleMaxAgeDays),
			"Age (days) after which the lifecycle policy deletes AMIs, and prune unreleased ones",
		);
		output(
			"PublicAmis",
			String(settings.publicAmis),
			"Whether distributed AMIs are public (then snapshots must be unencrypted)",
		);
		output(
			"SmokeTestSubnet",
			settings.smokeTestSubnet ?? SMOKE_TEST_DEFAULT_VPC,
			"Subnet of the release's smoke test (default: the default VPC's, in a zone offering the instance type)",
		);
		output("LifecycleTagKey", LIFECYCLE_TAG_KEY, "Tag key publish sets on distributed images");
		output(
			"LifecycleTagValues",
			JSON.stringify(
				Object.fromEntries(
					systems.map((system) => [system, lifecycleTagValue(settings.stackName, system)]),
				),
			),
			"Tag value publish and the distribution set on each system's AMIs (JSON)",
		);

		if (settings.githubRepository !== undefined) {
			const github = new GitHubOidc(this, "GitHub", {
				repository: settings.githubRepository,
				...(settings.githubOidcProviderArn
					? { existingProviderArn: settings.githubOidcProviderArn }
					: {}),
			});
			const deployRole = new DeployRole(github, "DeployRole", {
				github,
				environment: settings.githubEnvironment,
				repository,
				distribution,
				lifecycle,
			});
			const publishRole = new PublishRole(github, "PublishRole", {
				github,
				environment: settings.githubPublishEnvironment,
				repository,
			});
			const releaseRole = new ReleaseRole(github, "ReleaseRole", {
				github,
				environment: settings.githubReleaseEnvironment,
				repository,
				distribution,
				...(settings.smokeTestSubnet ? { smokeTestSubnet: settings.smokeTestSubnet } : {}),
			});
			const verifyRole = new VerifyRole(github, "VerifyRole", {
				github,
				environment: settings.githubVerifyEnvironment,
				repository,
				distribution,
			});
			output(
				"GitHubOidcProviderArn",
				github.provider.oidcProviderArn,
				"GitHub Actions OIDC provider",
			);
			output("DeployRoleArn", deployRole.roleArn, "Role for GitHub Actions to deploy this stack");
			output(
				"PublishRoleArn",
				publishRole.roleArn,
				"Role for GitHub Actions to publish images privately (the images jobs)",
			);
			output(
				"ReleaseRoleArn",
				releaseRole.roleArn,
				"Role for GitHub Actions to release published images (the release job)",
			);
			output(
				"VerifyRoleArn",
				verifyRole.roleArn,
				"Role for GitHub Actions to verify a release (the verify workflow): reads only",
			);
		}
	}
}

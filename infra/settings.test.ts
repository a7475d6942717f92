import { describe, expect, test } from "bun:test";
import { defaultRegions } from "./regions.ts";
import { type ContextKey, DEFAULT_SETTINGS, readSettings, SettingsError } from "./settings.ts";

const read = (context: Partial<Record<ContextKey, unknown>>) => readSettings((key) => context[key]);

function rejects(context: Partial<Record<ContextKey, unknown>>): string {
	try {
		read(context);
	} catch (error) {
		expect(error).toBeInstanceOf(SettingsError);
		return (error as Error).message;
	}
	throw new Error(`expected ${JSON.stringify(context)} to be rejected`);
}

describe("default regions", () => {
	test("are the 17 regions of the aws partition that need no opt-in", () => {
		expect(defaultRegions()).toEqual([
			"ap-northeast-1",
			"ap-northeast-2",
			"ap-northeast-3",
			"ap-south-1",
			"ap-southeast-1",
			"ap-southeast-2",
			"ca-central-1",
			"eu-central-1",
			"eu-north-1",
			"eu-west-1",
			"eu-west-2",
			"eu-west-3",
			"sa-east-1",
			"us-east-1",
			"us-east-2",
			"us-west-1",
			"us-west-2",
		]);
	});
});

describe("readSettings", () => {
	test("has defaults for everything but the GitHub repository", () => {
		expect(read({})).toEqual({
			stackName: "Production",
			repositoryName: "nix",
			regions: defaultRegions(),
			publicAmis: true,
			lifecycleKeep: 2,
			lifecycleMaxAgeDays: 90,
			githubEnvironment: "Production",
			githubPublishEnvironment: "Images",
			githubReleaseEnvironment: "Release",
			githubVerifyEnvironment: "Verify",
		});
	});
	test("accepts values as JSON types or as the strings --context passes", () => {
		expect(
			read({
				publicAmis: "false",
				lifecycleKeep: "5",
				lifecycleMaxAgeDays: 30,
				regions: "us-east-1, eu-west-1",
				githubRepository: "commiterate/nix-images",
				githubEnvironment: "Deploy",
				githubPublishEnvironment: "Publish",
				githubVerifyEnvironment: "Audit",
			}),
		).toMatchObject({
			publicAmis: false,
			lifecycleKeep: 5,
			lifecycleMaxAgeDays: 30,
			regions: ["us-east-1", "eu-west-1"],
			githubRepository: "commiterate/nix-images",
			githubEnvironment: "Deploy",
			githubPublishEnvironment: "Publish",
			githubVerifyEnvironment: "Audit",
		});
		expect(read({ regions: ["af-south-1"] }).regions).toEqual(["af-south-1"]);
	});
	test("names the key and the allowed values in one sentence", () => {
		expect(rejects({ lifecycleKeep: 0 })).toBe(
			`Invalid CDK context "lifecycleKeep": 0; use a whole number from 1 to 10, what the lifecycle policy's retainAtLeast allows (set it in cdk.json "context" or pass --context lifecycleKeep=…).`,
		);
		expect(rejects({ lifecycleMaxAgeDays: "ninety" })).toContain(
			'"lifecycleMaxAgeDays": "ninety"; use a whole number',
		);
		expect(rejects({ publicAmis: "yes" })).toContain('"publicAmis": "yes"; use true or false');
		expect(rejects({ githubPublishEnvironment: "Production" })).toBe(
			'Invalid CDK context "githubPublishEnvironment": "Production"; use another environment than githubEnvironment ("Production"), so that a job that publishes cannot assume the deploy role (set it in cdk.json "context" or pass --context githubPublishEnvironment=…).',
		);
		for (const taken of ["Production", "Images"]) {
			expect(rejects({ githubReleaseEnvironment: taken })).toContain(
				`"githubReleaseEnvironment": "${taken}"; use another environment than githubEnvironment ("Production") and githubPublishEnvironment ("Images"), so that a job that builds and publishes cannot assume the release role`,
			);
		}
		// Another role's environment would give the daily verify job a token that role trusts.
		for (const taken of ["Production", "Images", "Release"]) {
			expect(rejects({ githubVerifyEnvironment: taken })).toBe(
				`Invalid CDK context "githubVerifyEnvironment": "${taken}"; use another environment than githubEnvironment ("Production"), githubPublishEnvironment ("Images") and githubReleaseEnvironment ("Release"), so that a job that only verifies cannot assume a role that writes (set it in cdk.json "context" or pass --context githubVerifyEnvironment=…).`,
			);
		}
		expect(
			rejects({ githubReleaseEnvironment: "Ship", githubVerifyEnvironment: "Ship" }),
		).toContain('githubReleaseEnvironment ("Ship"), so that a job that only verifies');
		expect(rejects({ githubVerifyEnvironment: "my verify" })).toContain(
			'"githubVerifyEnvironment": "my verify"; use a GitHub environment name without spaces',
		);
		expect(rejects({ smokeTestSubnet: "vpc-1" })).toContain(
			'"smokeTestSubnet": "vpc-1"; use a subnet id of us-east-1',
		);
		expect(rejects({ stackName: "my stack" })).toContain(
			'"stackName": "my stack"; use a CloudFormation stack name',
		);
		expect(rejects({ repositoryName: "Nix" })).toContain(
			'"repositoryName": "Nix"; use an ECR repository name',
		);
		expect(rejects({ githubRepository: "nix-images" })).toContain(
			'use a GitHub repository as "owner/name"',
		);
		expect(rejects({ githubOidcProviderArn: "arn:aws:iam::1:oidc-provider/x" })).toContain(
			"token.actions.githubusercontent.com OIDC provider",
		);
	});
	test("limits lifecycleMaxAgeDays, publish's deprecation age, to what AWS allows: 2 years for public AMIs, 10 otherwise", () => {
		expect(read({ lifecycleMaxAgeDays: 730 }).lifecycleMaxAgeDays).toBe(730);
		expect(rejects({ lifecycleMaxAgeDays: 731 })).toContain(
			"use a whole number from 1 to 730, since AMIs are deprecated at this age and AWS deprecates public AMIs at most 2 years after their creation (set it",
		);
		expect(read({ lifecycleMaxAgeDays: 3650, publicAmis: false }).lifecycleMaxAgeDays).toBe(3650);
		expect(rejects({ lifecycleMaxAgeDays: 3651, publicAmis: false })).toContain(
			"use a whole number from 1 to 3650, since AMIs are deprecated at this age, at most 10 years ahead (set it",
		);
	});
	test("refuses unknown, repeated or no regions", () => {
		expect(rejects({ regions: ["us-east-1", "mars-north-1"] })).toContain(
			"(unknown: mars-north-1)",
		);
		expect(rejects({ regions: ["us-east-1", "us-east-1"] })).toContain("(repeated: us-east-1)");
		expect(rejects({ regions: [] })).toContain('"regions": []');
		expect(rejects({ regions: 3 })).toContain('"regions": 3');
	});
});

describe("defaults", () => {
	test("are stated once, in DEFAULT_SETTINGS: cdk.json sets none, and the manual's table (docs/control-plane.md) shows them", async () => {
		const root = `${import.meta.dir}/..`;
		const cdkJson = await Bun.file(`${root}/cdk.json`).json();
		expect(Object.keys(cdkJson.context ?? {}).filter((key) => key in DEFAULT_SETTINGS)).toEqual([]);
		expect(read({})).toMatchObject(DEFAULT_SETTINGS);
		const manual = await Bun.file(`${root}/docs/control-plane.md`).text();
		for (const [key, value] of Object.entries(DEFAULT_SETTINGS)) {
			expect(manual).toContain(`| \`${key}\``);
			expect(manual).toMatch(new RegExp(`\\| \`${key}\` +\\| \`${String(value)}\` +\\|`));
		}
	});
});

/** synth and deploy end to end, through `bun task` in a copy of the project, against the real CDK CLI. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bunTask, cleanEnv, FAKE_AWS, NO_AWS, projectCopy, tempDir } from "./helpers.ts";

const project = projectCopy();
afterAll(project.dispose);
const assembly = join(project.dir, "outputs/main/infrastructure");
const task = (args: string[], env: Record<string, string | undefined> = {}) =>
	bunTask(args, { cwd: project.dir, env: { ...NO_AWS, ...env } });

function tree(dir: string): Record<string, string> {
	return Object.fromEntries(
		readdirSync(dir)
			.sort()
			.map((file) => [file, readFileSync(join(dir, file), "utf8")]),
	);
}

describe("synth", () => {
	test("writes exactly what `cdk synth` writes, byte for byte", async () => {
		const run = await task(["synth", "--force"]);
		expect(run.stderr).toContain("synth: wrote outputs/main/infrastructure (stack Production).");
		expect(run.exitCode).toBe(0);
		const cliOut = tempDir("cdk-cli");
		const cli = Bun.spawnSync(
			[
				process.execPath,
				"node_modules/aws-cdk/bin/cdk",
				"synth",
				"--quiet",
				"--no-notices",
				"--output",
				cliOut,
			],
			{ cwd: project.dir, env: cleanEnv(NO_AWS), stderr: "pipe" },
		);
		expect(cli.exitCode, cli.stderr.toString()).toBe(0);
		expect(tree(assembly)).toEqual(tree(cliOut));
		expect(Object.keys(tree(assembly))).toEqual([
			"Production.metadata.json",
			"Production.template.json",
			"cdk.out",
			"manifest.json",
			"tree.json",
			"validation-report.json",
		]);
	}, 60_000);

	test("skips a synth that would change nothing, unless --force", async () => {
		const skipped = await task(["synth"]);
		expect(skipped.exitCode).toBe(0);
		expect(skipped.stderr).toContain(
			"is up to date (nothing it is made from changed); --force synthesizes anyway.",
		);
		expect(skipped.stderr).not.toContain("infra/app.ts");
	});

	test("context after -- reaches the app, and a change of context synthesizes again", async () => {
		const run = await task(["synth", "--", "--context", "regions=eu-west-1,us-east-1"]);
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toContain("synth: wrote");
		const template = JSON.parse(readFileSync(join(assembly, "Production.template.json"), "utf8"));
		const [configuration] = Object.values(template.Resources).filter(
			(r) => (r as { Type: string }).Type === "AWS::ImageBuilder::DistributionConfiguration",
		) as { Properties: { Distributions: { Region: string }[] } }[];
		expect(configuration?.Properties.Distributions.map((d) => d.Region)).toEqual([
			"eu-west-1",
			"us-east-1",
		]);
	}, 30_000);

	test("invalid context is one sentence naming the key, exit 2, before the app runs", async () => {
		const run = await task(["synth", "--", "-c", "lifecycleKeep=0"]);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain(
			`Invalid CDK context "lifecycleKeep": "0"; use a whole number from 1 to 10, what the lifecycle policy's retainAtLeast allows (set it in cdk.json "context" or pass --context lifecycleKeep=…).`,
		);
		expect(run.stderr).not.toContain("infra/app.ts");
		const other = await task(["synth", "--", "--all"]);
		expect(other.exitCode).toBe(2);
		expect(other.stderr).toContain(
			'Only --context key=value (or -c key=value) can follow -- here, not "--all".',
		);
	});

	test("an unacknowledged cdk-nag finding fails synth and keeps the previous assembly", async () => {
		const before = tree(assembly);
		const stackFile = join(project.dir, "infra/stack.ts");
		const original = readFileSync(stackFile, "utf8");
		writeFileSync(
			stackFile,
			original
				.replace(
					'import type { Construct } from "constructs";',
					'import type { Construct } from "constructs";\nimport { AccountRootPrincipal, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";',
				)
				.replace(
					"const baseName =",
					'new Role(this, "Careless", { assumedBy: new AccountRootPrincipal() }).addToPolicy(new PolicyStatement({ actions: ["s3:GetObject"], resources: ["*"] }));\n\t\tconst baseName =',
				),
		);
		const run = await task(["synth"]);
		writeFileSync(stackFile, original);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"cdk-nag or CloudFormation validation found 1 unacknowledged finding(s)",
		);
		expect(run.stderr).toContain(
			"AwsSolutions-IAM5[Resource::*] (error) on Production/Careless/DefaultPolicy/Resource",
		);
		expect(tree(assembly)).toEqual(before);
		expect(existsSync(`${assembly}.rejected/validation-report.json`)).toBe(true);
	}, 30_000);
});

describe("deploy", () => {
	test("without credentials says so in one sentence before anything else runs", async () => {
		const run = await task(["deploy"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"No AWS credentials were found: sign in (`aws sso login --profile <name>`",
		);
		expect(run.stderr).not.toContain("▶ synth");
		expect(run.stderr).not.toContain(" deploy Production");
	});

	test("runs the pinned cdk deploy on the synthesized assembly, without prompts off a terminal", async () => {
		const run = await task(["deploy", "--", "--verbose"], FAKE_AWS);
		expect(run.stderr).toContain(
			"node_modules/aws-cdk/bin/cdk deploy Production --app outputs/main/infrastructure --require-approval never --outputs-file outputs/main/infrastructure/Production.outputs.json --no-notices --verbose",
		);
		expect(run.stderr).not.toContain("not-a-real-secret");
		expect(run.stdout).not.toContain("not-a-real-secret");
		expect(run.exitCode).not.toBe(0);
	}, 60_000);
});

describe("deploy --dry-run", () => {
	test("on a checkout without an assembly shows the deploy of the stack synth would write", async () => {
		const fresh = projectCopy();
		try {
			const run = await bunTask(["deploy", "--dry-run", "--", "--context", "stackName=Staging"], {
				cwd: fresh.dir,
				env: { ...NO_AWS, ...FAKE_AWS },
			});
			expect(run.exitCode).toBe(0);
			expect(run.stderr).toContain(
				"deploy: deploys what synth writes (this dry run wrote nothing).",
			);
			expect(run.stderr).toContain(" deploy Staging --app outputs/main/infrastructure ");
			// A dry run writes nothing, not even a lock.
			expect(existsSync(join(fresh.dir, "outputs"))).toBe(false);
		} finally {
			fresh.dispose();
		}
	}, 60_000);
});

describe("build", () => {
	test("depends on analyze, images and synth", async () => {
		const run = await task(["build", "--help"]);
		expect(run.stdout).toContain("Depends on: analyze, images, synth.");
	});
});

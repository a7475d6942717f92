import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { infrastructureOutput } from "../project/outputs.ts";
import { TaskError } from "../runner/errors.ts";
import { assemblyStack } from "./assembly.ts";
import { CDK_APP } from "./cli.ts";
import { cdkContext, contextArguments, stackSettings } from "./context.ts";

const ROOT = resolve(import.meta.dir, "../..");

describe("cdk.json", () => {
	const cdkJson = JSON.parse(readFileSync(join(ROOT, "cdk.json"), "utf8"));
	test("names the same app and output directory the tasks use", () => {
		expect(cdkJson.app).toBe(`bun ${CDK_APP.join(" ")}`);
		expect(cdkJson.output).toBe(relative(ROOT, infrastructureOutput(ROOT).dir));
	});
});

describe("contextArguments", () => {
	test("reads -c, --context and --context=", () => {
		expect(
			contextArguments([
				"-c",
				"a=1",
				"--context",
				"b=x=y",
				"--context=regions=us-east-1,eu-west-1",
			]),
		).toEqual({
			a: "1",
			b: "x=y",
			regions: "us-east-1,eu-west-1",
		});
	});
	test("refuses anything else, or a pair without a key", () => {
		expect(() => contextArguments(["--all"])).toThrow(TaskError);
		expect(() => contextArguments(["-c", "=1"])).toThrow("--context needs key=value");
		expect(() => contextArguments(["-c"])).toThrow("--context needs key=value");
	});
});

describe("cdkContext", () => {
	test("layers cdk.json, cdk.context.json, --context and the CLI's own keys, like the CDK CLI", () => {
		const dir = mkdtempSync(join(tmpdir(), "nix-images-cdkctx-"));
		writeFileSync(
			join(dir, "cdk.json"),
			JSON.stringify({ app: "x", context: { a: "json", b: "json", c: "json" } }),
		);
		writeFileSync(
			join(dir, "cdk.context.json"),
			JSON.stringify({ b: "context-file", c: "context-file" }),
		);
		const context = cdkContext(dir, { c: "argument" });
		rmSync(dir, { recursive: true, force: true });
		expect(context).toMatchObject({ a: "json", b: "context-file", c: "argument" });
		expect(context["aws:cdk:enable-path-metadata"]).toBe(true);
		expect(context["@aws-cdk/core:failSynthOnValidationErrors"]).toBe(false);
	});
	test("says which file is not valid JSON", () => {
		const dir = mkdtempSync(join(tmpdir(), "nix-images-cdkctx-"));
		writeFileSync(join(dir, "cdk.json"), "{ nope");
		expect(() => cdkContext(dir)).toThrow(`${join(dir, "cdk.json")} is not valid JSON`);
		rmSync(dir, { recursive: true, force: true });
	});
});

describe("stackSettings", () => {
	test("turns a bad context value into a usage error", () => {
		expect(stackSettings({}).stackName).toBe("Production");
		let error: unknown;
		try {
			stackSettings({ lifecycleKeep: "0" });
		} catch (caught) {
			error = caught;
		}
		expect(error).toBeInstanceOf(TaskError);
		expect((error as TaskError).exitCode).toBe(2);
	});
});

describe("assemblyStack", () => {
	test("reads the one stack from the assembly's manifest, or says to synthesize", () => {
		const dir = mkdtempSync(join(tmpdir(), "nix-images-assembly-"));
		const assembly = join(dir, "outputs/main/infrastructure");
		expect(() => assemblyStack(dir, assembly)).toThrow(
			"outputs/main/infrastructure holds no cloud assembly; run `bun task synth` first.",
		);
		mkdirSync(assembly, { recursive: true });
		writeFileSync(
			join(assembly, "manifest.json"),
			JSON.stringify({
				artifacts: { Images: { type: "aws:cloudformation:stack" }, Tree: { type: "cdk:tree" } },
			}),
		);
		expect(assemblyStack(dir, assembly)).toBe("Images");
		rmSync(dir, { recursive: true, force: true });
	});
});

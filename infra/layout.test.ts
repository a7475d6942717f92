/**
 * The two planes of infra/ stay apart: the control plane (the CDK app, its
 * constructs: infra/*.ts and infra/github/) and the data plane (the SDK steps,
 * in every other folder: sdk/, account/, publish/, release/, …) share only
 * infra/vocabulary.ts, which imports nothing. So a synth never loads an SDK
 * client, and an SDK step never loads the CDK.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const INFRA = import.meta.dir;
const VOCABULARY = "vocabulary.ts";
const CONTROL_PLANE_FOLDERS = new Set(["", "github"]);
const CDK_PACKAGES = /^(aws-cdk-lib|constructs|cdk-nag)(\/|$)/;
const SDK_PACKAGES = /^(@aws-sdk|@smithy)\//;

/** Every module of infra/ (tests excluded), relative to it. */
function modules(): string[] {
	return readdirSync(INFRA, { recursive: true, encoding: "utf8" })
		.filter((path) => path.endsWith(".ts") && !path.endsWith(".test.ts"))
		.sort();
}

const plane = (module: string) =>
	module === VOCABULARY
		? "vocabulary"
		: CONTROL_PLANE_FOLDERS.has(
					dirname(module) === "." ? "" : (dirname(module).split("/")[0] ?? ""),
				)
			? "control"
			: "data";

/** A module's imports: packages by name, project files relative to infra/ (or outside it, as ../…). */
function importsOf(module: string): { packages: string[]; files: string[] } {
	const source = readFileSync(join(INFRA, module), "utf8");
	const specifiers = [
		...source.matchAll(/(?:^|\n)\s*(?:import|export)\s+(?:[^"';]*?\sfrom\s*)?"([^"]+)"/g),
		...source.matchAll(/import\(\s*"([^"]+)"\s*\)/g),
	].map((match) => match[1] as string);
	const packages = specifiers.filter((s) => !s.startsWith(".") && !s.startsWith("node:"));
	const files = specifiers
		.filter((s) => s.startsWith("."))
		.map((s) => relative(INFRA, resolve(INFRA, dirname(module), s)));
	return { packages, files };
}

describe("infra/ layout", () => {
	test("the vocabulary imports nothing", () => {
		const { packages, files } = importsOf(VOCABULARY);
		expect([...packages, ...files]).toEqual([]);
	});

	test("no CDK construct imports an SDK client or an SDK step", () => {
		const wrong = modules()
			.filter((module) => plane(module) === "control")
			.flatMap((module) => {
				const { packages, files } = importsOf(module);
				return [
					...packages.filter((p) => SDK_PACKAGES.test(p)),
					...files.filter((file) => plane(file) === "data"),
				].map((target) => `${module} → ${target}`);
			});
		expect(wrong).toEqual([]);
	});

	test("no SDK step imports the CDK or a construct", () => {
		const data = modules().filter((module) => plane(module) === "data");
		expect(data.length).toBeGreaterThan(0);
		const wrong = data.flatMap((module) => {
			const { packages, files } = importsOf(module);
			return [
				...packages.filter((p) => CDK_PACKAGES.test(p)),
				...files.filter((file) => plane(file) === "control"),
			].map((target) => `${module} → ${target}`);
		});
		expect(wrong).toEqual([]);
	});

	test("the CDK app loads no AWS SDK package, directly or through what it imports", () => {
		const seen = new Set<string>();
		const packages = new Set<string>();
		const visit = (module: string) => {
			if (seen.has(module)) return;
			seen.add(module);
			const imports = importsOf(module);
			for (const name of imports.packages) packages.add(name);
			for (const file of imports.files) if (!file.startsWith("..")) visit(file);
		};
		visit("app.ts");
		expect(seen.size).toBeGreaterThan(5);
		expect([...packages].filter((name) => SDK_PACKAGES.test(name))).toEqual([]);
	});
});

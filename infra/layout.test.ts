/**
 * The two planes of infra/ stay apart: the control plane (the CDK app, its
 * constructs: infra/*.ts and infra/github/) and the data plane (the SDK steps,
 * in every other folder: sdk/, account/, publish/, release/, …) share only
 * infra/vocabulary.ts, which imports nothing. So a synth never loads an SDK
 * client, and an SDK step never loads the CDK.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { reachableFrom, importsOf as readImports } from "../test/imports.ts";

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
	const { packages, files } = readImports(join(INFRA, module));
	return { packages, files: files.map((file) => relative(INFRA, file)) };
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
		const reachable = reachableFrom([join(INFRA, "app.ts")]);
		expect(reachable.size).toBeGreaterThan(5);
		const packages = [...reachable.values()].flatMap((imports) => imports.packages);
		expect(packages.filter((name) => SDK_PACKAGES.test(name))).toEqual([]);
	});
});

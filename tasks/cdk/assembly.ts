/**
 * The cloud assembly synth writes: which stack it holds, what its validation
 * report found, and whether it is still what its inputs would make.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { readJson } from "../project/files.ts";
import { isStackOutputsFile } from "../project/outputs.ts";
import { TaskError } from "../runner/errors.ts";

/** The one stack in a synthesized cloud assembly, read from its manifest. */
export function assemblyStack(root: string, dir: string): string {
	const manifest = join(dir, "manifest.json");
	if (!existsSync(manifest)) {
		throw new TaskError(
			`${relative(root, dir)} holds no cloud assembly; run \`bun task synth\` first.`,
		);
	}
	const artifacts = (readJson(manifest).artifacts ?? {}) as Record<string, { type?: string }>;
	const stacks = Object.entries(artifacts).filter(([, a]) => a.type === "aws:cloudformation:stack");
	const [stack] = stacks;
	if (stacks.length !== 1 || stack === undefined) {
		throw new TaskError(
			`${relative(root, manifest)} should describe one stack, not ${stacks.length}; run \`bun task synth --force\`.`,
		);
	}
	return stack[0];
}

interface Violation {
	ruleName: string;
	severity?: string;
	description?: string;
	violatingConstructs?: { constructPath: string }[];
}

export interface ValidationReport {
	pluginReports?: { pluginName: string; conclusion?: string; violations: Violation[] }[];
}

/** Every unacknowledged finding in a validation report, one line each. */
export function unacknowledgedFindings(report: ValidationReport): string[] {
	return (report.pluginReports ?? []).flatMap((plugin) =>
		plugin.violations.flatMap((violation) =>
			(violation.violatingConstructs ?? [{ constructPath: "(unknown construct)" }]).map(
				(construct) =>
					`${violation.ruleName} (${violation.severity ?? "error"}) on ${construct.constructPath}`,
			),
		),
	);
}

/** The files below `dir`, relative to it, sorted. */
export function filesUnder(dir: string): string[] {
	if (!existsSync(dir)) return [];
	return readdirSync(dir, { recursive: true, withFileTypes: true })
		.filter((entry) => entry.isFile())
		.map((entry) => relative(dir, join(entry.parentPath, entry.name)))
		.sort();
}

function digest(root: string, files: readonly string[]): string {
	const hash = createHash("sha256");
	for (const file of files)
		hash
			.update(`${file}\0`)
			.update(readFileSync(join(root, file)))
			.update("\0");
	return hash.digest("hex");
}

/** What decides the assembly: the app's code, the CDK config, the locked dependencies and the context. */
export function inputDigest(root: string, context: Record<string, unknown>): string {
	const sources = filesUnder(join(root, "infra")).map((file) => join("infra", file));
	const config = ["cdk.json", "cdk.context.json", "bun.lock"].filter((file) =>
		existsSync(join(root, file)),
	);
	return createHash("sha256")
		.update(digest(root, [...sources, ...config]))
		.update(JSON.stringify(context))
		.update(process.env.CDK_VALIDATION ?? "")
		.digest("hex");
}

/** A digest of the assembly's own files (not what deploy wrote beside them). */
export function assemblyDigest(dir: string): string {
	return digest(
		dir,
		filesUnder(dir).filter((file) => !isStackOutputsFile(file)),
	);
}

/** Whether `dir` holds the assembly the stamp says these inputs made, untouched since. */
export function upToDate(stampPath: string, inputs: string, dir: string): boolean {
	if (!existsSync(stampPath) || !existsSync(dir)) return false;
	try {
		const stamp = JSON.parse(readFileSync(stampPath, "utf8"));
		return stamp.inputs === inputs && stamp.assembly === assemblyDigest(dir);
	} catch {
		return false;
	}
}

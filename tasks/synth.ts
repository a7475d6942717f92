/**
 * `synth`: runs the CDK app as `cdk synth` would (same context, same files,
 * byte for byte) without the CLI's start-up, into a staging directory; the
 * assembly replaces outputs/main/infrastructure only when cdk-nag and
 * CloudFormation validation found nothing unacknowledged.
 */
import { createHash } from "node:crypto";
import {
	existsSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	renameSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import type { SynthOptions } from "./catalog.ts";
import { CDK_APP, cdkContext, contextArguments, stackSettings } from "./cdk.ts";
import { infrastructureOutput } from "./outputs.ts";
import { TaskError } from "./runner/errors.ts";
import type { TaskContext } from "./runner/task.ts";

interface Violation {
	ruleName: string;
	severity?: string;
	description?: string;
	violatingConstructs?: { constructPath: string }[];
}

interface ValidationReport {
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

function filesUnder(dir: string): string[] {
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

/** What decides the assembly: the app's code, the CDK config and the locked dependencies. */
function inputDigest(root: string, context: Record<string, unknown>): string {
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

/** The assembly's own files (not what deploy wrote beside them). */
function assemblyFiles(dir: string): string[] {
	return filesUnder(dir).filter((file) => !file.endsWith(".outputs.json"));
}

function upToDate(stampPath: string, inputs: string, dir: string): boolean {
	if (!existsSync(stampPath) || !existsSync(dir)) return false;
	try {
		const stamp = JSON.parse(readFileSync(stampPath, "utf8"));
		return stamp.inputs === inputs && stamp.assembly === digest(dir, assemblyFiles(dir));
	} catch {
		return false;
	}
}

export default async function synth(context: TaskContext<SynthOptions>) {
	const { $, root, dryRun, log, options, passthrough } = context;
	const cdk = cdkContext(root, contextArguments(passthrough));
	const { stackName } = stackSettings(cdk);
	const output = infrastructureOutput(root);
	const inputs = inputDigest(root, cdk);
	if (!options.force && upToDate(output.stamp, inputs, output.dir)) {
		log(
			`${relative(root, output.dir)} is up to date (nothing it is made from changed); --force synthesizes anyway.`,
		);
		return;
	}

	const { staging } = output;
	if (!dryRun) {
		rmSync(staging, { recursive: true, force: true });
		mkdirSync(dirname(staging), { recursive: true });
	}
	const environment = [
		`CDK_OUTDIR=${relative(root, staging)}`,
		`CDK_CONTEXT_JSON=${JSON.stringify(cdk)}`,
	];
	await $`env ${environment} ${process.execPath} ${CDK_APP}`;
	if (dryRun) return;

	const reportPath = join(staging, "validation-report.json");
	const report: ValidationReport = existsSync(reportPath)
		? JSON.parse(readFileSync(reportPath, "utf8"))
		: {};
	const findings = unacknowledgedFindings(report);
	if (findings.length > 0) {
		const { rejected } = output;
		rmSync(rejected, { recursive: true, force: true });
		renameSync(staging, rejected);
		throw new TaskError(
			[
				`cdk-nag or CloudFormation validation found ${findings.length} unacknowledged finding(s); fix each, or acknowledge it with its reason where the construct is made (infra/findings.ts). The previous assembly is unchanged; this one is in ${relative(root, rejected)}:`,
				...findings.map((finding) => `  ${finding}`),
			].join("\n"),
		);
	}

	// Keep what deploy learned; then swap the new assembly in with renames.
	for (const file of filesUnder(output.dir).filter((f) => f.endsWith(".outputs.json"))) {
		renameSync(join(output.dir, file), join(staging, file));
	}
	const { previous } = output;
	rmSync(previous, { recursive: true, force: true });
	if (existsSync(output.dir)) renameSync(output.dir, previous);
	renameSync(staging, output.dir);
	rmSync(previous, { recursive: true, force: true });
	rmSync(output.rejected, { recursive: true, force: true });
	writeFileSync(
		output.stamp,
		JSON.stringify({ inputs, assembly: digest(output.dir, assemblyFiles(output.dir)) }),
	);
	log(`wrote ${relative(root, output.dir)} (stack ${stackName}).`);
}

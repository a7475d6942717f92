/**
 * `synth`: runs the CDK app as `cdk synth` would (same context, same files,
 * byte for byte) without the CLI's start-up, into a staging directory; the
 * assembly replaces outputs/main/infrastructure only when cdk-nag and
 * CloudFormation validation found nothing unacknowledged.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import {
	assemblyDigest,
	filesUnder,
	inputDigest,
	unacknowledgedFindings,
	upToDate,
	type ValidationReport,
} from "./cdk/assembly.ts";
import { CDK_APP } from "./cdk/cli.ts";
import { cdkContext, contextArguments, stackSettings } from "./cdk/context.ts";
import type { SynthOptions } from "./project/options.ts";
import { infrastructureOutput, isStackOutputsFile } from "./project/outputs.ts";
import { TaskError } from "./runner/errors.ts";
import type { TaskContext } from "./runner/task.ts";

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
	for (const file of filesUnder(output.dir).filter(isStackOutputsFile)) {
		renameSync(join(output.dir, file), join(staging, file));
	}
	const { previous } = output;
	rmSync(previous, { recursive: true, force: true });
	if (existsSync(output.dir)) renameSync(output.dir, previous);
	renameSync(staging, output.dir);
	rmSync(previous, { recursive: true, force: true });
	rmSync(output.rejected, { recursive: true, force: true });
	writeFileSync(output.stamp, JSON.stringify({ inputs, assembly: assemblyDigest(output.dir) }));
	log(`wrote ${relative(root, output.dir)} (stack ${stackName}).`);
}

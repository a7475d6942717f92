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
import {
	cdkContext,
	contextArguments,
	describeSettings,
	splitContextArguments,
	stackSettings,
} from "./cdk/context.ts";
import type { SynthOptions } from "./project/options.ts";
import { infrastructureOutput, isStackOutputsFile } from "./project/outputs.ts";
import { TaskError } from "./runner/errors.ts";
import { type CommandResult, commandFailed } from "./runner/shell.ts";
import type { TaskContext } from "./runner/task.ts";

/** Error codes of a write that failed for lack of space, permission or a writable file system. */
const WRITE_FAILURES = /\b(ENOSPC|EDQUOT|EROFS|EACCES|EPERM)\b/;

/**
 * Why the CDK app failed: a failed write as one sentence (the staging
 * directory could not be written), anything else with the app's own output.
 */
function appFailure(app: CommandResult, staging: string): Error {
	const code = app.stderr.match(WRITE_FAILURES)?.[1];
	if (code !== undefined) {
		const [what, fix] =
			code === "ENOSPC" || code === "EDQUOT"
				? ["no space left", "free some space"]
				: ["not writable", "make outputs/ writable"];
		return new TaskError(
			`The CDK app could not write the assembly to ${staging} (${code}: ${what}); ${fix} and run the task again. The previous assembly is unchanged.`,
		);
	}
	process.stderr.write(app.stderr);
	return commandFailed(app);
}

export default async function synth(context: TaskContext<SynthOptions>) {
	const { $, root, dryRun, log, options, passthrough, passthroughOwner, task, lock, temporary } =
		context;
	// Given to deploy, the arguments after -- are deploy's: take its settings, leave the rest to cdk deploy.
	const overrides =
		passthroughOwner === task
			? contextArguments(passthrough)
			: splitContextArguments(passthrough).context;
	const cdk = cdkContext(root, overrides);
	const settings = stackSettings(cdk);
	const output = infrastructureOutput(root);
	lock(output.dir);
	const inputs = inputDigest(root, cdk);
	if (!options.force && upToDate(output.stamp, inputs, output.dir)) {
		log(
			`${relative(root, output.dir)} is up to date (nothing it is made from changed); --force synthesizes anyway.`,
		);
		return;
	}

	const { staging, contextFile } = output;
	if (!dryRun) {
		// Gone however the step ends: a failed or interrupted synth leaves nothing half-written.
		temporary(staging);
		temporary(contextFile);
		rmSync(staging, { recursive: true, force: true });
		mkdirSync(dirname(staging), { recursive: true });
		// The context goes in a file the app reads (the CLI's own overflow file), so the echo stays short.
		writeFileSync(contextFile, JSON.stringify(cdk));
	}
	log(`settings: ${describeSettings(settings)}.`);
	const environment = [
		`CDK_OUTDIR=${relative(root, staging)}`,
		`CONTEXT_OVERFLOW_LOCATION_ENV=${relative(root, contextFile)}`,
	];
	const app = await $({
		quiet: true,
		nothrow: true,
	})`env ${environment} ${process.execPath} ${CDK_APP}`;
	if (app.exitCode !== 0) throw appFailure(app, relative(root, staging));
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
	log(`wrote ${relative(root, output.dir)} (stack ${settings.stackName}).`);
}

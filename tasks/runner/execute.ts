import { appendFileSync } from "node:fs";
import { CommandFailed, TaskError, UsageError } from "./errors.ts";
import {
	endGroup,
	errorAnnotation,
	onGitHubActions,
	startGroup,
	type TimingRow,
	timingTable,
} from "./github.ts";
import type { Step } from "./plan.ts";
import { installSignalHandlers, interruptedBy, onInterrupt, untilExit } from "./processes.ts";
import { createShell } from "./shell.ts";
import type { Catalog, PreflightModule } from "./task.ts";

export interface ExecuteSettings {
	dryRun: boolean;
	passthrough: readonly string[];
	/** The tasks the arguments after `--` are for (see passthroughTargets). */
	passthroughTasks: readonly string[];
	root: string;
	env?: Record<string, string | undefined>;
}

/** `images --system=x86_64-linux`: how a step is named in logs, groups and the summary. */
export function describeStep(step: Step): string {
	const options = Object.entries(step.options)
		.filter(([, value]) => value !== undefined && value !== false)
		.map(([name, value]) => (value === true ? `--${name}` : `--${name}=${value}`));
	return [step.task, ...options].join(" ");
}

function formatDuration(milliseconds: number): string {
	return milliseconds < 1000
		? `${Math.round(milliseconds)} ms`
		: `${(milliseconds / 1000).toFixed(1)} s`;
}

interface Failure {
	exitCode: number;
	message: string;
	/** Shown in full (unexpected errors keep their stack). */
	detail?: string;
}

/** `outcome`: "failed" for a step, "cannot start" for a preflight check. */
function describeFailure(task: string, error: unknown, outcome = "failed"): Failure {
	if (error instanceof CommandFailed) {
		return { exitCode: error.exitCode, message: `Task "${task}" ${outcome}: ${error.message}.` };
	}
	if (error instanceof TaskError || error instanceof UsageError) {
		return { exitCode: error.exitCode, message: `Task "${task}" ${outcome}: ${error.message}` };
	}
	const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
	return {
		exitCode: 1,
		message: `Task "${task}" failed with an unexpected error; this is a bug in the task, please report it.`,
		detail: stack,
	};
}

/**
 * Runs every preflight check of the planned steps (each distinct check once),
 * before any step: a failure is reported for the first task that needs it.
 */
async function preflightRefusal(
	catalog: Catalog,
	steps: readonly Step[],
): Promise<(Failure & { task: string }) | undefined> {
	const seen = new Set<PreflightModule["default"]>();
	for (const step of steps) {
		const check = (await catalog[step.task]?.preflight?.())?.default;
		if (check === undefined || seen.has(check)) continue;
		seen.add(check);
		try {
			await check();
		} catch (error) {
			return { ...describeFailure(step.task, error, "cannot start"), task: step.task };
		}
	}
	return undefined;
}

/**
 * Runs the planned steps in order, stopping at the first failure, and returns
 * the exit code: 0, or the failing command's own code.
 */
export async function execute(
	catalog: Catalog,
	steps: readonly Step[],
	settings: ExecuteSettings,
): Promise<number> {
	const github = onGitHubActions(settings.env);
	const rows: TimingRow[] = steps.map((step) => ({
		task: describeStep(step),
		result: "not run",
		milliseconds: undefined,
	}));
	const writeSummary = () => {
		const file = settings.env?.GITHUB_STEP_SUMMARY;
		if (github && file) appendFileSync(file, timingTable(rows));
	};
	let current: number | undefined;
	installSignalHandlers();
	onInterrupt(() => {
		const row = current === undefined ? undefined : rows[current];
		if (row) row.result = `interrupted (${interruptedBy()})`;
		if (github && current !== undefined) process.stderr.write(endGroup());
		writeSummary();
	});

	const refusal = await preflightRefusal(catalog, steps);
	if (refusal !== undefined) {
		if (github)
			process.stderr.write(errorAnnotation(`Task ${refusal.task} cannot start`, refusal.message));
		process.stderr.write(`✗ ${refusal.message}\n`);
		if (refusal.detail) process.stderr.write(`${refusal.detail}\n`);
		writeSummary();
		return refusal.exitCode;
	}

	for (const [index, step] of steps.entries()) {
		const definition = catalog[step.task];
		const row = rows[index];
		if (definition === undefined || row === undefined) continue;
		current = index;
		process.stderr.write(github ? startGroup(row.task) : `▶ ${row.task}\n`);
		const started = performance.now();
		try {
			const body = await definition.load?.();
			await body?.default({
				task: step.task,
				options: step.options,
				passthrough: settings.passthroughTasks.includes(step.task) ? settings.passthrough : [],
				dryRun: settings.dryRun,
				root: settings.root,
				$: createShell({ dryRun: settings.dryRun }, { cwd: settings.root }),
				log: (message) => process.stderr.write(`${step.task}: ${message}\n`),
			});
		} catch (error) {
			if (interruptedBy() !== undefined) return untilExit();
			const elapsed = performance.now() - started;
			const failure = describeFailure(step.task, error);
			row.result = `failed (exit ${failure.exitCode})`;
			row.milliseconds = elapsed;
			if (failure.detail) process.stderr.write(`${failure.detail}\n`);
			if (github) {
				process.stderr.write(endGroup());
				const tail =
					error instanceof CommandFailed && error.stderrTail.length > 0
						? `\n${error.stderrTail.join("\n")}`
						: "";
				process.stderr.write(
					errorAnnotation(`Task ${step.task} failed`, `${failure.message}${tail}`),
				);
			}
			process.stderr.write(`✗ ${failure.message}\n`);
			writeSummary();
			return failure.exitCode;
		}
		const elapsed = performance.now() - started;
		row.result = settings.dryRun ? "dry run" : "succeeded";
		row.milliseconds = elapsed;
		if (github) process.stderr.write(endGroup());
		else process.stderr.write(`✓ ${step.task} (${formatDuration(elapsed)})\n`);
	}
	current = undefined;
	writeSummary();
	return 0;
}

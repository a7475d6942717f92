import { rmSync } from "node:fs";
import { relative } from "node:path";
import { CommandFailed, describeFileSystemError, TaskError, UsageError } from "./errors.ts";
import {
	appendStepSummary,
	endGroup,
	errorAnnotation,
	onGitHubActions,
	startGroup,
	type TimingRow,
	timingTable,
} from "./github.ts";
import { acquireLock, type Lock } from "./locks.ts";
import type { Step } from "./plan.ts";
import {
	installSignalHandlers,
	interruptedBy,
	onExit,
	onInterrupt,
	untilExit,
} from "./processes.ts";
import { createShell } from "./shell.ts";
import type { Catalog, PreflightModule } from "./task.ts";

export interface ExecuteSettings {
	dryRun: boolean;
	passthrough: readonly string[];
	/** Each task that receives the arguments after `--` → the task they were given to. */
	passthroughOwners: Readonly<Record<string, string>>;
	root: string;
	/** Where lock files live (see locks.ts). */
	lockDir: string;
	/** The command line, as lock holders are described to a second run. */
	commandLine: string;
	env?: Record<string, string | undefined>;
}

/** `images --system=x86_64-linux`: how a step is named in logs, groups and the summary. */
function describeStep(step: Step): string {
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
function describeFailure(task: string, error: unknown, root: string, outcome = "failed"): Failure {
	if (error instanceof CommandFailed) {
		return { exitCode: error.exitCode, message: `Task "${task}" ${outcome}: ${error.message}.` };
	}
	if (error instanceof TaskError || error instanceof UsageError) {
		return { exitCode: error.exitCode, message: `Task "${task}" ${outcome}: ${error.message}` };
	}
	const fileSystem = describeFileSystemError(error, (path) => relative(root, path) || ".");
	if (fileSystem !== undefined) {
		return { exitCode: 1, message: `Task "${task}" ${outcome}: ${fileSystem}` };
	}
	const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
	return {
		exitCode: 1,
		message: `Task "${task}" ${outcome} with an unexpected error; this is a bug in the task, please report it.`,
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
	root: string,
): Promise<(Failure & { task: string }) | undefined> {
	const seen = new Set<PreflightModule["default"]>();
	for (const step of steps) {
		const check = (await catalog[step.task]?.preflight?.())?.default;
		if (check === undefined || seen.has(check)) continue;
		seen.add(check);
		try {
			await check();
		} catch (error) {
			return { ...describeFailure(step.task, error, root, "cannot start"), task: step.task };
		}
	}
	return undefined;
}

/** What a step holds until it ends: cleanups to run, paths to remove, its locks. */
class StepResources {
	private readonly locks: Lock[] = [];
	private readonly temporaries: string[] = [];
	private readonly cleanups: (() => Promise<void>)[] = [];
	/** Set once an interrupt's cleanup has begun: what a step still registers is undone at once. */
	private closed = false;

	constructor(private readonly settings: ExecuteSettings) {}

	/** A dry run writes nothing, so it takes no lock (and needs no writable outputs/). */
	lock(path: string): void {
		const { root, lockDir, commandLine, dryRun } = this.settings;
		if (dryRun) return;
		this.locks.push(acquireLock(lockDir, relative(root, path), commandLine));
	}

	temporary(path: string): void {
		this.temporaries.push(path);
		if (this.closed) this.release();
	}

	cleanup(action: () => Promise<void>): () => void {
		if (this.closed) {
			// The step went on after Ctrl-C (an answer arrived): undo this too, as soon as it can.
			action().catch(() => {});
			return () => {};
		}
		this.cleanups.push(action);
		return () => {
			const index = this.cleanups.indexOf(action);
			if (index !== -1) this.cleanups.splice(index, 1);
		};
	}

	/** On an interrupt: the cleanups now, and at once whatever the step registers after. */
	async close(): Promise<void> {
		this.closed = true;
		await this.finish();
	}

	/** Runs the cleanups (latest first), then releases the rest; never throws. */
	async finish(): Promise<void> {
		for (const action of this.cleanups.splice(0).reverse()) {
			try {
				await action();
			} catch (error) {
				process.stderr.write(`warning: a cleanup failed: ${(error as Error).message}\n`);
			}
		}
		this.release();
	}

	/** Removes the temporaries, then releases the locks; never throws. */
	release(): void {
		for (const path of this.temporaries.splice(0)) {
			try {
				rmSync(path, { recursive: true, force: true });
			} catch {}
		}
		for (const lock of this.locks.splice(0)) {
			try {
				lock.release();
			} catch {}
		}
	}
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
	const writeSummary = () => appendStepSummary(timingTable(rows), settings.env);
	let current: number | undefined;
	const resources = new StepResources(settings);
	installSignalHandlers();
	// Temporaries (a login among them) go synchronously on any way out, a second Ctrl-C too.
	onExit(() => resources.release());
	onInterrupt(async () => {
		await resources.close();
		const row = current === undefined ? undefined : rows[current];
		if (row) row.result = `interrupted (${interruptedBy()})`;
		if (github && current !== undefined) process.stderr.write(endGroup());
		writeSummary();
	});

	const refusal = await preflightRefusal(catalog, steps, settings.root);
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
		const owner = settings.passthroughOwners[step.task];
		try {
			const body = await definition.load?.();
			await body?.default({
				task: step.task,
				options: step.options,
				passthrough: owner === undefined ? [] : settings.passthrough,
				passthroughOwner: owner,
				dryRun: settings.dryRun,
				root: settings.root,
				$: createShell({ dryRun: settings.dryRun }, { cwd: settings.root }),
				log: (message) => process.stderr.write(`${step.task}: ${message}\n`),
				lock: (path) => resources.lock(path),
				temporary: (path) => resources.temporary(path),
				cleanup: (action) => resources.cleanup(action),
				ranEarlier: (task) => steps.slice(0, index).some((earlier) => earlier.task === task),
			});
		} catch (error) {
			if (interruptedBy() !== undefined) return untilExit();
			await resources.finish();
			const elapsed = performance.now() - started;
			const failure = describeFailure(step.task, error, settings.root);
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
		await resources.finish();
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

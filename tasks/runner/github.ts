/**
 * GitHub Actions workflow commands: a log group per task, an error annotation
 * per failure, a timing table in the step summary.
 * https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands
 */
import { appendFileSync } from "node:fs";

export function onGitHubActions(env: Record<string, string | undefined> = process.env): boolean {
	return env.GITHUB_ACTIONS === "true";
}

/** Escapes a command's message, as the runner's toolkit does. */
export function escapeData(text: string): string {
	return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** Escapes a command's property value (title, file). */
function escapeProperty(text: string): string {
	return escapeData(text).replaceAll(":", "%3A").replaceAll(",", "%2C");
}

export function startGroup(title: string): string {
	return `::group::${escapeData(title)}\n`;
}

export function endGroup(): string {
	return "::endgroup::\n";
}

export function errorAnnotation(title: string, message: string): string {
	return `::error title=${escapeProperty(title)}::${escapeData(message)}\n`;
}

export interface TimingRow {
	task: string;
	result: string;
	milliseconds: number | undefined;
}

function cell(text: string): string {
	return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** A Markdown table of task results and durations for $GITHUB_STEP_SUMMARY. */
export function timingTable(rows: readonly TimingRow[]): string {
	const lines = [
		"### bun task",
		"",
		"| Task | Result | Duration |",
		"| --- | --- | ---: |",
		...rows.map(
			(row) =>
				`| ${cell(row.task)} | ${cell(row.result)} | ${
					row.milliseconds === undefined ? "–" : `${(row.milliseconds / 1000).toFixed(1)} s`
				} |`,
		),
		"",
	];
	return `${lines.join("\n")}\n`;
}

/**
 * Appends Markdown to the step summary when running on GitHub Actions. Best
 * effort: the run's outcome never depends on the summary file being writable.
 */
export function appendStepSummary(
	markdown: string,
	env: Record<string, string | undefined> = process.env,
): void {
	const file = env.GITHUB_STEP_SUMMARY;
	if (!onGitHubActions(env) || !file) return;
	try {
		appendFileSync(file, markdown);
	} catch (error) {
		const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
		process.stderr.write(`warning: could not append to $GITHUB_STEP_SUMMARY (${reason}).\n`);
	}
}

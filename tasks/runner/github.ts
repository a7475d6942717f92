/**
 * GitHub Actions workflow commands: a log group per task, an error annotation
 * per failure, a timing table in the step summary.
 * https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands
 */

export function onGitHubActions(env: Record<string, string | undefined> = process.env): boolean {
	return env.GITHUB_ACTIONS === "true";
}

/** Escapes a command's message, as the runner's toolkit does. */
export function escapeData(text: string): string {
	return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** Escapes a command's property value (title, file). */
export function escapeProperty(text: string): string {
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

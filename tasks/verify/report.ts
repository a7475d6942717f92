/**
 * What verify found, for people and machines: a table of system × region
 * (✓, or each field that differs with its expected and actual value), the
 * same as a GitHub step summary, and as JSON (`--json`). The exit code: 0
 * only when every check holds, 1 on any mismatch, 3 when something could
 * not be checked (and nothing differed).
 */
import type { Finding } from "../../infra/verify/findings.ts";
import type { ContainerResult } from "./containers.ts";
import type { DeepResult } from "./deep.ts";
import type { ProvenanceResult } from "./provenance.ts";

export interface RegionOutcome {
	region: string;
	findings: Finding[];
	unchecked?: string;
	looks: number;
}

export interface VerifyReport {
	version: string;
	releaseId: string;
	stack: string;
	/** What supersedes this release (the current release and its version) when it is not the current one: its SSM parameter and moving-tag checks are then left out. */
	supersededBy?: string;
	/** Whether the moving tags were checked (not by release, before it moves them). */
	movingTags: boolean;
	systems: string[];
	regions: RegionOutcome[];
	container?: ContainerResult;
	deep?: DeepResult[];
	/** --provenance: the SBOMs and attestations beside release.json. */
	provenance?: ProvenanceResult[];
}

export type Status = "ok" | "mismatch" | "unchecked";

/** One line of the table: a system (or the region's own settings, or the container) somewhere. */
export interface Row {
	what: string;
	where: string;
	status: Status;
	lines: string[];
}

function describe(finding: Finding): string {
	return `${finding.subject} ${finding.field}: expected ${finding.expected}, is ${finding.actual}`;
}

function row(what: string, where: string, findings: Finding[], unchecked?: string): Row {
	if (findings.length > 0)
		return { what, where, status: "mismatch", lines: findings.map(describe) };
	if (unchecked !== undefined) {
		return { what, where, status: "unchecked", lines: [`could not check: ${unchecked}`] };
	}
	return { what, where, status: "ok", lines: ["✓"] };
}

/** Every row: per system × region, the regions' own findings, the container, the read-backs. */
export function rows(report: VerifyReport): Row[] {
	const table: Row[] = [];
	for (const system of report.systems) {
		for (const region of report.regions) {
			const mine = region.findings.filter((finding) => finding.system === system);
			table.push(row(system, region.region, mine, region.unchecked));
		}
	}
	for (const region of report.regions) {
		const own = region.findings.filter((finding) => finding.system === undefined);
		// Without systems (a release of containers only), a region's outage has no row of its own otherwise.
		const unchecked = report.systems.length === 0 ? region.unchecked : undefined;
		if (own.length > 0 || unchecked) table.push(row("(region)", region.region, own, unchecked));
	}
	if (report.container) {
		const { findings, unchecked, tags } = report.container;
		table.push(row("container", tags.join(", "), findings, unchecked));
	}
	for (const deep of report.deep ?? []) {
		const where = `source snapshot${deep.local ? " + local nixos.img" : deep.localSkipped ? ` (${deep.localSkipped})` : ""}`;
		table.push(row(`${deep.system} --deep`, where, deep.findings, deep.unchecked));
	}
	for (const entry of report.provenance ?? []) {
		table.push(row(entry.what, entry.where, entry.findings, entry.unchecked));
	}
	return table;
}

export function exitCodeOf(report: VerifyReport): 0 | 1 | 3 {
	const statuses = rows(report).map((entry) => entry.status);
	if (statuses.includes("mismatch")) return 1;
	if (statuses.includes("unchecked")) return 3;
	return 0;
}

/** What the superseded checks were, in a sentence, when there were any. */
function supersededNote(report: VerifyReport): string | undefined {
	if (report.supersededBy === undefined) return undefined;
	return `SSM parameters and moving tags: superseded by ${report.supersededBy}, so not checked for this one.`;
}

/** The table as plain text columns; a row's further findings on lines of their own. */
export function reportTable(report: VerifyReport): string {
	const table = rows(report);
	const head = { what: "system", where: "region" };
	const width = (key: "what" | "where") =>
		Math.max(head[key].length, ...table.map((entry) => entry[key].length));
	const [what, where] = [width("what"), width("where")];
	const line = (a: string, b: string, c: string) =>
		`${a.padEnd(what)}  ${b.padEnd(where)}  ${c}`.trimEnd();
	const out = [`verify ${report.version} (${report.stack})`, line(head.what, head.where, "result")];
	for (const entry of table) {
		const mark = entry.status === "ok" ? "" : entry.status === "mismatch" ? "✗ " : "? ";
		entry.lines.forEach((text, i) => {
			out.push(
				i === 0 ? line(entry.what, entry.where, `${mark}${text}`) : line("", "", `${mark}${text}`),
			);
		});
	}
	const note = supersededNote(report);
	if (note) out.push(note);
	return out.join("\n");
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/** The table for a GitHub step summary. */
export function reportMarkdown(report: VerifyReport): string {
	const code = exitCodeOf(report);
	const verdict =
		code === 0
			? "every check holds"
			: code === 1
				? "**mismatches found**"
				: "**some checks could not be made**";
	const lines = [
		`### Verify ${report.version}: ${verdict}`,
		"",
		"| system | region | result |",
		"| --- | --- | --- |",
		...rows(report).map(
			(entry) =>
				`| ${cell(entry.what)} | ${cell(entry.where)} | ${entry.lines.map((text) => cell(`${entry.status === "ok" ? "" : entry.status === "mismatch" ? "✗ " : "? "}${text}`)).join("<br>")} |`,
		),
	];
	const note = supersededNote(report);
	if (note) lines.push("", note);
	return `${lines.join("\n")}\n`;
}

/** The report for machines: every row with its status and findings, and the exit code. */
export function reportJson(report: VerifyReport): object {
	const code = exitCodeOf(report);
	return {
		version: report.version,
		releaseId: report.releaseId,
		stack: report.stack,
		ok: code === 0,
		exitCode: code,
		supersededBy: report.supersededBy ?? null,
		movingTagsChecked: report.movingTags,
		regions: report.regions.map((region) => ({
			region: region.region,
			status: region.findings.length > 0 ? "mismatch" : region.unchecked ? "unchecked" : "ok",
			...(region.unchecked ? { reason: region.unchecked } : {}),
			looks: region.looks,
			findings: region.findings,
		})),
		...(report.container
			? {
					container: {
						tags: report.container.tags,
						status:
							report.container.findings.length > 0
								? "mismatch"
								: report.container.unchecked
									? "unchecked"
									: "ok",
						...(report.container.unchecked ? { reason: report.container.unchecked } : {}),
						findings: report.container.findings,
					},
				}
			: {}),
		...(report.deep ? { deep: report.deep } : {}),
		...(report.provenance
			? {
					provenance: report.provenance.map((entry) => ({
						what: entry.what,
						where: entry.where,
						status: entry.findings.length > 0 ? "mismatch" : entry.unchecked ? "unchecked" : "ok",
						...(entry.unchecked ? { reason: entry.unchecked } : {}),
						findings: entry.findings,
					})),
				}
			: {}),
	};
}

/** The failures in one sentence (the table says the rest); `advise`: with what to do (verify's). */
export function verdictSentence(report: VerifyReport, advise = true): string {
	const table = rows(report);
	const bad = table.filter((entry) => entry.status === "mismatch");
	const unchecked = table.filter((entry) => entry.status === "unchecked");
	const place = (entries: Row[]) =>
		[...new Set(entries.map((entry) => `${entry.what} in ${entry.where}`))].slice(0, 6).join(", ");
	if (bad.length > 0) {
		const what = `${bad.length} of ${table.length} checks of ${report.version} differ from release.json (${place(bad)}${bad.length > 6 ? ", …" : ""})`;
		return advise ? `${what}: the table above names each field; fix it, or release again` : what;
	}
	const what = `${unchecked.length} of ${table.length} checks of ${report.version} could not be made (${place(unchecked)})`;
	return advise ? `${what}: the table above says why; run verify again when they answer` : what;
}

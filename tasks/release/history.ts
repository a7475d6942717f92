/**
 * The release history: every release's release.json kept under its id in
 * the release's site (outputs/main/release/releases/<id>/, with the page and
 * the SBOMs and AMI statement predicates it had), an index of all of them
 * (releases.json: id, date, version, systems, whether current, whether
 * rolled back, where its release.json is) and an Atom feed of them
 * (releases.atom). `release` adds each release here, `rollback` moves
 * "current" back and marks the release it leaves; the pipeline's pages job
 * publishes the site with the history it restored first, so it outlives
 * every deployment.
 *
 * What is read back (restored from the published site) is untrusted input:
 * every entry is checked against the forms release writes, and an entry's
 * files are only ever those under releases/<its id>/.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { readJson, writeAtomically, writeJsonAtomically } from "../project/files.ts";
import { matches } from "../project/formats.ts";
import { TaskError } from "../runner/errors.ts";
import type { ReleaseManifest } from "./manifest.ts";
import { checkManifest } from "./manifest-check.ts";
import { escapeHtml as e, writePage } from "./page.ts";

/** The index of every release, in the site. */
export const HISTORY_INDEX = "releases.json";
/** The Atom feed of releases, in the site. */
export const HISTORY_FEED = "releases.atom";
/** The site's folders that belong to one release, copied with it into its history entry. */
export const RELEASE_SITE_FOLDERS = ["sbom", "provenance"] as const;

export interface HistoryEntry {
	releaseId: string;
	version: string;
	releasedAt: string;
	/** The systems it released (AMIs or containers). */
	systems: string[];
	current: boolean;
	rolledBack: boolean;
	/** When `rollback` left it, and for which release. */
	rolledBackAt?: string;
	rolledBackTo?: string;
	/** Its release.json and page, relative to the site (and so to the page's address). */
	url: string;
	page: string;
}

export interface History {
	stack: string;
	/** Newest first (by releasedAt). */
	releases: HistoryEntry[];
}

/** Where a release's files are kept in the site, relative to it. */
export function historyFolder(releaseId: string): string {
	return `releases/${releaseId}`;
}

function systemsOf(manifest: ReleaseManifest): string[] {
	return [
		...new Set([
			...Object.keys(manifest.amis),
			...Object.values(manifest.containers?.images ?? {}).map((image) => image.system),
		]),
	].sort();
}

const newestFirst = (a: HistoryEntry, b: HistoryEntry) =>
	a.releasedAt < b.releasedAt ? 1 : a.releasedAt > b.releasedAt ? -1 : 0;

function isEntry(value: unknown): value is HistoryEntry {
	if (typeof value !== "object" || value === null) return false;
	const entry = value as Record<string, unknown>;
	return (
		matches("releaseId", entry.releaseId) &&
		matches("releaseVersion", entry.version) &&
		matches("time", entry.releasedAt) &&
		Array.isArray(entry.systems) &&
		entry.systems.every(
			(system) => typeof system === "string" && /^[a-z0-9_]+-linux$/.test(system),
		) &&
		typeof entry.current === "boolean" &&
		typeof entry.rolledBack === "boolean" &&
		(entry.rolledBackAt === undefined || matches("time", entry.rolledBackAt)) &&
		(entry.rolledBackTo === undefined || matches("releaseId", entry.rolledBackTo)) &&
		entry.url === `${historyFolder(entry.releaseId as string)}/release.json` &&
		entry.page === `${historyFolder(entry.releaseId as string)}/index.html`
	);
}

/**
 * The site's history (none yet: empty). An index that is not one this
 * version writes is refused in one sentence, never half-used: moving
 * pointers by a damaged history could point users anywhere.
 */
export function readHistory(site: string, stack: string): History {
	const path = join(site, HISTORY_INDEX);
	if (!existsSync(path)) return { stack, releases: [] };
	const value = readJson(path);
	const releases = value.releases;
	if (
		value.stack !== stack ||
		!Array.isArray(releases) ||
		!releases.every(isEntry) ||
		new Set(releases.map((entry) => entry.releaseId)).size !== releases.length ||
		releases.filter((entry) => entry.current).length > 1
	) {
		throw new TaskError(
			`${path} is not a release history of the stack ${stack} that this version wrote; restore the published one (the pipeline's pages job keeps it at <page>/${HISTORY_INDEX}) or move it away to start a new history.`,
		);
	}
	return { stack, releases: [...releases].sort(newestFirst) };
}

/** A release of the history, read back from its kept release.json and checked. */
export function keptRelease(site: string, entry: HistoryEntry, stack: string): ReleaseManifest {
	const path = join(site, entry.url);
	if (!existsSync(path)) {
		throw new TaskError(
			`${path} is missing, though ${HISTORY_INDEX} lists release ${entry.releaseId}; restore the published history (the pipeline's release job downloads it from the page).`,
		);
	}
	const manifest = checkManifest(readJson(path), path);
	if (manifest.releaseId !== entry.releaseId || manifest.stack !== stack) {
		throw new TaskError(
			`${path} is release ${manifest.releaseId} of the stack ${manifest.stack}, not ${entry.releaseId} of ${stack} as ${HISTORY_INDEX} says; restore the published history.`,
		);
	}
	return manifest;
}

/**
 * Every kept release of the history, read and checked before anything
 * moves (release and rollback call it first): a damaged history stops them
 * before AWS, never after the pointers have moved.
 */
export function keptReleases(site: string, history: History): Map<string, ReleaseManifest> {
	return new Map(
		history.releases.map((entry) => [entry.releaseId, keptRelease(site, entry, history.stack)]),
	);
}

/** The history with `manifest` in it as the current release (a re-run of the same release changes nothing else). */
export function withRelease(history: History, manifest: ReleaseManifest): History {
	const entry: HistoryEntry = {
		releaseId: manifest.releaseId,
		version: manifest.version,
		releasedAt: manifest.releasedAt,
		systems: systemsOf(manifest),
		// Released again (release refuses that without --allow-rolled-back): users are on it now.
		current: true,
		rolledBack: false,
		url: `${historyFolder(manifest.releaseId)}/release.json`,
		page: `${historyFolder(manifest.releaseId)}/index.html`,
	};
	return {
		...history,
		releases: [
			...history.releases
				.filter((other) => other.releaseId !== manifest.releaseId)
				.map((other) => ({ ...other, current: false })),
			entry,
		].sort(newestFirst),
	};
}

/** The history after a rollback from `left` to `target`: target current, left marked (keyed: the marks themselves). */
export function withRollback(
	history: History,
	left: string | undefined,
	target: string,
	at: string,
): History {
	return {
		...history,
		releases: history.releases.map((entry) => {
			if (entry.releaseId === target) {
				// Put back on it (a rolled-back target needs --allow-rolled-back): no longer rolled back.
				const { rolledBackAt: _at, rolledBackTo: _to, ...rest } = entry;
				return { ...rest, current: true, rolledBack: false };
			}
			if (entry.releaseId === left && !entry.rolledBack) {
				return {
					...entry,
					current: false,
					rolledBack: true,
					rolledBackAt: at,
					rolledBackTo: target,
				};
			}
			return { ...entry, current: false };
		}),
	};
}

/** The newest release before the current one that is not rolled back: `rollback --to previous`. */
export function previousRelease(history: History): HistoryEntry | undefined {
	const current = history.releases.find((entry) => entry.current);
	return history.releases.find(
		(entry) =>
			!entry.current &&
			!entry.rolledBack &&
			(current === undefined || entry.releasedAt < current.releasedAt),
	);
}

const xml = e;

/** The Atom feed (RFC 4287) of the history: an entry per release, newest first; links relative to the feed. */
export function renderFeed(history: History): string {
	// ISO 8601 times in UTC sort as text: the newest release or rollback.
	const updated =
		history.releases
			.flatMap((entry) => [entry.releasedAt, entry.rolledBackAt ?? ""])
			.sort()
			.at(-1) || "1970-01-01T00:00:00.000Z";
	const entries = history.releases.map((entry) => {
		const state = entry.rolledBack
			? `rolled back${entry.rolledBackAt ? ` on ${entry.rolledBackAt.slice(0, 10)}` : ""}${entry.rolledBackTo ? ` to ${entry.rolledBackTo}` : ""}`
			: entry.current
				? "the current release"
				: "an earlier release";
		return `<entry>
<title>${xml(entry.version)}${entry.rolledBack ? " (rolled back)" : ""}</title>
<id>urn:nix-images:${xml(history.stack)}:release:${xml(entry.releaseId)}</id>
<updated>${xml(entry.rolledBackAt ?? entry.releasedAt)}</updated>
<published>${xml(entry.releasedAt)}</published>
<link rel="alternate" type="text/html" href="${xml(entry.page)}"/>
<link rel="related" type="application/json" href="${xml(entry.url)}"/>
<summary>nix-images ${xml(entry.version)} for ${xml(entry.systems.join(", "))}: ${xml(state)}.</summary>
</entry>`;
	});
	return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>nix-images releases (${xml(history.stack)})</title>
<id>urn:nix-images:${xml(history.stack)}:releases</id>
<updated>${xml(updated)}</updated>
<author><name>nix-images</name></author>
<link rel="self" type="application/atom+xml" href="${HISTORY_FEED}"/>
<link rel="alternate" type="text/html" href="index.html"/>
${entries.join("\n")}
</feed>
`;
}

/**
 * Keeps `manifest` (the release in the site now: release.json's text, its
 * sbom/ and provenance/) under releases/<id>/, each file in one rename; an
 * entry already kept is written again the same. Its page is writePages'.
 */
export function keepRelease(site: string, manifest: ReleaseManifest, releaseJson: string): void {
	const folder = join(site, historyFolder(manifest.releaseId));
	mkdirSync(folder, { recursive: true });
	for (const name of RELEASE_SITE_FOLDERS) {
		rmSync(join(folder, name), { recursive: true, force: true });
		if (existsSync(join(site, name)))
			cpSync(join(site, name), join(folder, name), { recursive: true });
	}
	writeAtomically(join(folder, "release.json"), releaseJson);
}

/** Puts a kept release's sbom/ and provenance/ back at the site's top, as its release left them. */
export function restoreReleaseFiles(site: string, releaseId: string): void {
	const folder = join(site, historyFolder(releaseId));
	for (const name of RELEASE_SITE_FOLDERS) {
		rmSync(join(site, name), { recursive: true, force: true });
		if (existsSync(join(folder, name)))
			cpSync(join(folder, name), join(site, name), { recursive: true });
	}
}

/** Writes the index and the feed, each in one rename. */
export function writeHistory(site: string, history: History): void {
	mkdirSync(site, { recursive: true });
	writeJsonAtomically(join(site, HISTORY_INDEX), history);
	writeAtomically(join(site, HISTORY_FEED), renderFeed(history));
}

/** A kept release's release.json text, as it was written. */
export function keptReleaseText(site: string, entry: HistoryEntry): string {
	return readFileSync(join(site, entry.url), "utf8");
}

/**
 * Records `manifest` as the current release in the site's history and
 * writes every page anew: the site's own (the current release, listing the
 * others) and each kept release's, so a mark set by a rollback shows on all
 * of them. `releaseJson` is release.json's text as it is written.
 */
export function publishToHistory(
	site: string,
	history: History,
	kept: ReadonlyMap<string, ReleaseManifest>,
	manifest: ReleaseManifest,
	releaseJson: string,
): History {
	const next = withRelease(history, manifest);
	keepRelease(site, manifest, releaseJson);
	writePages(site, next, new Map([...kept, [manifest.releaseId, manifest]]), manifest);
	return next;
}

/** The site's page for `current`, and each kept release's page (`kept`, checked), with `history`; then its index and feed. */
export function writePages(
	site: string,
	history: History,
	kept: ReadonlyMap<string, ReleaseManifest>,
	current: ReleaseManifest,
): void {
	for (const entry of history.releases) {
		const manifest = kept.get(entry.releaseId);
		if (manifest) writePage(join(site, entry.page), manifest, { history, base: "../../" });
	}
	writePage(join(site, "index.html"), current, { history });
	writeHistory(site, history);
}

/** A release's builds, as its id is made of them (manifest.ts releaseIdOf): "ami <system> <build>", "container <arch> <digest>". */
export function buildsOf(manifest: ReleaseManifest): string[] {
	return [
		...Object.entries(manifest.amis).map(([system, release]) => `ami ${system} ${release.buildId}`),
		...Object.entries(manifest.containers?.images ?? {}).map(
			([architecture, image]) => `container ${architecture} ${image.digest}`,
		),
	];
}

/**
 * What each rollback took users off: the builds of a rolled-back release
 * that the release it went back to lacks (a build both had was not what
 * went wrong), with the rolled-back release's version.
 */
export function rolledBackBuilds(
	history: History,
	kept: ReadonlyMap<string, ReleaseManifest>,
): { version: string; builds: string[] }[] {
	return history.releases
		.filter((entry) => entry.rolledBack)
		.map((entry) => {
			const target = entry.rolledBackTo ? kept.get(entry.rolledBackTo) : undefined;
			const kept_ = new Set(target ? buildsOf(target) : []);
			const left = kept.get(entry.releaseId);
			return {
				version: entry.version,
				builds: (left ? buildsOf(left) : []).filter((build) => !kept_.has(build)),
			};
		})
		.filter((rolledBack) => rolledBack.builds.length > 0);
}

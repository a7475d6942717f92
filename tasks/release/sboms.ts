/**
 * The SBOMs a release carries. Each released image's sbom.cdx.json (which
 * its build wrote beside it, tasks/sbom/image.ts; in CI the images job hands
 * it over with the records) is untrusted input: before anything is released
 * it must be CycloneDX 1.6 by the library's validator and be about exactly
 * the image that is released — its subject's SHA-256 equal to the manifest
 * digest the registry serves, or to the disk image's SHA-256 read from the
 * source AMI's ImageSha256 tag in EC2. Then it is copied into the release's
 * site (outputs/main/release/sbom/<system>/<image>.cdx.json) and listed in
 * release.json with its own SHA-256, so the page, `verify --provenance` and
 * the pipeline's SBOM attestations all name the same bytes.
 *
 * Beside them, each system's AMI statement predicate
 * (provenance/<system>.ami-predicate.json): what the pipeline attests about
 * the AMIs (tasks/provenance/statements.ts), made from what release checked.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { writeAtomically } from "../project/files.ts";
import type { ImageKind } from "../project/outputs.ts";
import { amiStatement, canonicalJson } from "../provenance/statements.ts";
import { TaskError } from "../runner/errors.ts";
import { bomProblem } from "../sbom/bom.ts";
import { sbomPath } from "../sbom/image.ts";
import type { ReleasedSbom, ReleaseManifest } from "./manifest.ts";

/** actions/attest refuses a larger SBOM predicate (its src/sbom.ts); refused here first. */
export const SBOM_SIZE_LIMIT = 16 * 1024 * 1024;

/** An image release goes on with, and the digest its SBOM must be about. */
export interface SbomWanted {
	system: string;
	image: ImageKind;
	/** The released image's SHA-256 (hex): its manifest digest, or its disk image's. */
	sha256: string;
}

export interface CheckedSbom extends ReleasedSbom {
	text: string;
}

/** Where an SBOM goes in the release's site, relative to it (and so in release.json). */
export function sbomSitePath(system: string, image: ImageKind): string {
	return `sbom/${system}/${image}.cdx.json`;
}

/** Where a system's AMI statement predicate goes in the release's site, relative to it. */
export function amiPredicateSitePath(system: string): string {
	return `provenance/${system}.ami-predicate.json`;
}

/** The SHA-256 that an SBOM's metadata.component names, when it names one. */
export function sbomSubjectSha256(bom: unknown): string | undefined {
	const hashes = (bom as { metadata?: { component?: { hashes?: unknown } } } | null)?.metadata
		?.component?.hashes;
	if (!Array.isArray(hashes)) return undefined;
	const sha256 = hashes.find((hash) => (hash as { alg?: unknown })?.alg === "SHA-256") as
		| { content?: unknown }
		| undefined;
	return typeof sha256?.content === "string" ? sha256.content : undefined;
}

/**
 * Each wanted image's SBOM, read and checked, none written: a missing,
 * oversized, invalid or foreign SBOM is refused in one sentence that says
 * how to make it again, before anything is released.
 */
export async function checkSboms(
	root: string,
	wanted: readonly SbomWanted[],
): Promise<CheckedSbom[]> {
	const checked: CheckedSbom[] = [];
	for (const { system, image, sha256 } of wanted) {
		const path = sbomPath(root, image, system);
		const shown = relative(root, path);
		const remake = `make it again where the image was built (\`bun task sbom --system ${system}\`; in CI the images job uploads it with the records) and release again. Nothing was released`;
		if (!existsSync(path)) {
			throw new TaskError(
				`${shown} is missing: the release carries every image's SBOM; ${remake}.`,
			);
		}
		if (statSync(path).size > SBOM_SIZE_LIMIT) {
			throw new TaskError(
				`${shown} is larger than the ${SBOM_SIZE_LIMIT / 1024 / 1024} MiB an SBOM attestation may hold; ${remake}.`,
			);
		}
		const text = readFileSync(path, "utf8");
		let bom: unknown;
		try {
			bom = JSON.parse(text);
		} catch {
			throw new TaskError(`${shown} is not JSON; ${remake}.`);
		}
		const problem = await bomProblem(text);
		if (problem !== undefined) {
			throw new TaskError(`${shown} is not valid CycloneDX 1.6 (${problem}); ${remake}.`);
		}
		const subject = sbomSubjectSha256(bom);
		if (subject !== sha256) {
			throw new TaskError(
				`${shown} describes ${subject === undefined ? "no image" : /^[0-9a-f]{64}$/.test(subject) ? `sha256:${subject}` : "something that is no SHA-256"}, not the released ${image === "oci-container" ? "container image" : "disk image"} sha256:${sha256} (an SBOM of another build); ${remake}.`,
			);
		}
		checked.push({
			system,
			image,
			path: sbomSitePath(system, image),
			sha256: createHash("sha256").update(text).digest("hex"),
			subject: `sha256:${sha256}`,
			text,
		});
	}
	return checked;
}

/** What release.json lists of the SBOMs (their text stays out of it), by system and image. */
export function listedSboms(sboms: readonly CheckedSbom[]): ReleasedSbom[] {
	const key = (sbom: ReleasedSbom) => `${sbom.system} ${sbom.image}`;
	return sboms
		.map(({ text: _text, ...listed }) => listed)
		.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Each system's AMI statement predicate, as its site file holds it (canonical JSON). */
export function amiPredicates(manifest: ReleaseManifest): Map<string, string> {
	const predicates = new Map<string, string>();
	for (const [system, release] of Object.entries(manifest.amis)) {
		// Releases of builds published by older versions lack these; verify reports them.
		if (release.imageSha256 === undefined || release.snapshotContent === undefined) continue;
		const statement = amiStatement(system, release, release.imageSha256, release.snapshotId);
		predicates.set(system, `${canonicalJson(statement.predicate)}\n`);
	}
	return predicates;
}

/** Removes the files under `dir` that `keep` (paths relative to `site`) does not name. */
function removeOthers(site: string, dir: string, keep: ReadonlySet<string>): void {
	if (!existsSync(dir)) return;
	for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
		const path = join(entry.parentPath, entry.name);
		if (entry.isFile() && !keep.has(relative(site, path))) rmSync(path, { force: true });
	}
}

/**
 * Writes the SBOMs and AMI statement predicates into the release's site
 * (`site`: outputs/main/release), each in one rename, and removes those of
 * an earlier release there: the site holds exactly what release.json lists.
 */
export function writeReleaseFiles(
	site: string,
	sboms: readonly CheckedSbom[],
	predicates: ReadonlyMap<string, string>,
): void {
	const files = new Map<string, string>([
		...sboms.map((sbom) => [sbom.path, sbom.text] as const),
		...[...predicates].map(([system, text]) => [amiPredicateSitePath(system), text] as const),
	]);
	for (const [path, text] of files) {
		mkdirSync(dirname(join(site, path)), { recursive: true });
		writeAtomically(join(site, path), text);
	}
	const keep = new Set(files.keys());
	for (const top of ["sbom", "provenance"]) removeOthers(site, join(site, top), keep);
}

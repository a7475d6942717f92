/**
 * A release.json read back (to render its page again, to compare a new
 * release with it) is checked field by field against the forms release
 * writes (project/formats.ts): anything else is refused in one sentence that
 * names the fields, never their content, before any of it reaches a page.
 */
import { BLOCK_SIZE } from "../../infra/publish/blocks.ts";
import { decodeBlockRanges, type SnapshotContent } from "../../infra/publish/snapshot-content.ts";
import { SYSTEM_ARCHITECTURES } from "../../infra/vocabulary.ts";
import { type Format, matches } from "../project/formats.ts";
import { TaskError } from "../runner/errors.ts";
import type { ReleaseManifest } from "./manifest.ts";

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields =>
	typeof value === "object" && value !== null && !Array.isArray(value);

/** Collects the names of the fields that are not of their form. */
class Problems {
	readonly found: string[] = [];

	need(ok: boolean, field: string): boolean {
		if (!ok) this.found.push(field);
		return ok;
	}

	/** `object[key]` is of `format` (or absent, when optional). */
	field(object: Fields, key: string, format: Format, path: string, optional = false): void {
		if (optional && object[key] === undefined) return;
		this.need(matches(format, object[key]), `${path}.${key}`);
	}
}

/**
 * Whether `value` is a snapshot's content as publish records it (ami.json,
 * then release.json): EBS's block size, a whole number of GiB, block ranges
 * that parse and agree with the count, a base64 SHA-256.
 */
export function isSnapshotContent(value: unknown): value is SnapshotContent {
	if (!isObject(value)) return false;
	const { blockSize, volumeSize, blockIndexes, changedBlocks, linearChecksum } = value;
	// EBS direct snapshots are at most 64 TiB.
	if (
		blockSize !== BLOCK_SIZE ||
		!Number.isInteger(volumeSize) ||
		(volumeSize as number) < 1 ||
		(volumeSize as number) > 65_536
	) {
		return false;
	}
	if (typeof blockIndexes !== "string" || typeof linearChecksum !== "string") return false;
	if (!/^[A-Za-z0-9+/]{43}=$/.test(linearChecksum)) return false;
	const blocks = ((volumeSize as number) * 1024 ** 3) / BLOCK_SIZE;
	// The ranges ascend, so the last number is the highest index: checked before any is expanded,
	// so a hostile range cannot make the check itself fill memory.
	const highest = Number(/(\d+)$/.exec(blockIndexes)?.[1] ?? -1);
	if (highest >= blocks || !Number.isInteger(changedBlocks) || (changedBlocks as number) > blocks) {
		return false;
	}
	try {
		const indexes = decodeBlockRanges(blockIndexes);
		return indexes.length === changedBlocks;
	} catch {
		return false;
	}
}

function checkSystem(
	problems: Problems,
	path: string,
	release: unknown,
	regions: readonly string[] | undefined,
): void {
	if (!problems.need(isObject(release), path) || !isObject(release)) return;
	problems.field(release, "buildId", "buildId", path);
	problems.field(release, "label", "version", path);
	problems.field(release, "builtAt", "time", path, true);
	problems.field(release, "imageSha256", "sha256", path, true);
	problems.field(release, "ssmParameter", "ssmParameter", path);
	problems.need(
		release.smokeTest === "passed" || release.smokeTest === "skipped",
		`${path}.smokeTest`,
	);
	problems.need(
		release.imageBuilderImage === "" || matches("imageBuilderImage", release.imageBuilderImage),
		`${path}.imageBuilderImage`,
	);
	const source = release.sourceImage;
	if (problems.need(isObject(source), `${path}.sourceImage`) && isObject(source)) {
		problems.field(source, "region", "region", `${path}.sourceImage`);
		problems.field(source, "imageId", "amiId", `${path}.sourceImage`);
		problems.field(source, "name", "amiName", `${path}.sourceImage`);
	}
	problems.need(
		release.snapshotContent === undefined || isSnapshotContent(release.snapshotContent),
		`${path}.snapshotContent`,
	);
	problems.field(release, "snapshotId", "snapshotId", path, true);
	const copies = release.regions;
	const entries = isObject(copies) ? Object.entries(copies) : [];
	problems.need(
		entries.length > 0 &&
			entries.every(
				([region, imageId]) =>
					matches("region", region) &&
					(regions === undefined || regions.includes(region)) &&
					matches("amiId", imageId),
			),
		`${path}.regions`,
	);
}

function checkContainers(problems: Problems, containers: unknown): void {
	const path = "containers";
	if (!problems.need(isObject(containers), path) || !isObject(containers)) return;
	problems.field(containers, "repository", "repository", path);
	problems.field(containers, "nixVersion", "version", path);
	problems.field(containers, "indexDigest", "digest", path);
	const tags = containers.tags;
	problems.need(
		isObject(tags) &&
			matches("tag", tags.release) &&
			Array.isArray(tags.moving) &&
			tags.moving.every((tag) => matches("tag", tag)),
		`${path}.tags`,
	);
	const images = isObject(containers.images) ? Object.entries(containers.images) : [];
	problems.need(
		images.length > 0 &&
			images.every(
				([architecture, image]) =>
					Object.values(SYSTEM_ARCHITECTURES).some((system) => system.oci === architecture) &&
					isObject(image) &&
					typeof image.system === "string" &&
					Object.hasOwn(SYSTEM_ARCHITECTURES, image.system) &&
					matches("buildId", image.buildId) &&
					matches("tag", image.tag) &&
					matches("digest", image.digest),
			),
		`${path}.images`,
	);
}

/** Each SBOM entry names a file of the site only where release puts it (no other path). */
function checkSboms(problems: Problems, sboms: unknown): void {
	problems.need(
		Array.isArray(sboms) &&
			sboms.every(
				(sbom) =>
					isObject(sbom) &&
					typeof sbom.system === "string" &&
					Object.hasOwn(SYSTEM_ARCHITECTURES, sbom.system) &&
					(sbom.image === "oci-container" || sbom.image === "virtual-machine") &&
					sbom.path === `sbom/${sbom.system}/${sbom.image}.cdx.json` &&
					matches("sha256", sbom.sha256) &&
					matches("digest", sbom.subject),
			),
		".sboms",
	);
}

/**
 * `value` as a release manifest, or a TaskError naming (never echoing) the
 * fields that are missing or not of their form. `shownPath` names the file.
 */
export function checkManifest(value: unknown, shownPath: string): ReleaseManifest {
	const problems = new Problems();
	if (!isObject(value)) {
		throw new TaskError(
			`${shownPath} is no release manifest (not a JSON object); run \`bun task release\` again to write it anew.`,
		);
	}
	problems.field(value, "version", "releaseVersion", "");
	problems.field(value, "releaseId", "releaseId", "");
	problems.field(value, "releasedAt", "time", "");
	problems.field(value, "stack", "stackName", "");
	problems.need(typeof value.publicAmis === "boolean", ".publicAmis");
	const regions = value.regions;
	const regionList =
		Array.isArray(regions) && regions.every((region) => matches("region", region))
			? (regions as string[])
			: undefined;
	problems.need(regions === undefined || regionList !== undefined, ".regions");
	const amis = value.amis;
	if (problems.need(isObject(amis), ".amis") && isObject(amis)) {
		for (const [system, release] of Object.entries(amis)) {
			const path = `.amis.${Object.hasOwn(SYSTEM_ARCHITECTURES, system) ? system : "<system>"}`;
			problems.need(Object.hasOwn(SYSTEM_ARCHITECTURES, system), path);
			checkSystem(problems, path, release, regionList);
		}
	}
	if (value.containers !== undefined) checkContainers(problems, value.containers);
	if (value.sboms !== undefined) checkSboms(problems, value.sboms);
	problems.need(
		(isObject(amis) && Object.keys(amis).length > 0) || value.containers !== undefined,
		".amis or .containers",
	);
	if (problems.found.length > 0) {
		const fields = [...new Set(problems.found.map((field) => field.replace(/^\./, "")))];
		throw new TaskError(
			`${shownPath} is no release manifest this version can render (no valid ${fields.join(", ")}); run \`bun task release\` again to write it anew.`,
		);
	}
	return value as unknown as ReleaseManifest;
}

/**
 * The in-toto statements this project signs besides GitHub's own SLSA
 * provenance, and the parser `verify --provenance` reads them back with.
 *
 * The AMI statement ties each AMI to the bytes that were built: its subject
 * is the disk image (`nixos.img` by SHA-256, the same subject as the image's
 * build provenance), its predicate what publish made of those bytes (the
 * source snapshot, the blocks with data and their LINEAR checksum, which EBS
 * checked when the snapshot was completed) and every region's AMI. A user
 * holding an AMI id reads the image digest from the AMI's tag, fetches the
 * statement by that digest, and with `verify --deep` can check the snapshot's
 * checksum against it.
 *
 * Its predicate type is AMI_PREDICATE_TYPE,
 * `https://github.com/nix-images/attestations/ami/v1`: an identifier, never
 * fetched. It stays as long as the predicate keeps this shape; a change that
 * an older reader would misread (a field renamed, removed or meaning
 * something else) makes it `…/ami/v2`, and the parser here refuses what it
 * does not know rather than guess.
 */
import { BLOCK_SIZE } from "../../infra/publish/blocks.ts";
import type { SnapshotContent } from "../../infra/publish/snapshot-content.ts";
import { matches } from "../project/formats.ts";
import type { SystemRelease } from "../release/manifest.ts";

export const IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
/** The DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const AMI_PREDICATE_TYPE = "https://github.com/nix-images/attestations/ami/v1";
/** The AMI statement's subject: the disk image file the build wrote. */
export const AMI_SUBJECT_NAME = "nixos.img";

/** An in-toto v1 resource descriptor, as far as subjects of this project use one. */
export interface Subject {
	name?: string;
	digest: Record<string, string>;
}

export interface Statement<Predicate = unknown> {
	_type: typeof IN_TOTO_STATEMENT_TYPE;
	subject: Subject[];
	predicateType: string;
	predicate?: Predicate;
}

export interface AmiPredicate {
	system: string;
	buildId: string;
	/** The source snapshot publish made from the image; the AMIs in every region were copied from it. */
	snapshotId: string;
	snapshotContent: SnapshotContent;
	sourceImage: { region: string; imageId: string };
	/** region → AMI id, sorted by region. */
	regions: Record<string, string>;
}

export interface AmiStatement extends Statement<AmiPredicate> {
	subject: [{ name: typeof AMI_SUBJECT_NAME; digest: { sha256: string } }];
	predicateType: typeof AMI_PREDICATE_TYPE;
	predicate: AmiPredicate;
}

/**
 * What the AMI statement takes of a system's release (release.json's
 * SystemRelease has it all but the snapshot id, which publish records in
 * ami.json and release reads from EC2 as the source AMI's root device).
 */
export type AmiRelease = Pick<SystemRelease, "buildId" | "regions" | "snapshotContent"> & {
	sourceImage: Pick<SystemRelease["sourceImage"], "region" | "imageId">;
	snapshotId?: string;
};

export type Parsed<T> = { ok: true; statement: T } | { ok: false; reason: string };

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** As tasks/project/systems.ts takes them. */
const SYSTEM = /^[a-z0-9_]+-linux$/;
/** Base64 of a SHA-256: what EBS takes as a LINEAR checksum. */
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;
const GIB = 1024 ** 3;

/** A value as a reason shows it: short, on one line. */
function shown(value: unknown): string {
	const text = value === undefined ? "nothing" : JSON.stringify(value);
	return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
	typeof value === "object" && value !== null && !Array.isArray(value);

/** The keys of `value` that `allowed` lacks. */
const extraKeys = (value: Record<string, unknown>, allowed: readonly string[]) =>
	Object.keys(value).filter((key) => !allowed.includes(key));

/** JSON with every object's keys sorted: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
	return JSON.stringify(value, (_key, entry: unknown) =>
		isObject(entry)
			? Object.fromEntries(
					Object.keys(entry)
						.sort()
						.map((key) => [key, entry[key]]),
				)
			: entry,
	);
}

/** An image digest as the statements carry it: bare lower-case hex (`sha256:` taken off). */
export function sha256Hex(digest: string): string {
	const hex = digest.replace(/^sha256:/, "").toLowerCase();
	if (!SHA256_HEX.test(hex)) throw new Error(`${shown(digest)} is not a SHA-256 digest.`);
	return hex;
}

/**
 * Any in-toto v1 statement (a DSSE payload, parsed or as text): the type,
 * at least one subject with digests, the predicate type. What the predicate
 * says is for the reader of that type.
 */
export function parseStatement(value: unknown): Parsed<Statement> {
	let json = value;
	if (typeof value === "string" || value instanceof Uint8Array) {
		try {
			json = JSON.parse(typeof value === "string" ? value : new TextDecoder().decode(value));
		} catch {
			return { ok: false, reason: "The statement is not JSON." };
		}
	}
	if (!isObject(json)) return { ok: false, reason: "The statement is not a JSON object." };
	if (json._type !== IN_TOTO_STATEMENT_TYPE) {
		return {
			ok: false,
			reason: `The statement's type is ${shown(json._type)}, not ${IN_TOTO_STATEMENT_TYPE}.`,
		};
	}
	const subjects = json.subject;
	if (!Array.isArray(subjects) || subjects.length === 0) {
		return { ok: false, reason: "The statement has no subjects." };
	}
	for (const [index, subject] of subjects.entries()) {
		const digest = isObject(subject) ? subject.digest : undefined;
		const good =
			isObject(subject) &&
			(subject.name === undefined || typeof subject.name === "string") &&
			isObject(digest) &&
			Object.keys(digest).length > 0 &&
			Object.values(digest).every((hex) => typeof hex === "string");
		if (!good) {
			return {
				ok: false,
				reason: `The statement's subject ${index + 1} is ${shown(subject)}, not a name with digests.`,
			};
		}
	}
	if (typeof json.predicateType !== "string" || json.predicateType === "") {
		return { ok: false, reason: "The statement has no predicate type." };
	}
	return { ok: true, statement: json as unknown as Statement };
}

/**
 * How many blocks the ranges of encodeBlockRanges name ("0-12,40" → 14) and
 * the last one, counted without listing them: a statement is untrusted, and
 * "0-99999999" must not fill memory. Its own form only (ascending, apart, no
 * leading zeros), so one set of blocks has one text.
 */
function countBlockRanges(text: string): { count: number; last: number } | undefined {
	let count = 0;
	let last = -2;
	if (text === "") return { count, last: -1 };
	for (const part of text.split(",")) {
		const match = /^(0|[1-9]\d{0,15})(?:-([1-9]\d{0,15}))?$/.exec(part);
		if (match === null) return undefined;
		const first = Number(match[1]);
		const end = match[2] === undefined ? first : Number(match[2]);
		if (end < first || (match[2] !== undefined && end === first) || first <= last + 1) {
			return undefined;
		}
		count += end - first + 1;
		last = end;
	}
	return { count, last };
}

function snapshotContentProblem(content: unknown): string | undefined {
	const fields = ["blockSize", "volumeSize", "blockIndexes", "changedBlocks", "linearChecksum"];
	if (!isObject(content)) return `is ${shown(content)}, not an object`;
	const extra = extraKeys(content, fields);
	if (extra.length > 0) return `has ${extra.join(", ")}, which the AMI statement v1 does not`;
	const { blockSize, volumeSize, blockIndexes, changedBlocks, linearChecksum } = content;
	if (blockSize !== BLOCK_SIZE)
		return `has the block size ${shown(blockSize)}, not EBS's ${BLOCK_SIZE}`;
	if (!Number.isSafeInteger(volumeSize) || (volumeSize as number) < 1) {
		return `has the volume size ${shown(volumeSize)}, not a whole number of GiB`;
	}
	const ranges = typeof blockIndexes === "string" ? countBlockRanges(blockIndexes) : undefined;
	if (ranges === undefined) {
		return `has the block indexes ${shown(blockIndexes)}, not ascending ranges such as "0-12,40"`;
	}
	const blocks = ((volumeSize as number) * GIB) / BLOCK_SIZE;
	if (ranges.last >= blocks) {
		return `names block ${ranges.last}, beyond the ${blocks} blocks of its ${volumeSize} GiB volume`;
	}
	if (changedBlocks !== ranges.count) {
		return `counts ${shown(changedBlocks)} changed blocks but its indexes name ${ranges.count}`;
	}
	if (typeof linearChecksum !== "string" || !BASE64_SHA256.test(linearChecksum)) {
		return `has the checksum ${shown(linearChecksum)}, not a base64 SHA-256`;
	}
	return undefined;
}

function amiPredicateProblem(predicate: unknown, imageSha256: string): string | undefined {
	const fields = [
		"system",
		"buildId",
		"snapshotId",
		"snapshotContent",
		"sourceImage",
		"regions",
	] as const;
	if (!isObject(predicate)) return `its predicate is ${shown(predicate)}, not an object`;
	const extra = extraKeys(predicate, fields);
	if (extra.length > 0) {
		return `its predicate has ${extra.join(", ")}, which the AMI statement v1 does not`;
	}
	const missing = fields.filter((field) => predicate[field] === undefined);
	if (missing.length > 0) return `its predicate has no ${missing.join(", ")}`;
	const { system, buildId, snapshotId, snapshotContent, sourceImage, regions } = predicate;
	if (typeof system !== "string" || !SYSTEM.test(system)) {
		return `its system ${shown(system)} is not a Linux Nix system`;
	}
	if (!matches("buildId", buildId)) return `its build id ${shown(buildId)} is not one`;
	// The build id is the start of the image's SHA-256 (names.ts): a statement whose two disagree describes two builds.
	if (buildId !== imageSha256.slice(0, 16)) {
		return `its build id ${buildId} is not that of the image sha256:${imageSha256}`;
	}
	if (!matches("snapshotId", snapshotId)) return `its snapshot id ${shown(snapshotId)} is not one`;
	const content = snapshotContentProblem(snapshotContent);
	if (content !== undefined) return `its snapshot content ${content}`;
	if (
		!isObject(sourceImage) ||
		extraKeys(sourceImage, ["region", "imageId"]).length > 0 ||
		!matches("region", sourceImage.region) ||
		!matches("amiId", sourceImage.imageId)
	) {
		return `its source image ${shown(sourceImage)} is not a region and an AMI id`;
	}
	if (!isObject(regions) || Object.keys(regions).length === 0) {
		return `its regions ${shown(regions)} are not a map of region to AMI id`;
	}
	for (const [region, ami] of Object.entries(regions)) {
		if (!matches("region", region) || !matches("amiId", ami)) {
			return `its region ${shown(region)} has ${shown(ami)}, not a region with an AMI id`;
		}
	}
	return undefined;
}

/**
 * An AMI statement, parsed or as text, checked field by field: anything
 * that is not exactly an AMI statement v1 is refused with one sentence.
 */
export function parseAmiStatement(value: unknown): Parsed<AmiStatement> {
	const parsed = parseStatement(value);
	if (!parsed.ok) return parsed;
	const statement = parsed.statement as unknown as Record<string, unknown>;
	const refuse = (problem: string): Parsed<AmiStatement> => ({
		ok: false,
		reason: `The AMI statement is refused: ${problem}.`,
	});
	if (statement.predicateType !== AMI_PREDICATE_TYPE) {
		return refuse(
			`its predicate type is ${shown(statement.predicateType)}, not ${AMI_PREDICATE_TYPE}`,
		);
	}
	const extra = extraKeys(statement, ["_type", "subject", "predicateType", "predicate"]);
	if (extra.length > 0)
		return refuse(`it has ${extra.join(", ")}, which an in-toto statement does not`);
	const subjects = parsed.statement.subject;
	const subject = subjects[0] as Subject;
	if (subjects.length !== 1 || subject.name !== AMI_SUBJECT_NAME) {
		return refuse(
			`its subjects are ${shown(subjects.map((s) => s.name))}, not the one ${AMI_SUBJECT_NAME}`,
		);
	}
	const digests = Object.keys(subject.digest);
	const sha256 = subject.digest.sha256;
	if (digests.length !== 1 || sha256 === undefined || !SHA256_HEX.test(sha256)) {
		return refuse(`its subject's digest ${shown(subject.digest)} is not one lower-case sha256`);
	}
	const problem = amiPredicateProblem(parsed.statement.predicate, sha256);
	if (problem !== undefined) return refuse(problem);
	return { ok: true, statement: parsed.statement as AmiStatement };
}

/**
 * The AMI statement of one system's release: its disk image (`imageSha256`,
 * hex or `sha256:…`), the source snapshot (`snapshotId`, or the release's
 * own when it carries one; see AmiRelease), what publish
 * recorded of the snapshot's content, and its AMIs by region in order. The
 * same release gives the same statement, and canonicalJson the same bytes.
 * It is parsed back before it is returned, so what is signed always reads.
 */
export function amiStatement(
	system: string,
	release: AmiRelease,
	imageSha256: string,
	snapshotId: string | undefined = release.snapshotId,
): AmiStatement {
	const recorded = release.snapshotContent;
	if (recorded === undefined) {
		throw new Error(
			`The release of ${system} records no snapshot content (published by an older version): publish it again to attest its AMIs.`,
		);
	}
	if (snapshotId === undefined) {
		throw new Error(`No source snapshot was given for ${system}'s AMI statement.`);
	}
	const statement: AmiStatement = {
		_type: IN_TOTO_STATEMENT_TYPE,
		subject: [{ name: AMI_SUBJECT_NAME, digest: { sha256: sha256Hex(imageSha256) } }],
		predicateType: AMI_PREDICATE_TYPE,
		predicate: {
			system,
			buildId: release.buildId,
			snapshotId,
			// Field by field: a record read from ami.json may carry more than the statement says.
			snapshotContent: {
				blockSize: recorded.blockSize,
				volumeSize: recorded.volumeSize,
				blockIndexes: recorded.blockIndexes,
				changedBlocks: recorded.changedBlocks,
				linearChecksum: recorded.linearChecksum,
			},
			sourceImage: { region: release.sourceImage.region, imageId: release.sourceImage.imageId },
			regions: Object.fromEntries(
				Object.entries(release.regions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
			),
		},
	};
	const parsed = parseAmiStatement(statement);
	if (!parsed.ok) throw new Error(parsed.reason);
	return parsed.statement;
}

/**
 * `verify --provenance`: the release's supply-chain files, as the pipeline
 * publishes them beside release.json (sbom/, attestations/), checked against
 * release.json and signed by this repository's pipeline. Every file is
 * untrusted input (downloaded from the site, or handed over): read with
 * limits, never echoed, each bundle verified with @sigstore/verify against
 * the trusted root the user gives before anything it says counts.
 *
 * What must hold, each a row of the report:
 * - each released image has an SBOM listed in release.json, the file there
 *   has the recorded SHA-256, and its subject is the released digest (the
 *   container's manifest digest, the disk image's SHA-256); an SBOM
 *   attestation (CycloneDX predicate) of that digest signs exactly that SBOM;
 * - SLSA provenance names each disk image, the container index and each
 *   platform manifest, and release.json itself;
 * - each system's AMI statement is about its disk image and says what
 *   release.json says (build, snapshot, its content, every region's AMI);
 *   with --deep, its checksum and blocks are the ones read back.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { TrustMaterial } from "@sigstore/verify";
import type { Finding } from "../../infra/verify/findings.ts";
import { trustMaterialOf, verifyAttestation } from "../provenance/bundles.ts";
import {
	AMI_PREDICATE_TYPE,
	canonicalJson,
	parseAmiStatement,
	parseStatement,
	type Statement,
} from "../provenance/statements.ts";
import type { ReleaseManifest } from "../release/manifest.ts";
import { sbomSubjectSha256 } from "../release/sboms.ts";
import type { DeepResult } from "./deep.ts";

/** The workflow whose jobs attest (its images, release and attest jobs), at the ref it runs them. */
export const SIGNING_WORKFLOW = ".github/workflows/pipeline.yml";
export const SIGNING_REF = "refs/heads/main";
export const SLSA_PROVENANCE_TYPE = "https://slsa.dev/provenance/v1";
export const CYCLONEDX_PREDICATE_TYPE = "https://cyclonedx.org/bom";
/** Where the pipeline puts the bundles, beside release.json, and the list of them. */
export const ATTESTATIONS_INDEX = "attestations/index.json";
/** actions/attest's SBOM limit, and room for the bundle around it. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;
const BUNDLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.sigstore\.json$/;

export interface ProvenanceResult {
	what: string;
	where: string;
	findings: Finding[];
	unchecked?: string;
}

export interface ProvenanceInputs {
	/** The release.json checked, its file, and the site its files are in (sbom/, attestations/). */
	manifest: ReleaseManifest;
	releasePath: string;
	site: string;
	/** owner/name */
	repository: string;
	trust: TrustMaterial;
	/** verify --deep's read-backs, when it ran. */
	deep?: readonly DeepResult[];
}

/** The trusted root's file as trust material, or one sentence saying what is wrong with it. */
export function readTrustedRoot(path: string): TrustMaterial {
	if (!existsSync(path)) {
		throw new Error(
			`the trusted root ${path} does not exist; write it with \`gh attestation trusted-root > trusted_root.jsonl\``,
		);
	}
	try {
		return trustMaterialOf(readFileSync(path, "utf8"));
	} catch (error) {
		throw new Error(
			`${path} is no Sigstore trusted root (${(error as Error).message.replace(/\.$/, "")}); write it with \`gh attestation trusted-root > trusted_root.jsonl\``,
		);
	}
}

/** A bundle as read from the site, with what its statement claims before it is verified. */
interface Bundle {
	name: string;
	json: unknown;
	claims?: Statement;
}

/** A site file's bytes, or why it cannot be used (missing, too large, not a file). */
function readSiteFile(path: string): Buffer | string {
	if (!existsSync(path)) return "missing";
	const stat = statSync(path);
	if (!stat.isFile()) return "not a file";
	if (stat.size > MAX_FILE_BYTES) return `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`;
	return readFileSync(path);
}

/** What an unverified bundle's statement claims: only to choose which bundles to verify. */
function claimsOf(json: unknown): Statement | undefined {
	const payload = (json as { dsseEnvelope?: { payload?: unknown } } | null)?.dsseEnvelope?.payload;
	if (typeof payload !== "string") return undefined;
	const parsed = parseStatement(Buffer.from(payload, "base64"));
	return parsed.ok ? parsed.statement : undefined;
}

/** The bundles attestations/index.json lists, or why there are none to check. */
function readBundles(site: string): Bundle[] | string {
	const index = readSiteFile(join(site, ATTESTATIONS_INDEX));
	if (typeof index === "string") return `${ATTESTATIONS_INDEX} beside release.json is ${index}`;
	let names: unknown;
	try {
		names = (JSON.parse(index.toString("utf8")) as { bundles?: unknown }).bundles;
	} catch {
		return `${ATTESTATIONS_INDEX} is not JSON`;
	}
	if (!Array.isArray(names) || !names.every((name) => typeof name === "string")) {
		return `${ATTESTATIONS_INDEX} lists no bundles (it must be {"bundles": ["<name>.sigstore.json", …]})`;
	}
	const bundles: Bundle[] = [];
	for (const name of names as string[]) {
		// Names only, no paths: an index must not reach outside attestations/.
		if (!BUNDLE_NAME.test(name)) continue;
		const bytes = readSiteFile(join(site, "attestations", name));
		if (typeof bytes === "string") continue;
		try {
			const json = JSON.parse(bytes.toString("utf8"));
			bundles.push({ name, json, claims: claimsOf(json) });
		} catch {}
	}
	return bundles;
}

/** One attestation looked for: of `sha256`, of `predicateType`, and what its statement must say. */
interface Wanted {
	sha256: string;
	predicateType: string;
	/** What else the verified statement must say, as findings. */
	check?: (statement: Statement) => Finding[];
}

const PREDICATE_NAMES: Record<string, string> = {
	[SLSA_PROVENANCE_TYPE]: "SLSA provenance",
	[CYCLONEDX_PREDICATE_TYPE]: "SBOM attestation",
	[AMI_PREDICATE_TYPE]: "AMI statement",
};

/** The findings of one attestation looked for among `bundles`. */
function attested(
	wanted: Wanted,
	bundles: readonly Bundle[],
	inputs: ProvenanceInputs,
	system: string | undefined,
): Finding[] {
	const kind = PREDICATE_NAMES[wanted.predicateType] ?? wanted.predicateType;
	const base = { ...(system ? { system } : {}), subject: `${kind} of sha256:${wanted.sha256}` };
	const candidates = bundles.filter(
		(bundle) =>
			bundle.claims?.predicateType === wanted.predicateType &&
			bundle.claims.subject.some((subject) => subject.digest.sha256 === wanted.sha256),
	);
	const signer = `a bundle signed by ${inputs.repository}'s ${SIGNING_WORKFLOW} at ${SIGNING_REF}`;
	if (candidates.length === 0) {
		return [{ ...base, field: "attestation", expected: signer, actual: "none in attestations/" }];
	}
	let reason = "";
	let differing: Finding[] | undefined;
	for (const bundle of candidates) {
		const result = verifyAttestation(
			bundle.json,
			{
				subjects: [{ sha256: wanted.sha256 }],
				repository: inputs.repository,
				workflow: SIGNING_WORKFLOW,
				ref: SIGNING_REF,
				predicateType: wanted.predicateType,
			},
			inputs.trust,
		);
		if (!result.ok) {
			reason ||= `${bundle.name}: ${result.reason}`;
			continue;
		}
		// Several signed statements may name the digest (an older SBOM, say): any one that says
		// what release.json says will do; else the first one's differences are shown.
		const findings = wanted.check?.(result.statement) ?? [];
		if (findings.length === 0) return [];
		differing ??= findings;
	}
	return differing ?? [{ ...base, field: "attestation", expected: signer, actual: reason }];
}

const sha256Of = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const hexOf = (digest: string) => digest.replace(/^sha256:/, "");

/** Each released image's SBOM: listed, its file as recorded, about the released digest, attested. */
function sbomResults(
	inputs: ProvenanceInputs,
	site: string,
	bundles: readonly Bundle[] | string,
): ProvenanceResult[] {
	const { manifest } = inputs;
	const released = [
		...Object.entries(manifest.amis).map(([system, release]) => ({
			system,
			image: "virtual-machine" as const,
			sha256: release.imageSha256,
		})),
		...Object.values(manifest.containers?.images ?? {}).map((image) => ({
			system: image.system,
			image: "oci-container" as const,
			sha256: hexOf(image.digest),
		})),
	];
	return released.map(({ system, image, sha256 }) => {
		const what = `${system} ${image} SBOM`;
		const listed = manifest.sboms?.find((sbom) => sbom.system === system && sbom.image === image);
		const result: ProvenanceResult = { what, where: listed?.path ?? "release.json", findings: [] };
		const base = { system, subject: `SBOM of the ${image}` };
		if (sha256 === undefined) {
			result.unchecked = `release.json records no digest of ${system}'s disk image (published by an older version)`;
			return result;
		}
		if (listed === undefined) {
			result.findings.push({
				...base,
				field: "in release.json",
				expected: "listed",
				actual: "not listed",
			});
			return result;
		}
		const bytes = readSiteFile(join(site, listed.path));
		if (typeof bytes === "string") {
			result.findings.push({ ...base, field: "file", expected: listed.path, actual: bytes });
			return result;
		}
		const actual = sha256Of(bytes);
		if (actual !== listed.sha256) {
			result.findings.push({ ...base, field: "SHA-256", expected: listed.sha256, actual });
		}
		let bom: unknown;
		try {
			bom = JSON.parse(bytes.toString("utf8"));
		} catch {
			result.findings.push({ ...base, field: "content", expected: "JSON", actual: "not JSON" });
			return result;
		}
		const subject = sbomSubjectSha256(bom);
		if (subject !== sha256 || listed.subject !== `sha256:${sha256}`) {
			result.findings.push({
				...base,
				field: "subject",
				expected: `sha256:${sha256}`,
				actual:
					subject === undefined
						? "(none)"
						: /^[0-9a-f]{64}$/.test(subject)
							? `sha256:${subject}`
							: "(not a SHA-256)",
			});
		}
		if (typeof bundles === "string") {
			result.unchecked = bundles;
			return result;
		}
		result.findings.push(
			...attested(
				{
					sha256,
					predicateType: CYCLONEDX_PREDICATE_TYPE,
					check: (statement) =>
						canonicalJson(statement.predicate) === canonicalJson(bom)
							? []
							: [
									{
										...base,
										field: "attested SBOM",
										expected: `the bytes of ${listed.path}`,
										actual: "another SBOM",
									},
								],
				},
				bundles,
				inputs,
				system,
			),
		);
		return result;
	});
}

/** The AMI statement's predicate against release.json (and, with --deep, the bytes read back). */
function amiStatementFindings(
	system: string,
	statement: Statement,
	inputs: ProvenanceInputs,
): Finding[] {
	const release = inputs.manifest.amis[system];
	const base = { system, subject: "AMI statement" };
	const parsed = parseAmiStatement(statement);
	if (!parsed.ok || release === undefined) {
		return [
			{
				...base,
				field: "predicate",
				expected: "an AMI statement (ami/v1)",
				actual: parsed.ok ? "(none)" : parsed.reason,
			},
		];
	}
	const predicate = parsed.statement.predicate;
	const findings: Finding[] = [];
	const field = (name: string, expected: unknown, actual: unknown) => {
		const [e, a] = [canonicalJson(expected ?? null), canonicalJson(actual ?? null)];
		if (e !== a) findings.push({ ...base, field: name, expected: e, actual: a });
	};
	field("system", system, predicate.system);
	field("buildId", release.buildId, predicate.buildId);
	if (release.snapshotId !== undefined)
		field("snapshotId", release.snapshotId, predicate.snapshotId);
	field("snapshotContent", release.snapshotContent, predicate.snapshotContent);
	field(
		"sourceImage",
		{ region: release.sourceImage.region, imageId: release.sourceImage.imageId },
		predicate.sourceImage,
	);
	field("regions", release.regions, predicate.regions);
	const readBack = inputs.deep?.find((deep) => deep.system === system)?.readBack;
	if (readBack !== undefined) {
		const back = { system, subject: "AMI statement against the snapshot read back" };
		for (const key of ["linearChecksum", "blockIndexes"] as const) {
			if (readBack[key] !== predicate.snapshotContent[key]) {
				findings.push({
					...back,
					field: key,
					expected: readBack[key],
					actual: predicate.snapshotContent[key],
				});
			}
		}
	}
	return findings;
}

/** Every row of `verify --provenance`. */
export function checkProvenance(inputs: ProvenanceInputs): ProvenanceResult[] {
	const { manifest, releasePath, site } = inputs;
	const bundles = readBundles(site);
	const results = sbomResults(inputs, site, bundles);
	const attestationRow = (
		what: string,
		where: string,
		system: string | undefined,
		wanted: Wanted[],
	): ProvenanceResult => {
		if (typeof bundles === "string") return { what, where, findings: [], unchecked: bundles };
		return {
			what,
			where,
			findings: wanted.flatMap((one) => attested(one, bundles, inputs, system)),
		};
	};
	for (const [system, release] of Object.entries(manifest.amis)) {
		const sha256 = release.imageSha256;
		if (sha256 === undefined) {
			results.push({
				what: `${system} disk image`,
				where: "nixos.img",
				findings: [],
				unchecked: `release.json records no digest of ${system}'s disk image (published by an older version)`,
			});
			continue;
		}
		results.push(
			attestationRow(`${system} disk image`, "nixos.img", system, [
				{ sha256, predicateType: SLSA_PROVENANCE_TYPE },
			]),
			attestationRow(`${system} AMIs`, "AMI statement", system, [
				{
					sha256,
					predicateType: AMI_PREDICATE_TYPE,
					check: (statement) => amiStatementFindings(system, statement, inputs),
				},
			]),
		);
	}
	const containers = manifest.containers;
	if (containers) {
		results.push(
			attestationRow("container", "index and each platform manifest", undefined, [
				{ sha256: hexOf(containers.indexDigest), predicateType: SLSA_PROVENANCE_TYPE },
				...Object.values(containers.images).map((image) => ({
					sha256: hexOf(image.digest),
					predicateType: SLSA_PROVENANCE_TYPE,
				})),
			]),
		);
	}
	results.push(
		attestationRow("release.json", "SLSA provenance", undefined, [
			{ sha256: sha256Of(readFileSync(releasePath)), predicateType: SLSA_PROVENANCE_TYPE },
		]),
	);
	return results;
}

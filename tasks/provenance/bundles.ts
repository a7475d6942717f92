/**
 * One attestation bundle checked as `verify --provenance` needs it: the
 * Sigstore bundle verifies (certificate chain to the trusted root, SCT,
 * transparency log entry, DSSE signature over the statement), its signer is
 * this repository's GitHub Actions workflow, and its in-toto statement names
 * the released digests (and the predicate type, when asked). The answer is a
 * statement or one sentence saying what differs; never an exception, since a
 * release file is untrusted input and the report shows the reason as it is.
 *
 * What GitHub's Fulcio certificates hold (fulcio docs/oid-info.md): the SAN
 * URI is the workflow that ran the job, `https://github.com/<owner>/<repo>/
 * .github/workflows/<file>@<ref>` (for a reusable workflow, that one); the
 * OID 1.3.6.1.4.1.57264.1.8 the token's issuer; 1.3.6.1.4.1.57264.1.12 the
 * repository the run belongs to. Both the SAN's repository and 1.12 must be
 * this repository, as `gh attestation verify --repo` requires by default, so
 * neither another repository's workflow nor another repository calling ours
 * passes. Owner and name compare case-insensitively (GitHub's are); the
 * workflow path exactly (a file name in git).
 *
 * Subjects: every expected digest must be among the statement's subjects,
 * and more subjects are accepted. One `actions/attest` call may cover several
 * files (a glob, or a checksums file), and signing them together says no
 * less of each; a statement that lacks a released digest is refused.
 */
import { bundleFromJSON, ValidationError } from "@sigstore/bundle";
import { TrustedRoot } from "@sigstore/protobuf-specs";
import {
	PolicyError,
	type Signer,
	type TrustMaterial,
	toSignedEntity,
	toTrustMaterial,
	VerificationError,
	Verifier,
	type VerifierOptions,
} from "@sigstore/verify";
import { IN_TOTO_PAYLOAD_TYPE, parseStatement, type Statement, sha256Hex } from "./statements.ts";

export const GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com";

/** Fulcio's certificate extensions (fulcio docs/oid-info.md) that the identity check reads. */
const OID = {
	issuerV1: "1.3.6.1.4.1.57264.1.1",
	issuer: "1.3.6.1.4.1.57264.1.8",
	/** "owner/repo", before 1.12 existed. */
	repositoryV1: "1.3.6.1.4.1.57264.1.5",
	sourceRepositoryUri: "1.3.6.1.4.1.57264.1.12",
	/** The ref of the run (refs/heads/main), beside the SAN's @ref. */
	sourceRepositoryRef: "1.3.6.1.4.1.57264.1.14",
} as const;

export interface ExpectedAttestation {
	/** Every one must be a subject of the statement (by SHA-256, hex or `sha256:…`; by name too when given). */
	subjects: { name?: string; sha256: string }[];
	/** owner/name */
	repository: string;
	/** The signing workflow's path in the repository: `.github/workflows/pipeline.yml`. */
	workflow?: string;
	/**
	 * The git ref the signing run was of (`refs/heads/main`): the workflow file at
	 * that ref signed, so a branch or pull request that edits the workflow does not pass.
	 */
	ref?: string;
	predicateType?: string;
}

export type AttestationResult = { ok: true; statement: Statement } | { ok: false; reason: string };

/** A library's message as part of a sentence: one line, no closing period. */
function clause(text: string): string {
	return text.replace(/\s+/g, " ").trim().replace(/[.]$/, "");
}

const messageOf = (error: unknown) =>
	clause(error instanceof Error ? error.message : String(error));

/** A GitHub repository as owner/name. */
export const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const SAN = /^https:\/\/github\.com\/([^/]+\/[^/]+)\/(\.github\/workflows\/[^@]+)@(.+)$/;

/**
 * Trust material from what a caller holds: TrustMaterial as it is; a
 * trusted root's JSON (Sigstore's `trusted_root.json`); a list of them, or
 * the JSON lines `gh attestation trusted-root` writes (the public-good root
 * and GitHub's own), merged. Throws one sentence when it is none of these.
 */
export function trustMaterialOf(trust: unknown): TrustMaterial {
	if (typeof trust === "object" && trust !== null && "publicKey" in trust) {
		if (typeof trust.publicKey === "function") return trust as TrustMaterial;
	}
	let roots: unknown[];
	if (typeof trust === "string") {
		try {
			roots = trust
				.split("\n")
				.filter((line) => line.trim() !== "")
				.map((line) => JSON.parse(line));
		} catch {
			// One pretty-printed trusted_root.json rather than JSON lines.
			try {
				roots = [JSON.parse(trust)];
			} catch {
				throw new Error("The trusted root is neither JSON nor JSON lines.");
			}
		}
	} else {
		roots = Array.isArray(trust) ? trust : [trust];
	}
	const materials = roots.map((root, index) => {
		const which = roots.length > 1 ? ` ${index + 1}` : "";
		if (typeof root !== "object" || root === null || !("certificateAuthorities" in root)) {
			throw new Error(`The trusted root${which} is not a Sigstore trusted root.`);
		}
		try {
			return toTrustMaterial(TrustedRoot.fromJSON(root));
		} catch (error) {
			throw new Error(`The trusted root${which} is malformed: ${messageOf(error)}.`);
		}
	});
	const [first] = materials;
	if (first === undefined || materials.every((m) => m.certificateAuthorities.length === 0)) {
		throw new Error("The trusted root has no certificate authority.");
	}
	return {
		certificateAuthorities: materials.flatMap((m) => m.certificateAuthorities),
		timestampAuthorities: materials.flatMap((m) => m.timestampAuthorities),
		tlogs: materials.flatMap((m) => m.tlogs),
		ctlogs: materials.flatMap((m) => m.ctlogs),
		// Keyless bundles carry a certificate: the key finder of a root made without keys refuses any hint.
		publicKey: first.publicKey,
	};
}

/** A Fulcio extension's text: newer ones are DER UTF8Strings, the first ones (…1.1 to …1.6) raw bytes. */
function extensionText(signer: Signer, oid: string): string | undefined {
	const found = signer.identity?.oids?.find((entry) => entry.oid?.id.join(".") === oid);
	if (found === undefined) return undefined;
	const value = Buffer.from(found.value);
	if (value[0] !== 0x0c) return value.toString("utf8");
	// Tag 0x0c, then the length: short form, or 0x81/0x82 and one or two length bytes.
	const first = value[1] ?? 0;
	const lengthBytes = first < 0x80 ? 0 : first - 0x80;
	if (lengthBytes > 2 || value.length < 2 + lengthBytes) return undefined;
	const length = lengthBytes === 0 ? first : value.readUIntBE(2, lengthBytes);
	return value.subarray(2 + lengthBytes, 2 + lengthBytes + length).toString("utf8");
}

/** Why the signer is not `expected`'s workflow, or undefined when it is. */
function identityProblem(signer: Signer, expected: ExpectedAttestation): string | undefined {
	const issuer =
		signer.identity?.extensions?.issuer ??
		extensionText(signer, OID.issuer) ??
		extensionText(signer, OID.issuerV1);
	if (issuer !== GITHUB_ACTIONS_ISSUER) {
		return `The attestation was signed by an identity of ${issuer ?? "no issuer"}, not of GitHub Actions (${GITHUB_ACTIONS_ISSUER}).`;
	}
	const san = signer.identity?.subjectAlternativeName;
	const match = san === undefined ? null : SAN.exec(san);
	if (match === null) {
		return `The attestation's signer ${san ?? "(no subject alternative name)"} is not a GitHub Actions workflow.`;
	}
	const [, repository = "", workflow = "", ref = ""] = match;
	const want = expected.repository.toLowerCase();
	if (repository.toLowerCase() !== want) {
		return `The attestation was signed by a workflow of ${repository} (${san}), not of ${expected.repository}.`;
	}
	const source =
		extensionText(signer, OID.sourceRepositoryUri) ??
		(() => {
			const legacy = extensionText(signer, OID.repositoryV1);
			return legacy === undefined ? undefined : `https://github.com/${legacy}`;
		})();
	if (source?.toLowerCase() !== `https://github.com/${want}`) {
		return `The attestation was made by a run of ${source ?? "no named repository"}, not of https://github.com/${expected.repository} (its signer is ${san}).`;
	}
	if (expected.workflow !== undefined && workflow !== expected.workflow.replace(/^\.\//, "")) {
		return `The attestation was signed by ${expected.repository}'s workflow ${workflow}, not ${expected.workflow}.`;
	}
	if (expected.ref !== undefined) {
		const sourceRef = extensionText(signer, OID.sourceRepositoryRef);
		if (ref !== expected.ref || (sourceRef !== undefined && sourceRef !== expected.ref)) {
			return `The attestation was signed by ${workflow} at ${ref || "no ref"}${sourceRef !== undefined && sourceRef !== ref ? ` (a run of ${sourceRef})` : ""}, not at ${expected.ref}.`;
		}
	}
	return undefined;
}

/** A subject as a reason shows it: `sha256:… (name)`. */
function subjectText(subject: { name?: string; digest: Record<string, string> }): string {
	const digest = Object.entries(subject.digest)
		.map(([algorithm, hex]) => `${algorithm}:${hex}`)
		.join(", ");
	return subject.name === undefined ? digest : `${digest} (${subject.name})`;
}

/** Why the statement does not name `expected`'s subjects, or undefined when it does. */
function subjectsProblem(statement: Statement, expected: ExpectedAttestation): string | undefined {
	for (const want of expected.subjects) {
		const hex = sha256Hex(want.sha256);
		const same = statement.subject.filter((s) => s.digest.sha256?.toLowerCase() === hex);
		const release = subjectText({ name: want.name, digest: { sha256: hex } });
		if (same.length === 0) {
			const shown = statement.subject.slice(0, 3).map(subjectText).join(", ");
			const more = statement.subject.length > 3 ? ` and ${statement.subject.length - 3} more` : "";
			return `The attestation names ${shown}${more} but the release has ${release}.`;
		}
		if (want.name !== undefined && !same.some((s) => s.name === want.name)) {
			const names = same.map((s) => s.name ?? "no name").join(", ");
			return `The attestation names sha256:${hex} as ${names} but the release has it as ${want.name}.`;
		}
	}
	return undefined;
}

/** A verification failure as one sentence: what the check found, in sigstore's words after ours. */
function verificationReason(error: unknown): string {
	if (error instanceof VerificationError || error instanceof PolicyError) {
		const detail = clause(error.message);
		switch (error.code) {
			case "SIGNATURE_ERROR":
				return `The attestation's signature does not verify: its statement or signature was changed after signing (${detail}).`;
			case "TLOG_BODY_ERROR":
				return `The attestation's envelope is not what the transparency log recorded: its statement or signature was changed after signing (${detail}).`;
			case "CERTIFICATE_ERROR":
				return `The attestation's certificate is not one the trusted root vouches for (${detail}).`;
			case "TLOG_ERROR":
			case "TLOG_INCLUSION_PROOF_ERROR":
			case "TLOG_INCLUSION_PROMISE_ERROR":
			case "TLOG_MISSING_INCLUSION_ERROR":
				return `The attestation's transparency log entry does not verify against the trusted root (${detail}).`;
			case "TIMESTAMP_ERROR":
				return `The attestation has no timestamp the trusted root vouches for (${detail}).`;
			default:
				return `The attestation does not verify against the trusted root (${error.code}: ${detail}).`;
		}
	}
	return `The attestation does not verify against the trusted root (${messageOf(error)}).`;
}

/**
 * Whether `bundleJson` (a Sigstore bundle's JSON, as `actions/attest`
 * writes it and GitHub's attestations API returns it) is a signed statement
 * of `expected`, verified against `trust` (see trustMaterialOf; real use
 * passes Sigstore's public-good root, which GitHub uses for public
 * repositories). `options` go to @sigstore/verify's Verifier (its defaults:
 * one transparency log entry, one SCT, one timestamp). It throws only when
 * `expected` itself is malformed (a caller's mistake, not the bundle's).
 */
export function verifyAttestation(
	bundleJson: unknown,
	expected: ExpectedAttestation,
	trust: TrustMaterial | unknown,
	options?: VerifierOptions,
): AttestationResult {
	if (!REPOSITORY.test(expected.repository)) {
		throw new Error(`"${expected.repository}" is not a GitHub repository (owner/name).`);
	}
	// No subjects would take a statement of anything.
	if (expected.subjects.length === 0) throw new Error("An attestation is checked for no subjects.");
	for (const subject of expected.subjects) sha256Hex(subject.sha256);
	// On one line whatever a certificate or statement holds: a reason goes into a table row.
	const refuse = (reason: string): AttestationResult => ({
		ok: false,
		reason: reason.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, " "),
	});

	let material: TrustMaterial;
	try {
		material = trustMaterialOf(trust);
	} catch (error) {
		return refuse((error as Error).message);
	}
	if (typeof bundleJson !== "object" || bundleJson === null || Array.isArray(bundleJson)) {
		return refuse("The attestation is not a Sigstore bundle: it is not a JSON object.");
	}
	let bundle: ReturnType<typeof bundleFromJSON>;
	try {
		bundle = bundleFromJSON(bundleJson);
	} catch (error) {
		// The bundle library names the fields it misses; a value of the wrong type fails deeper,
		// in protobuf or Buffer code, whose messages say nothing of the bundle (and run on).
		const problem =
			error instanceof ValidationError
				? `${clause(error.message)}${error.fields.length > 0 ? ` (${error.fields.join(", ")})` : ""}`
				: "one of its fields holds a value of the wrong type";
		return refuse(`The attestation is not a Sigstore bundle: ${problem}.`);
	}
	if (bundle.content.$case !== "dsseEnvelope") {
		return refuse(
			"The attestation is a signature of a file, not a signed statement (a DSSE envelope).",
		);
	}
	if (bundle.verificationMaterial.content.$case === "publicKey") {
		return refuse(
			"The attestation was signed with a key, not with a Fulcio certificate of a GitHub Actions workflow.",
		);
	}

	let entity: ReturnType<typeof toSignedEntity>;
	try {
		// Parses the certificate and any RFC 3161 timestamps, which the bundle holds as DER bytes.
		entity = toSignedEntity(bundle);
	} catch (error) {
		return refuse(
			`The attestation's certificate or timestamps cannot be read (${messageOf(error)}).`,
		);
	}
	let signer: Signer;
	try {
		signer = new Verifier(material, options).verify(entity);
	} catch (error) {
		return refuse(verificationReason(error));
	}
	const identity = identityProblem(signer, expected);
	if (identity !== undefined) return refuse(identity);

	const envelope = bundle.content.dsseEnvelope;
	if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
		return refuse(
			`The attestation's payload is ${envelope.payloadType || "of no type"}, not an in-toto statement (${IN_TOTO_PAYLOAD_TYPE}).`,
		);
	}
	const parsed = parseStatement(envelope.payload);
	if (!parsed.ok) return refuse(parsed.reason);
	const subjects = subjectsProblem(parsed.statement, expected);
	if (subjects !== undefined) return refuse(subjects);
	if (
		expected.predicateType !== undefined &&
		parsed.statement.predicateType !== expected.predicateType
	) {
		return refuse(
			`The attestation's predicate type is ${parsed.statement.predicateType}, not ${expected.predicateType}.`,
		);
	}
	return { ok: true, statement: parsed.statement };
}

/**
 * Bundles made offline by @sigstore/sign against @sigstore/mock's Fulcio
 * and Rekor (test/fixtures/sigstore: a server on 127.0.0.1 and a trusted
 * root for it), with GitHub's certificate identity, checked as
 * `verify --provenance` checks a release's attestations.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { snapshotContent } from "../../infra/publish/snapshot-content.ts";
import {
	type MockSigstore,
	startMockSigstore,
	type WorkflowIdentity,
} from "../../test/fixtures/sigstore/mock-sigstore.ts";
import { type ExpectedAttestation, trustMaterialOf, verifyAttestation } from "./bundles.ts";
import {
	AMI_PREDICATE_TYPE,
	amiStatement,
	canonicalJson,
	IN_TOTO_STATEMENT_TYPE,
	parseAmiStatement,
} from "./statements.ts";

const IMAGE = createHash("sha256").update("the disk image").digest("hex");
const OTHER = createHash("sha256").update("another disk image").digest("hex");
const PROVENANCE = "https://slsa.dev/provenance/v1";
const PIPELINE: WorkflowIdentity = {
	repository: "Nix-Images/Nix-Images",
	workflow: ".github/workflows/pipeline.yml",
};
const EXPECTED: ExpectedAttestation = {
	subjects: [{ name: "nixos.img", sha256: IMAGE }],
	// GitHub's owner and repository names are case-insensitive: so is the check.
	repository: "nix-images/nix-images",
	workflow: ".github/workflows/pipeline.yml",
	predicateType: PROVENANCE,
};

function provenance(subjects: { name: string; sha256: string }[]): string {
	return JSON.stringify({
		_type: IN_TOTO_STATEMENT_TYPE,
		subject: subjects.map(({ name, sha256 }) => ({ name, digest: { sha256 } })),
		predicateType: PROVENANCE,
		predicate: {
			buildDefinition: { buildType: "https://actions.github.io/buildtypes/workflow/v1" },
		},
	});
}

let sigstore: MockSigstore;
let other: MockSigstore;
let good: unknown;

beforeAll(async () => {
	sigstore = await startMockSigstore();
	other = await startMockSigstore();
	good = await sigstore.sign(provenance([{ name: "nixos.img", sha256: IMAGE }]), PIPELINE);
});

afterAll(async () => {
	await sigstore?.stop();
	await other?.stop();
});

/** The refusal of `bundle` against EXPECTED (with `change`), checked to be one sentence. */
function refusal(
	bundle: unknown,
	change: Partial<ExpectedAttestation> = {},
	trust?: unknown,
): string {
	const result = verifyAttestation(
		bundle,
		{ ...EXPECTED, ...change },
		trust ?? sigstore.trustedRoot,
	);
	if (result.ok) throw new Error("the bundle was taken");
	expect(result.reason).not.toContain("\n");
	expect(result.reason).not.toMatch(/\bat .+:\d+:\d+/);
	expect(result.reason).toMatch(/^The .*\.$/);
	// One sentence: no full stop followed by another capitalised sentence.
	expect(result.reason).not.toMatch(/\.\s+[A-Z]/);
	return result.reason;
}

// biome-ignore lint/suspicious/noExplicitAny: the tests edit the JSON anywhere, as a forger would.
type Json = any;

/** A deep copy of a bundle's JSON with `change` applied. */
function edited(bundle: unknown, change: (json: Json) => void): unknown {
	const json = structuredClone(bundle);
	change(json);
	return json;
}

describe("verifyAttestation", () => {
	test("takes a bundle of this repository's workflow for the released digest", () => {
		const result = verifyAttestation(good, EXPECTED, sigstore.trustedRoot);
		expect(result).toEqual({
			ok: true,
			statement: JSON.parse(provenance([{ name: "nixos.img", sha256: IMAGE }])),
		});
	});

	test("takes the trusted root as TrustMaterial, JSON lines (gh attestation trusted-root) or a list", () => {
		const line = JSON.stringify(sigstore.trustedRoot);
		for (const trust of [
			trustMaterialOf(sigstore.trustedRoot),
			`${JSON.stringify(other.trustedRoot)}\n${line}\n`,
			JSON.stringify(sigstore.trustedRoot, null, 2),
			[other.trustedRoot, sigstore.trustedRoot],
		]) {
			expect(verifyAttestation(good, EXPECTED, trust).ok).toBe(true);
		}
	});

	test("takes a statement of more subjects than the release's, and digests given as sha256:…", async () => {
		const both = await sigstore.sign(
			provenance([
				{ name: "nixos.img", sha256: OTHER },
				{ name: "nixos.img", sha256: IMAGE },
			]),
			PIPELINE,
		);
		const result = verifyAttestation(
			both,
			{ ...EXPECTED, subjects: [{ sha256: `sha256:${IMAGE.toUpperCase()}` }] },
			sigstore.trustedRoot,
		);
		expect(result.ok).toBe(true);
	});

	test("refuses a bundle for another digest", async () => {
		const bundle = await sigstore.sign(
			provenance([{ name: "nixos.img", sha256: OTHER }]),
			PIPELINE,
		);
		expect(refusal(bundle)).toBe(
			`The attestation names sha256:${OTHER} (nixos.img) but the release has sha256:${IMAGE} (nixos.img).`,
		);
	});

	test("refuses a bundle that names the digest as another file", () => {
		expect(refusal(good, { subjects: [{ name: "nix.tar.gz", sha256: IMAGE }] })).toBe(
			`The attestation names sha256:${IMAGE} as nixos.img but the release has it as nix.tar.gz.`,
		);
	});

	test("refuses another repository's identity", async () => {
		const bundle = await sigstore.sign(provenance([{ name: "nixos.img", sha256: IMAGE }]), {
			...PIPELINE,
			repository: "someone/fork",
		});
		expect(refusal(bundle)).toBe(
			"The attestation was signed by a workflow of someone/fork (https://github.com/someone/fork/.github/workflows/pipeline.yml@refs/heads/main), not of nix-images/nix-images.",
		);
	});

	test("refuses a run of another repository that called this repository's workflow", async () => {
		const bundle = await sigstore.sign(provenance([{ name: "nixos.img", sha256: IMAGE }]), {
			...PIPELINE,
			caller: "someone/fork",
		});
		expect(refusal(bundle)).toBe(
			"The attestation was made by a run of https://github.com/someone/fork, not of https://github.com/nix-images/nix-images (its signer is https://github.com/Nix-Images/Nix-Images/.github/workflows/pipeline.yml@refs/heads/main).",
		);
	});

	test("refuses another workflow of this repository when one is asked for", async () => {
		const bundle = await sigstore.sign(provenance([{ name: "nixos.img", sha256: IMAGE }]), {
			...PIPELINE,
			workflow: ".github/workflows/pr.yml",
		});
		expect(refusal(bundle)).toBe(
			"The attestation was signed by nix-images/nix-images's workflow .github/workflows/pr.yml, not .github/workflows/pipeline.yml.",
		);
		expect(
			verifyAttestation(bundle, { ...EXPECTED, workflow: undefined }, sigstore.trustedRoot).ok,
		).toBe(true);
	});

	test("refuses an identity from another issuer than GitHub Actions", async () => {
		const bundle = await sigstore.sign(provenance([{ name: "nixos.img", sha256: IMAGE }]), {
			...PIPELINE,
			issuer: "https://gitlab.example.com",
		});
		expect(refusal(bundle)).toBe(
			"The attestation was signed by an identity of https://gitlab.example.com, not of GitHub Actions (https://token.actions.githubusercontent.com).",
		);
	});

	test("refuses a statement changed after signing", () => {
		const tampered = edited(good, (json) => {
			const statement = JSON.parse(Buffer.from(json.dsseEnvelope.payload, "base64").toString());
			statement.subject[0].digest.sha256 = OTHER;
			json.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString("base64");
		});
		expect(refusal(tampered, { subjects: [{ name: "nixos.img", sha256: OTHER }] })).toStartWith(
			"The attestation's envelope is not what the transparency log recorded: its statement or signature was changed after signing",
		);
	});

	test("refuses a signature that is not over the statement", () => {
		const forged = edited(good, (json) => {
			const signature = Buffer.from(json.dsseEnvelope.signatures[0].sig, "base64");
			signature[signature.length - 1] = (signature.at(-1) ?? 0) ^ 1;
			json.dsseEnvelope.signatures[0].sig = signature.toString("base64");
		});
		expect(refusal(forged)).toContain("changed after signing");
	});

	test("refuses a bundle whose certificate another Sigstore issued", () => {
		expect(refusal(good, {}, other.trustedRoot)).toStartWith(
			"The attestation's certificate is not one the trusted root vouches for",
		);
	});

	test("refuses another predicate type", () => {
		expect(refusal(good, { predicateType: AMI_PREDICATE_TYPE })).toBe(
			`The attestation's predicate type is ${PROVENANCE}, not ${AMI_PREDICATE_TYPE}.`,
		);
	});

	test("refuses a payload that is not an in-toto statement", async () => {
		const bundle = await sigstore.sign("hello", PIPELINE, "text/plain");
		expect(refusal(bundle)).toBe(
			"The attestation's payload is text/plain, not an in-toto statement (application/vnd.in-toto+json).",
		);
	});

	test.each([
		["null", null, "The attestation is not a Sigstore bundle: it is not a JSON object."],
		["text", "{}", "The attestation is not a Sigstore bundle: it is not a JSON object."],
		["an empty object", {}, "The attestation is not a Sigstore bundle: invalid bundle"],
		[
			"another media type",
			() => edited(good, (json) => (json.mediaType = "application/json")),
			"The attestation is not a Sigstore bundle: invalid bundle (mediaType).",
		],
		[
			"a payload of the wrong type",
			() => edited(good, (json) => (json.dsseEnvelope.payload = 42)),
			"The attestation is not a Sigstore bundle: one of its fields holds a value of the wrong type.",
		],
		[
			"a certificate that is not one",
			() => edited(good, (json) => (json.verificationMaterial.certificate.rawBytes = "AAAA")),
			"The attestation's certificate or timestamps cannot be read (unsupported tag 0x00).",
		],
		[
			"no transparency log entry",
			() => edited(good, (json) => (json.verificationMaterial.tlogEntries = [])),
			"The attestation has no timestamp the trusted root vouches for (expected 1 timestamps, got 0).",
		],
		[
			"a log entry whose promise is not the log's",
			() =>
				edited(
					good,
					(json) =>
						(json.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp =
							"AAAA"),
				),
			"The attestation's transparency log entry does not verify against the trusted root (inclusion promise could not be verified).",
		],
		[
			"no signature",
			() => edited(good, (json) => (json.dsseEnvelope.signatures = [])),
			"The attestation is not a Sigstore bundle: invalid bundle (content.dsseEnvelope.signatures).",
		],
		[
			"a message signature rather than a statement",
			() =>
				edited(good, (json) => {
					delete json.dsseEnvelope;
					json.messageSignature = {
						messageDigest: {
							algorithm: "SHA2_256",
							digest: Buffer.from(IMAGE, "hex").toString("base64"),
						},
						signature: "AAAA",
					};
				}),
			"The attestation is a signature of a file, not a signed statement (a DSSE envelope).",
		],
	])("refuses a malformed bundle: %s", (_, make, expected) => {
		const bundle = typeof make === "function" ? make() : make;
		expect(refusal(bundle)).toStartWith(expected);
	});

	test("refuses a trusted root that is not one, in a sentence", () => {
		expect(refusal(good, {}, { hello: "world" })).toBe(
			"The trusted root is not a Sigstore trusted root.",
		);
		expect(refusal(good, {}, "not json")).toBe("The trusted root is neither JSON nor JSON lines.");
	});

	test("throws for an expectation that is not one (the caller's mistake)", () => {
		expect(() =>
			verifyAttestation(
				good,
				{ ...EXPECTED, repository: "https://github.com/a/b" },
				sigstore.trustedRoot,
			),
		).toThrow('"https://github.com/a/b" is not a GitHub repository (owner/name).');
		expect(() =>
			verifyAttestation(good, { ...EXPECTED, subjects: [{ sha256: "abc" }] }, sigstore.trustedRoot),
		).toThrow('"abc" is not a SHA-256 digest.');
		expect(() =>
			verifyAttestation(good, { ...EXPECTED, subjects: [] }, sigstore.trustedRoot),
		).toThrow("An attestation is checked for no subjects.");
	});
});

describe("the AMI statement, signed", () => {
	test("verifies, and reads back as the statement that was signed", async () => {
		const statement = amiStatement(
			"aarch64-linux",
			{
				buildId: IMAGE.slice(0, 16),
				sourceImage: { region: "us-east-1", imageId: "ami-0123456789abcdef0" },
				regions: { "us-east-1": "ami-0000000000000000a", "eu-west-1": "ami-0000000000000000b" },
				snapshotContent: snapshotContent(2, new Map([[0, Buffer.alloc(32, 7)]])),
			},
			IMAGE,
			"snap-0123456789abcdef0",
		);
		const bundle = await sigstore.sign(canonicalJson(statement), PIPELINE);
		const result = verifyAttestation(
			bundle,
			{ ...EXPECTED, predicateType: AMI_PREDICATE_TYPE },
			sigstore.trustedRoot,
		);
		if (!result.ok) throw new Error(result.reason);
		expect(parseAmiStatement(result.statement)).toEqual({ ok: true, statement });
	});
});

/**
 * `verify --provenance` offline: a release's site as the pipeline publishes
 * it (release.json, sbom/, attestations/ with its index), its bundles made by
 * @sigstore/sign against @sigstore/mock's Fulcio and Rekor on 127.0.0.1 with
 * GitHub's workflow identity, checked by checkProvenance. test/verify.test.ts
 * runs `verify --provenance` itself against a release on the stand-in.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { snapshotContent } from "../infra/publish/snapshot-content.ts";
import { trustMaterialOf } from "../tasks/provenance/bundles.ts";
import { amiStatement, canonicalJson } from "../tasks/provenance/statements.ts";
import type { ReleaseManifest } from "../tasks/release/manifest.ts";
import { amiPredicateSitePath, amiPredicates } from "../tasks/release/sboms.ts";
import {
	ATTESTATIONS_INDEX,
	checkProvenance,
	type ProvenanceResult,
	SLSA_PROVENANCE_TYPE,
} from "../tasks/verify/provenance.ts";
import {
	attestSite,
	SLSA_PREDICATE,
	statementJson,
	writeBundle,
	writeIndex,
} from "./fixtures/sigstore/attest-site.ts";
import {
	type MockSigstore,
	startMockSigstore,
	type WorkflowIdentity,
} from "./fixtures/sigstore/mock-sigstore.ts";
import { tempDir } from "./helpers.ts";
import { sbomText } from "./sboms.ts";

const hex = (text: string) => createHash("sha256").update(text).digest("hex");
const DISK = hex("nixos.img");
const MANIFEST = hex("the amd64 manifest");
const INDEX = hex("the index");
const REPOSITORY = "nix-images/nix-images";
const PIPELINE: WorkflowIdentity = {
	repository: REPOSITORY,
	workflow: ".github/workflows/pipeline.yml",
	ref: "refs/heads/main",
};
const CONTENT = snapshotContent(
	1,
	new Map([
		[0, createHash("sha256").update("block 0").digest()],
		[5, createHash("sha256").update("block 5").digest()],
	]),
);

function manifestOf(): ReleaseManifest {
	return {
		version: "26.05.20260616.567a49d-0123456789ab",
		releaseId: "0123456789ab",
		releasedAt: "2026-12-01T00:00:00.000Z",
		stack: "NixImages",
		publicAmis: true,
		regions: ["eu-west-1", "us-east-1"],
		amis: {
			"x86_64-linux": {
				buildId: DISK.slice(0, 16),
				label: "26.05.20260616.567a49d",
				sourceImage: { region: "us-east-1", imageId: "ami-0123456789abcdef0", name: "nixos" },
				imageBuilderImage: "",
				ssmParameter: "/nix-images/NixImages/nixos/x86_64-linux/latest",
				smokeTest: "passed",
				regions: { "us-east-1": "ami-00000000000000001", "eu-west-1": "ami-00000000000000002" },
				snapshotContent: CONTENT,
				snapshotId: "snap-0123456789abcdef0",
				imageSha256: DISK,
			},
		},
		containers: {
			repository: "public.ecr.aws/alias/nix",
			nixVersion: "2.31.2",
			indexDigest: `sha256:${INDEX}`,
			tags: { release: "2.31.2-0123456789ab", moving: ["2.31.2", "latest"] },
			images: {
				amd64: {
					system: "x86_64-linux",
					buildId: MANIFEST.slice(0, 16),
					tag: "2.31.2-x",
					digest: `sha256:${MANIFEST}`,
				},
			},
		},
	};
}

const statement = statementJson;
const SLSA = SLSA_PREDICATE;

let sigstore: MockSigstore;
const work = tempDir("provenance");
const site = join(work, "site");
const releasePath = join(site, "release.json");

/** Writes a complete site: release.json, both SBOMs, the AMI predicate, a bundle per attestation, the index. */
async function writeSite(manifest = manifestOf()): Promise<void> {
	rmSync(site, { recursive: true, force: true });
	mkdirSync(join(site, "sbom/x86_64-linux"), { recursive: true });
	manifest.sboms = [];
	for (const [image, sha256] of [
		["oci-container", MANIFEST],
		["virtual-machine", DISK],
	] as const) {
		const path = `sbom/x86_64-linux/${image}.cdx.json`;
		const text = sbomText(image, sha256);
		writeFileSync(join(site, path), text);
		manifest.sboms.push({
			system: "x86_64-linux",
			image,
			path,
			sha256: hex(text),
			subject: `sha256:${sha256}`,
		});
	}
	writeFileSync(releasePath, `${JSON.stringify(manifest, null, 2)}\n`);
	for (const [system, text] of amiPredicates(manifest)) {
		mkdirSync(join(site, "provenance"), { recursive: true });
		writeFileSync(join(site, amiPredicateSitePath(system)), text);
	}
	await attestSite(site, manifest, releasePath, (payload) => sigstore.sign(payload, PIPELINE));
}

const bundle = (name: string, value: unknown) => writeBundle(site, name, value);
const BUNDLES = [
	"sbom-x86_64-linux-oci-container",
	"sbom-x86_64-linux-virtual-machine",
	"disk-x86_64-linux",
	"ami-x86_64-linux",
	"index",
	"manifest-amd64",
	"release",
];

function check(deep?: Parameters<typeof checkProvenance>[0]["deep"]): ProvenanceResult[] {
	const manifest = JSON.parse(readFileSync(releasePath, "utf8"));
	return checkProvenance({
		manifest,
		releasePath,
		site,
		repository: REPOSITORY,
		trust: trustMaterialOf(sigstore.trustedRoot),
		...(deep ? { deep } : {}),
	});
}

/** The rows that are not ✓, as "what: subject field → actual". */
function failures(results: ProvenanceResult[]): string[] {
	return results.flatMap((result) => [
		...result.findings.map(
			(finding) => `${result.what}: ${finding.subject} ${finding.field} → ${finding.actual}`,
		),
		...(result.unchecked ? [`${result.what}: unchecked ${result.unchecked}`] : []),
	]);
}

beforeAll(async () => {
	sigstore = await startMockSigstore();
});
afterAll(async () => {
	await sigstore?.stop();
	rmSync(work, { recursive: true, force: true });
});

describe("verify --provenance", () => {
	beforeEach(async () => {
		await writeSite();
	});

	test("a complete release: every SBOM and attestation holds, one row each", () => {
		const results = check();
		expect(failures(results)).toEqual([]);
		expect(results.map((result) => result.what)).toEqual([
			"x86_64-linux virtual-machine SBOM",
			"x86_64-linux oci-container SBOM",
			"x86_64-linux disk image",
			"x86_64-linux AMIs",
			"container",
			"release.json",
		]);
	});

	test("a bundle for another digest does not stand for the released one", async () => {
		await bundle(
			"manifest-amd64",
			await sigstore.sign(statement(hex("another"), SLSA_PROVENANCE_TYPE, SLSA), PIPELINE),
		);
		expect(failures(check())).toEqual([
			`container: SLSA provenance of sha256:${MANIFEST} attestation → none in attestations/`,
		]);
	});

	test("another repository's workflow is refused with its reason", async () => {
		const payload = statement(DISK, SLSA_PROVENANCE_TYPE, SLSA, "nixos.img");
		await bundle(
			"disk-x86_64-linux",
			await sigstore.sign(payload, { ...PIPELINE, repository: "someone/else" }),
		);
		const [failure, ...rest] = failures(check());
		expect(rest).toEqual([]);
		expect(failure).toStartWith(
			`x86_64-linux disk image: SLSA provenance of sha256:${DISK} attestation → disk-x86_64-linux.sigstore.json: `,
		);
		expect(failure).toContain("someone/else");
	});

	test("another workflow of this repository is refused too", async () => {
		const payload = statement(INDEX, SLSA_PROVENANCE_TYPE, SLSA);
		await bundle(
			"index",
			await sigstore.sign(payload, { ...PIPELINE, workflow: ".github/workflows/other.yml" }),
		);
		const [failure, ...rest] = failures(check());
		expect(rest).toEqual([]);
		expect(failure).toContain("index.sigstore.json: ");
		expect(failure).toContain(".github/workflows/other.yml");
	});

	test("the pipeline of a branch or pull request, which may have edited it, is refused", async () => {
		const payload = statement(INDEX, SLSA_PROVENANCE_TYPE, SLSA);
		await bundle("index", await sigstore.sign(payload, { ...PIPELINE, ref: "refs/pull/7/merge" }));
		const [failure, ...rest] = failures(check());
		expect(rest).toEqual([]);
		expect(failure).toContain(
			"index.sigstore.json: The attestation was signed by .github/workflows/pipeline.yml at refs/pull/7/merge",
		);
		expect(failure).toContain("not at refs/heads/main.");
	});

	test("of several signed statements about a digest, one that says what release.json says is enough", async () => {
		const manifest = manifestOf();
		const ami = manifest.amis["x86_64-linux"];
		if (ami === undefined) throw new Error("no AMI");
		const older = JSON.parse(JSON.stringify(amiStatement("x86_64-linux", ami, DISK)));
		older.predicate.regions["eu-west-1"] = "ami-0badbadbadbadbad0";
		await bundle("ami-older", await sigstore.sign(JSON.stringify(older), PIPELINE));
		writeIndex(site, ["ami-older", ...BUNDLES]);
		expect(failures(check())).toEqual([]);
	});

	test("a tampered statement fails its signature", async () => {
		const path = join(site, "attestations/ami-x86_64-linux.sigstore.json");
		const bundle = JSON.parse(readFileSync(path, "utf8"));
		const payload = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, "base64").toString());
		payload.predicate.regions["eu-west-1"] = "ami-0badbadbadbadbad0";
		bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(payload)).toString("base64");
		writeFileSync(path, JSON.stringify(bundle));
		const [failure, ...rest] = failures(check());
		expect(rest).toEqual([]);
		expect(failure).toStartWith(
			`x86_64-linux AMIs: AMI statement of sha256:${DISK} attestation → ami-x86_64-linux.sigstore.json: `,
		);
		expect(failure).toMatch(/signature/i);
	});

	test("a signed AMI statement that says other AMIs than release.json", async () => {
		const manifest = manifestOf();
		const ami = manifest.amis["x86_64-linux"];
		if (ami === undefined) throw new Error("no AMI");
		const payload = JSON.parse(JSON.stringify(amiStatement("x86_64-linux", ami, DISK)));
		payload.predicate.regions["eu-west-1"] = "ami-0badbadbadbadbad0";
		await bundle("ami-x86_64-linux", await sigstore.sign(JSON.stringify(payload), PIPELINE));
		expect(failures(check())).toEqual([
			'x86_64-linux AMIs: AMI statement regions → {"eu-west-1":"ami-0badbadbadbadbad0","us-east-1":"ami-00000000000000001"}',
		]);
	});

	test("--deep: the AMI statement's checksum against the bytes read back", () => {
		const other = snapshotContent(1, new Map([[0, createHash("sha256").update("x").digest()]]));
		const deep = [
			{
				system: "x86_64-linux",
				findings: [],
				blocks: 1,
				local: false,
				readBack: { blockIndexes: other.blockIndexes, linearChecksum: other.linearChecksum },
			},
		];
		expect(failures(check(deep))).toEqual([
			`x86_64-linux AMIs: AMI statement against the snapshot read back linearChecksum → ${CONTENT.linearChecksum}`,
			`x86_64-linux AMIs: AMI statement against the snapshot read back blockIndexes → ${CONTENT.blockIndexes}`,
		]);
		const same = [
			{
				...deep[0],
				readBack: { blockIndexes: CONTENT.blockIndexes, linearChecksum: CONTENT.linearChecksum },
			},
		];
		expect(failures(check(same as never))).toEqual([]);
	});

	test("an SBOM changed after the release: its SHA-256 and its attestation differ", () => {
		const path = join(site, "sbom/x86_64-linux/oci-container.cdx.json");
		const bom = JSON.parse(readFileSync(path, "utf8"));
		bom.components = [];
		writeFileSync(path, JSON.stringify(bom));
		const listed = JSON.parse(readFileSync(releasePath, "utf8")).sboms[0].sha256;
		expect(failures(check())).toEqual([
			`x86_64-linux oci-container SBOM: SBOM of the oci-container SHA-256 → ${hex(JSON.stringify(bom))}`,
			"x86_64-linux oci-container SBOM: SBOM of the oci-container attested SBOM → another SBOM",
		]);
		expect(listed).not.toBe(hex(JSON.stringify(bom)));
	});

	test("an SBOM of another image, and a released image without one", async () => {
		const manifest = manifestOf();
		await writeSite(manifest);
		const written = JSON.parse(readFileSync(releasePath, "utf8"));
		writeFileSync(
			join(site, "sbom/x86_64-linux/virtual-machine.cdx.json"),
			sbomText("virtual-machine", hex("other")),
		);
		written.sboms = written.sboms.filter(
			(sbom: { image: string }) => sbom.image === "virtual-machine",
		);
		writeFileSync(releasePath, JSON.stringify(written));
		const found = failures(check());
		expect(found).toContain(
			`x86_64-linux virtual-machine SBOM: SBOM of the virtual-machine subject → sha256:${hex("other")}`,
		);
		expect(found).toContain(
			"x86_64-linux oci-container SBOM: SBOM of the oci-container in release.json → not listed",
		);
	});

	test("without attestations/index.json nothing is taken as signed: each attestation row says why", () => {
		rmSync(join(site, ATTESTATIONS_INDEX));
		const results = check();
		expect(results.filter((result) => result.unchecked === undefined).map((r) => r.what)).toEqual(
			[],
		);
		expect(results[0]?.unchecked).toBe(`${ATTESTATIONS_INDEX} beside release.json is missing`);
	});

	test("an index that names a path outside attestations/ is not followed", () => {
		writeFileSync(
			join(work, "outside.sigstore.json"),
			readFileSync(join(site, "attestations/disk-x86_64-linux.sigstore.json")),
		);
		writeIndex(site, ["../../outside", ...BUNDLES.filter((name) => name !== "disk-x86_64-linux")]);
		expect(failures(check())).toEqual([
			`x86_64-linux disk image: SLSA provenance of sha256:${DISK} attestation → none in attestations/`,
		]);
	});

	test("canonical JSON compares the attested SBOM, not its formatting", () => {
		const bom = JSON.parse(
			readFileSync(join(site, "sbom/x86_64-linux/oci-container.cdx.json"), "utf8"),
		);
		expect(canonicalJson(bom)).toBe(canonicalJson(JSON.parse(JSON.stringify(bom, null, 4))));
	});
});

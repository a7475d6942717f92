import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { snapshotContent } from "../../infra/publish/snapshot-content.ts";
import {
	AMI_PREDICATE_TYPE,
	amiStatement,
	canonicalJson,
	IN_TOTO_STATEMENT_TYPE,
	parseAmiStatement,
	parseStatement,
	type Statement,
} from "./statements.ts";

const IMAGE_SHA256 = createHash("sha256").update("nixos.img").digest("hex");

/** A snapshot of 8 GiB with data in blocks 0-2 and 40: made as publish makes it. */
const CONTENT = snapshotContent(
	8,
	new Map([0, 1, 2, 40].map((index) => [index, Buffer.alloc(32, index)])),
);

const RELEASE = {
	buildId: IMAGE_SHA256.slice(0, 16),
	label: "26.05.20260616.567a49d",
	sourceImage: { region: "us-east-1", imageId: "ami-0123456789abcdef0", name: "nixos-x" },
	imageBuilderImage: "arn:aws:imagebuilder:us-east-1:123456789012:image/nixos/1.0.0/1",
	ssmParameter: "/nix-images/x86_64-linux/latest",
	smokeTest: "passed" as const,
	regions: {
		"us-west-2": "ami-0000000000000000b",
		"eu-west-1": "ami-0000000000000000c",
		"us-east-1": "ami-0000000000000000a",
	},
	snapshotContent: CONTENT,
};

const statement = () =>
	amiStatement("x86_64-linux", RELEASE, `sha256:${IMAGE_SHA256}`, "snap-0123456789abcdef0");

// biome-ignore lint/suspicious/noExplicitAny: the tests edit the JSON anywhere, as a forger would.
type Json = any;

/** A copy of the statement's JSON with `change` applied. */
function changed(change: (json: Json) => void): Json {
	const json = JSON.parse(canonicalJson(statement()));
	change(json);
	return json;
}

function refusal(value: unknown): string {
	const parsed = parseAmiStatement(value);
	if (parsed.ok) throw new Error("the statement was taken");
	return parsed.reason;
}

describe("the AMI statement", () => {
	test("has the disk image as subject and the release's AMIs, regions in order", () => {
		const made = statement();
		expect(made._type).toBe(IN_TOTO_STATEMENT_TYPE);
		expect(made.subject).toEqual([{ name: "nixos.img", digest: { sha256: IMAGE_SHA256 } }]);
		expect(made.predicateType).toBe(AMI_PREDICATE_TYPE);
		expect(made.predicate).toEqual({
			system: "x86_64-linux",
			buildId: IMAGE_SHA256.slice(0, 16),
			snapshotId: "snap-0123456789abcdef0",
			snapshotContent: CONTENT,
			sourceImage: { region: "us-east-1", imageId: "ami-0123456789abcdef0" },
			regions: RELEASE.regions,
		});
		expect(Object.keys(made.predicate.regions)).toEqual(["eu-west-1", "us-east-1", "us-west-2"]);
	});

	test("is the same bytes for the same release, whatever order it lists its regions in", () => {
		const reversed = {
			...RELEASE,
			regions: Object.fromEntries(Object.entries(RELEASE.regions).reverse()),
		};
		const again = amiStatement("x86_64-linux", reversed, IMAGE_SHA256, "snap-0123456789abcdef0");
		expect(canonicalJson(again)).toBe(canonicalJson(statement()));
		expect(JSON.stringify(again)).toBe(JSON.stringify(statement()));
	});

	test("round-trips through its JSON", () => {
		const text = canonicalJson(statement());
		const parsed = parseAmiStatement(text);
		expect(parsed).toEqual({ ok: true, statement: statement() });
		expect(parseAmiStatement(JSON.parse(text))).toEqual(parsed);
	});

	test("takes the snapshot id from the release when it carries one", () => {
		const made = amiStatement(
			"x86_64-linux",
			{ ...RELEASE, snapshotId: "snap-0123456789abcdef0" },
			IMAGE_SHA256,
		);
		expect(made).toEqual(statement());
	});

	test("is not made for a release without snapshot content, a snapshot, or of another image", () => {
		const { snapshotContent: _, ...older } = RELEASE;
		expect(() => amiStatement("x86_64-linux", older, IMAGE_SHA256, "snap-1")).toThrow(
			"records no snapshot content",
		);
		expect(() => amiStatement("x86_64-linux", RELEASE, IMAGE_SHA256)).toThrow(
			"No source snapshot was given for x86_64-linux",
		);
		expect(() =>
			amiStatement("x86_64-linux", RELEASE, "f".repeat(64), "snap-0123456789abcdef0"),
		).toThrow(`its build id ${RELEASE.buildId} is not that of the image sha256:${"f".repeat(64)}`);
	});
});

describe("parseAmiStatement refuses anything else, in one sentence", () => {
	test("a statement of another predicate type", () => {
		const reason = refusal(
			changed((json) => (json.predicateType = "https://slsa.dev/provenance/v1")),
		);
		expect(reason).toBe(
			`The AMI statement is refused: its predicate type is "https://slsa.dev/provenance/v1", not ${AMI_PREDICATE_TYPE}.`,
		);
	});

	test.each([
		["not JSON", "{", "The statement is not JSON."],
		["not an object", [], "The statement is not a JSON object."],
		[
			"an in-toto v0.1 statement",
			changed((json) => (json._type = "https://in-toto.io/Statement/v0.1")),
			`The statement's type is "https://in-toto.io/Statement/v0.1", not ${IN_TOTO_STATEMENT_TYPE}.`,
		],
		["no subjects", changed((json) => (json.subject = [])), "The statement has no subjects."],
		[
			"two subjects",
			changed((json) =>
				json.subject.push({ name: "other.img", digest: { sha256: "a".repeat(64) } }),
			),
			'its subjects are ["nixos.img","other.img"], not the one nixos.img',
		],
		[
			"another subject name",
			changed((json) => (json.subject[0].name = "nix.tar.gz")),
			'its subjects are ["nix.tar.gz"], not the one nixos.img',
		],
		[
			"an upper-case digest",
			changed((json) => (json.subject[0].digest.sha256 = IMAGE_SHA256.toUpperCase())),
			"is not one lower-case sha256",
		],
		[
			"the build id of another image",
			changed((json) => (json.predicate.buildId = "ffffffffffffffff")),
			"its build id ffffffffffffffff is not that of the image",
		],
		[
			"a field it does not know",
			changed((json) => (json.predicate.pcrs = {})),
			"its predicate has pcrs, which the AMI statement v1 does not",
		],
		[
			"a missing field",
			changed((json) => delete json.predicate.snapshotId),
			"its predicate has no snapshotId",
		],
		[
			"a count that is not its blocks'",
			changed((json) => (json.predicate.snapshotContent.changedBlocks = 5)),
			"counts 5 changed blocks but its indexes name 4",
		],
		[
			"ranges out of order",
			changed((json) => (json.predicate.snapshotContent.blockIndexes = "40,0-2")),
			'has the block indexes "40,0-2", not ascending ranges',
		],
		[
			"a block beyond its volume",
			changed((json) => (json.predicate.snapshotContent.blockIndexes = "0-2,99999")),
			"names block 99999, beyond the 16384 blocks of its 8 GiB volume",
		],
		[
			"a checksum that is no SHA-256",
			changed((json) => (json.predicate.snapshotContent.linearChecksum = "abc")),
			'has the checksum "abc", not a base64 SHA-256',
		],
		[
			"a region with no AMI id",
			changed((json) => (json.predicate.regions["us-east-2"] = "snap-1")),
			'its region "us-east-2" has "snap-1", not a region with an AMI id',
		],
	])("%s", (_, value, expected) => {
		const reason = refusal(value);
		expect(reason).toContain(expected);
		expect(reason).not.toContain("\n");
		expect(reason).toMatch(/\.$/);
	});
});

describe("parseStatement", () => {
	test("takes any in-toto v1 statement, from text or bytes", () => {
		const json: Statement = {
			_type: IN_TOTO_STATEMENT_TYPE,
			subject: [{ name: "nix.tar.gz", digest: { sha256: "a".repeat(64) } }],
			predicateType: "https://slsa.dev/provenance/v1",
			predicate: { buildDefinition: {} },
		};
		expect(parseStatement(Buffer.from(JSON.stringify(json)))).toEqual({
			ok: true,
			statement: json,
		});
		expect(parseStatement(JSON.stringify(json))).toEqual({ ok: true, statement: json });
	});

	test("refuses a subject without digests", () => {
		const parsed = parseStatement({
			_type: IN_TOTO_STATEMENT_TYPE,
			subject: [{ name: "nix.tar.gz" }],
			predicateType: "x",
		});
		expect(parsed).toEqual({
			ok: false,
			reason: `The statement's subject 1 is {"name":"nix.tar.gz"}, not a name with digests.`,
		});
	});
});

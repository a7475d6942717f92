import { describe, expect, test } from "bun:test";
import { bomProblem, makeBom, type Subject, serialNumber } from "./bom.ts";
import type { StoreObject } from "./store.ts";
import { SBOM_NAMESPACE, uuidV5 } from "./uuid.ts";

const path = (name: string, hash = "5h0ziygcanfbscxd8irpwhidfz61s953") =>
	`/nix/store/${hash}-${name}`;
const HELLO = path("hello-2.12");
const GLIBC = path("glibc-2.40-66-bin", "7yyy043df7qk3hjh6r2gcjwhxghc0zis");
const SOURCE = path("source", "h4l74phanx83p96bqjry2vas7fng0mdp");
const DIGEST = "ab".repeat(32);

const CLOSURE: StoreObject[] = [
	{ path: GLIBC, narHash: "01".repeat(32), references: [GLIBC] },
	{ path: HELLO, narHash: "02".repeat(32), references: [GLIBC, HELLO, SOURCE] },
	{ path: SOURCE, narHash: "03".repeat(32), references: [] },
];
const SUBJECT: Subject = {
	type: "container",
	name: "nix",
	version: "2.31.2",
	sha256: DIGEST,
	bomRef: `pkg:oci/nix@sha256:${DIGEST}`,
	purl: `pkg:oci/nix@sha256:${DIGEST}`,
	properties: { "nix:store_path": path("oci-container-2.31.2") },
};
const TOOL = { name: "nix-images", version: "0.2.0" };
const LICENSES = new Map([
	[HELLO, ["GPL-3.0-or-later"]],
	[GLIBC, ["LGPL-2.1-or-later", "Not-An-SPDX-Id"]],
]);

const make = (closure = CLOSURE) => makeBom(SUBJECT, [HELLO], closure, LICENSES, TOOL);
const parsed = () => JSON.parse(make());

describe("makeBom", () => {
	test("describes each store object as a library with Nix's name and version, NAR hash, purl and store path", () => {
		const hello = parsed().components.find((c: { name: string }) => c.name === "hello");
		expect(hello).toEqual({
			type: "library",
			name: "hello",
			version: "2.12",
			"bom-ref": HELLO,
			hashes: [{ alg: "SHA-256", content: "02".repeat(32) }],
			licenses: [{ license: { id: "GPL-3.0-or-later" } }],
			purl: "pkg:nix/hello@2.12",
			properties: [{ name: "nix:store_path", value: HELLO }],
		});
	});
	test("a name without a version has no version, and no @ in its purl", () => {
		const source = parsed().components.find((c: { name: string }) => c.name === "source");
		expect(source.version).toBeUndefined();
		expect(source.purl).toBe("pkg:nix/source");
		expect(source.licenses).toBeUndefined();
	});
	test("keeps a license id the SPDX list lacks as a named license", () => {
		const glibc = parsed().components.find((c: { name: string }) => c.name === "glibc");
		expect(glibc.licenses).toEqual([
			{ license: { name: "Not-An-SPDX-Id" } },
			{ license: { id: "LGPL-2.1-or-later" } },
		]);
	});
	test("the dependency graph follows the references, without self-references; the image depends on its roots", () => {
		expect(parsed().dependencies).toEqual([
			{ ref: HELLO, dependsOn: [GLIBC, SOURCE] },
			{ ref: GLIBC },
			{ ref: SOURCE },
			{ ref: SUBJECT.bomRef, dependsOn: [HELLO] },
		]);
	});
	test("the subject is the image, with its digest as hash and serial number", () => {
		const bom = parsed();
		expect(bom.metadata).toEqual({
			tools: {
				components: [
					{
						type: "application",
						name: "nix-images",
						version: "0.2.0",
						"bom-ref": "nix-images@0.2.0",
					},
				],
			},
			component: {
				type: "container",
				name: "nix",
				version: "2.31.2",
				"bom-ref": SUBJECT.bomRef,
				hashes: [{ alg: "SHA-256", content: DIGEST }],
				purl: SUBJECT.purl,
				properties: [{ name: "nix:store_path", value: path("oci-container-2.31.2") }],
			},
		});
		expect(bom.metadata.timestamp).toBeUndefined();
		expect(bom.serialNumber).toBe(`urn:uuid:${uuidV5(`sha256:${DIGEST}`, SBOM_NAMESPACE)}`);
		expect(bom.serialNumber).toBe(serialNumber(DIGEST));
		expect(bom.specVersion).toBe("1.6");
	});
	test("is the same bytes whatever order the store listed the closure in", () => {
		expect(make([...CLOSURE].reverse())).toBe(make());
		expect(make()).toEndWith("}\n");
	});
	test("is valid CycloneDX 1.6 by the library's strict validator", async () => {
		expect(await bomProblem(make())).toBeUndefined();
	});
	test("the validator finds what is wrong", async () => {
		const broken = parsed();
		broken.components[0].type = "nonsense";
		expect(await bomProblem(JSON.stringify(broken))).toBe(
			"/components/0/type must be equal to one of the allowed values",
		);
	});
});

/**
 * The SBOM itself: a CycloneDX 1.6 BOM of an image's closure, made with the
 * CycloneDX library (not hand-written JSON) and checked by its validator.
 * Everything in it is a function of the build: every bom-ref is set (the
 * library would otherwise make random ones), the serial number is a v5 UUID
 * of the subject's digest, there is no timestamp, and lists are sorted.
 */
import * as CDX from "@cyclonedx/cyclonedx-library";
import { PackageURL } from "packageurl-js";
import { parseDrvName, storePathName } from "./names.ts";
import type { StoreObject } from "./store.ts";
import { SBOM_NAMESPACE, uuidV5 } from "./uuid.ts";

/** What the SBOM describes: the image itself (metadata.component). */
export interface Subject {
	type: "container" | "operating-system";
	name: string;
	version: string | undefined;
	/** The image's digest (SHA-256, hex): the OCI manifest's, or the disk image file's. */
	sha256: string;
	bomRef: string;
	purl: string | undefined;
	properties: Readonly<Record<string, string>>;
}

/** Who made the SBOM (metadata.tools): this project, at its version. */
export interface Tool {
	name: string;
	version: string;
}

/** The serial number: the same for every SBOM of the same image. */
export function serialNumber(sha256: string): string {
	return `urn:uuid:${uuidV5(`sha256:${sha256}`, SBOM_NAMESPACE)}`;
}

/** An SPDX id the schema knows, as its license id; any other as a named license, not dropped. */
function license(id: string): CDX.Models.DisjunctiveLicense {
	const known = CDX.SPDX.fixupSpdxId(id);
	return known === undefined ? new CDX.Models.NamedLicense(id) : new CDX.Models.SpdxLicense(known);
}

/**
 * One store object as a component. Every one is a `library`: Nix cannot tell an
 * application from a library, and the one thing that is a whole system (a NixOS
 * toplevel) is the image itself, which the subject already describes.
 */
function component(object: StoreObject, licenses: readonly string[]): CDX.Models.Component {
	const full = storePathName(object.path) ?? object.path;
	const parsed = parseDrvName(full);
	// Nix's rule leaves no name for a name that starts with "-<digit>"; the schema wants one.
	const name = parsed.name === "" ? full : parsed.name;
	const version = parsed.name === "" ? "" : parsed.version;
	const item = new CDX.Models.Component(CDX.Enums.ComponentType.Library, name, {
		bomRef: object.path,
		version: version === "" ? undefined : version,
		// sbomnix's form; there is no registered purl type for Nix.
		purl: new PackageURL("nix", undefined, name, version === "" ? undefined : version).toString(),
	});
	item.hashes.set(CDX.Enums.HashAlgorithm["SHA-256"], object.narHash);
	// nixpkgs' CycloneDX property taxonomy (doc/interoperability/cyclonedx.md).
	item.properties.add(new CDX.Models.Property("nix:store_path", object.path));
	for (const id of licenses) item.licenses.add(license(id));
	return item;
}

function subjectComponent(subject: Subject): CDX.Models.Component {
	const type =
		subject.type === "container"
			? CDX.Enums.ComponentType.Container
			: CDX.Enums.ComponentType.OperatingSystem;
	const item = new CDX.Models.Component(type, subject.name, {
		bomRef: subject.bomRef,
		version: subject.version,
		purl: subject.purl,
	});
	item.hashes.set(CDX.Enums.HashAlgorithm["SHA-256"], subject.sha256);
	for (const [name, value] of Object.entries(subject.properties)) {
		item.properties.add(new CDX.Models.Property(name, value));
	}
	return item;
}

/**
 * The SBOM of `closure` (the closure of `roots`) as serialized JSON. The
 * subject depends on the roots, each component on what it refers to (not on
 * itself); `licenses` maps store paths to SPDX ids where the build knew them.
 */
export function makeBom(
	subject: Subject,
	roots: readonly string[],
	closure: readonly StoreObject[],
	licenses: ReadonlyMap<string, readonly string[]>,
	tool: Tool,
): string {
	const bom = new CDX.Models.Bom({ serialNumber: serialNumber(subject.sha256) });
	const components = new Map<string, CDX.Models.Component>();
	for (const object of closure) {
		const item = component(object, licenses.get(object.path) ?? []);
		components.set(object.path, item);
		bom.components.add(item);
	}
	for (const object of closure) {
		const item = components.get(object.path);
		for (const reference of object.references) {
			const dependency = components.get(reference);
			if (item !== undefined && dependency !== undefined && reference !== object.path) {
				item.dependencies.add(dependency.bomRef);
			}
		}
	}
	const image = subjectComponent(subject);
	for (const root of roots) {
		const dependency = components.get(root);
		if (dependency !== undefined) image.dependencies.add(dependency.bomRef);
	}
	bom.metadata.component = image;
	bom.metadata.tools.components.add(
		new CDX.Models.Component(CDX.Enums.ComponentType.Application, tool.name, {
			bomRef: `${tool.name}@${tool.version}`,
			version: tool.version,
		}),
	);
	const serializer = new CDX.Serialize.JsonSerializer(
		new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6),
	);
	return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}

let validator: CDX.Validation.JsonStrictValidator | undefined;

/** The schema's complaints about `json` (CycloneDX 1.6, strict), or undefined when it is valid. */
export async function bomProblem(json: string): Promise<string | undefined> {
	validator ??= new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6);
	const errors = await validator.validate(json);
	if (errors === null) return undefined;
	// Ajv's errors: where (a JSON pointer) and what.
	const list = (Array.isArray(errors) ? errors : [errors]) as {
		instancePath?: string;
		message?: string;
	}[];
	return list
		.slice(0, 3)
		.map((error) => `${error.instancePath || "/"} ${error.message ?? JSON.stringify(error)}`)
		.join("; ");
}

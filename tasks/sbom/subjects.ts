/**
 * What each image's SBOM is about (its metadata.component), read from what
 * the build left: the container by its OCI manifest digest (what the registry
 * serves once publish pushes the layout byte for byte), the disk image by the
 * SHA-256 its build recorded in image-info.json. Both come from the one store
 * path the result link pointed at when the task began, so they describe the
 * same build as the closure does.
 */
import { PackageURL } from "packageurl-js";
import { SYSTEM_ARCHITECTURES, type System } from "../../infra/vocabulary.ts";
import { readJson } from "../project/files.ts";
import { readOciImage } from "../project/oci-layout.ts";
import { TaskError } from "../runner/errors.ts";
import type { Subject } from "./bom.ts";

/** The container's name without a registry or repository: nix/oci-container.nix's image name. */
export const CONTAINER_NAME = "nix";

/** The container built into `store` (outputs/main/oci-container/<system>/result). */
export function containerSubject(root: string, system: string, store: string): Subject {
	const image = readOciImage(root, system, SYSTEM_ARCHITECTURES[system as System].oci);
	if (!image.layout.startsWith(`${store}/`)) {
		throw new TaskError(
			`The container of ${system} was replaced while its SBOM was being made; run the task again.`,
		);
	}
	const config = readJson(`${image.layout}/blobs/${image.configDigest.replace(":", "/")}`);
	const labels = (config.config as { Labels?: Record<string, unknown> } | undefined)?.Labels;
	const label = labels?.["org.opencontainers.image.version"];
	// The layout's ref name is the image's tag, the Nix version, unless the image had none.
	const version =
		typeof label === "string" ? label : image.refName === "latest" ? undefined : image.refName;
	const purl = new PackageURL("oci", undefined, CONTAINER_NAME, image.digest).toString();
	return {
		type: "container",
		name: CONTAINER_NAME,
		version,
		sha256: image.digest.replace(/^sha256:/, ""),
		bomRef: purl,
		purl,
		properties: { "nix:store_path": store },
	};
}

/** The disk image built into `store` (outputs/main/virtual-machine/<system>/result). */
export function diskSubject(system: string, store: string, rebuild: string): Subject {
	const path = `${store}/nix-support/image-info.json`;
	const info = readJson(path);
	const sha256 = info.sha256;
	if (info.system !== system || typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
		throw new TaskError(
			`${path} records no SHA-256 of a disk image of ${system}; rebuild it with ${rebuild}.`,
		);
	}
	const label = typeof info.label === "string" && info.label !== "" ? info.label : undefined;
	return {
		type: "operating-system",
		name: "nixos",
		version: label,
		sha256,
		bomRef: `nixos@sha256:${sha256}`,
		purl: undefined,
		properties: { "nix:store_path": store },
	};
}

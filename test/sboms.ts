/**
 * SBOMs as an image build leaves them beside each image
 * (outputs/main/<kind>/<system>/sbom.cdx.json), for tests of what reads them
 * (release, verify --provenance) without building: a tiny closure, made by
 * the same makeBom as the real ones, about the image `sha256` names.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ImageKind } from "../tasks/project/outputs.ts";
import { makeBom } from "../tasks/sbom/bom.ts";
import { sbomPath } from "../tasks/sbom/image.ts";

const STORE_PATH = "/nix/store/5h0ziygcanfbscxd8irpwhidfz61s953-hello-2.12";

/** The SBOM's text, about the image whose SHA-256 (hex) is `sha256`. */
export function sbomText(kind: ImageKind, sha256: string): string {
	return makeBom(
		kind === "oci-container"
			? {
					type: "container",
					name: "nix",
					version: undefined,
					sha256,
					bomRef: `pkg:oci/nix@sha256:${sha256}`,
					purl: `pkg:oci/nix@sha256:${sha256}`,
					properties: {},
				}
			: {
					type: "operating-system",
					name: "nixos",
					version: undefined,
					sha256,
					bomRef: `nixos@sha256:${sha256}`,
					purl: undefined,
					properties: {},
				},
		[STORE_PATH],
		[{ path: STORE_PATH, narHash: "02".repeat(32), references: [] }],
		new Map([[STORE_PATH, ["GPL-3.0-or-later"]]]),
		{ name: "nix-images", version: "0.0.0-test" },
	);
}

/** Writes the SBOM an image build of `system` would have left beside its image. */
export function leaveSbom(root: string, kind: ImageKind, system: string, sha256: string): string {
	const path = sbomPath(root, kind, system);
	mkdirSync(dirname(path), { recursive: true });
	writeFileSync(path, sbomText(kind, sha256));
	return path;
}

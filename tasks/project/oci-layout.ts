/**
 * The built container as publish pushes it: the OCI layout beside nix.tar.gz
 * (same image, layers compressed by the build), checked before anything is
 * pushed: one image, its manifest and config intact, of this architecture.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { relative } from "node:path";
import { TaskError } from "../runner/errors.ts";
import { readJson } from "./files.ts";
import { imageOutput } from "./outputs.ts";

export interface OciImage {
	/** The layout directory itself (in the Nix store), not the link to it. */
	layout: string;
	/** The layout's name for the image (its org.opencontainers.image.ref.name: the Nix version). */
	refName: string;
	/** sha256:… of the manifest: what the registry serves once pushed with preserved digests. */
	digest: string;
	mediaType: string;
	/** The manifest's size in bytes. */
	size: number;
	architecture: string;
	configDigest: string;
}

interface Descriptor {
	mediaType?: string;
	digest?: string;
	size?: number;
	annotations?: Record<string, string>;
}

/** A blob of the layout, checked against its digest. */
function blob(layout: string, descriptor: Descriptor | undefined, broken: () => TaskError): Buffer {
	const digest = descriptor?.digest ?? "";
	const path = `${layout}/blobs/${digest.replace(":", "/")}`;
	if (!/^sha256:[0-9a-f]{64}$/.test(digest) || !existsSync(path)) throw broken();
	const bytes = readFileSync(path);
	if (`sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}` !== digest)
		throw broken();
	return bytes;
}

/** The container of `system`, or a TaskError naming what is wrong and the task that rebuilds it. */
export function readOciImage(root: string, system: string, architecture: string): OciImage {
	const output = imageOutput(root, "oci-container", system);
	const link = output.files.find((file) => file.inPackage === "oci-layout")?.path ?? "";
	const show = relative(root, link);
	const rebuild = `bun task oci-container --system ${system}`;
	if (!existsSync(`${link}/index.json`)) {
		throw new TaskError(`${show} is missing; build the image first: ${rebuild}.`);
	}
	const layout = realpathSync(link);
	const broken = () =>
		new TaskError(`${show} is not an intact OCI layout of one image; rebuild it with ${rebuild}.`);
	const manifests = (readJson(`${layout}/index.json`).manifests ?? []) as Descriptor[];
	if (manifests.length !== 1) throw broken();
	const [entry] = manifests;
	const manifestBytes = blob(layout, entry, broken);
	const manifest = JSON.parse(manifestBytes.toString()) as { config?: Descriptor };
	const config = JSON.parse(blob(layout, manifest.config, broken).toString()) as {
		architecture?: string;
		os?: string;
	};
	if (config.architecture !== architecture || config.os !== "linux") {
		throw new TaskError(
			`${show} holds an image for ${config.os}/${config.architecture}, not linux/${architecture} (${system}); build this system's image: ${rebuild}.`,
		);
	}
	return {
		layout,
		refName: entry?.annotations?.["org.opencontainers.image.ref.name"] ?? "latest",
		digest: entry?.digest ?? "",
		mediaType: entry?.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
		size: manifestBytes.length,
		architecture,
		configDigest: manifest.config?.digest ?? "",
	};
}

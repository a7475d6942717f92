/**
 * The built EC2 disk image as publish reads it: nixos.img and the
 * image-info.json beside it, checked against each other before anything is
 * uploaded (format, boot mode, system, size and SHA-256).
 */
import { closeSync, existsSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { relative } from "node:path";
import { TaskError } from "../runner/errors.ts";
import { readJson } from "./files.ts";
import { imageOutput } from "./outputs.ts";

export interface VmImage {
	/** The image file itself (in the Nix store), not the link to it. */
	path: string;
	sizeBytes: number;
	sha256: string;
	/** The NixOS label, e.g. 26.05.20260616.567a49d. */
	label: string;
	system: string;
}

/** A SHA-256 already computed for this file, so a re-run does not read 5 GB again. */
export interface Verified {
	path: string;
	sizeBytes: number;
	mtimeMs: number;
	sha256: string;
}

const CHUNK = 8 * 1024 * 1024;

/** The SHA-256 of a file, reading it in chunks; `onProgress` gets the bytes read so far. */
function sha256File(path: string, onProgress?: (bytes: number) => void): string {
	const hasher = new Bun.CryptoHasher("sha256");
	const buffer = Buffer.allocUnsafe(CHUNK);
	const fd = openSync(path, "r");
	try {
		for (let position = 0; ; ) {
			const read = readSync(fd, buffer, 0, CHUNK, position);
			if (read === 0) break;
			hasher.update(buffer.subarray(0, read));
			position += read;
			onProgress?.(position);
		}
	} finally {
		closeSync(fd);
	}
	return hasher.digest("hex");
}

/**
 * The image of `system`, or a TaskError naming what is wrong and the task to
 * run. `cached` skips the hashing when it describes this very file.
 */
export function readVmImage(
	root: string,
	system: string,
	cached: Verified | undefined,
	onHashProgress?: (bytes: number, total: number) => void,
): { image: VmImage; verified: Verified } {
	const output = imageOutput(root, "virtual-machine", system);
	const show = (path: string) => relative(root, path);
	const rebuild = `bun task virtual-machine --system ${system}`;
	const [disk, info] = output.files;
	if (disk === undefined || info === undefined) throw new Error("the image layout lost its files");
	for (const file of [disk, info]) {
		if (!existsSync(file.path)) {
			throw new TaskError(`${show(file.path)} is missing; build the image first: ${rebuild}.`);
		}
	}
	const metadata = readJson(info.path);
	const wrong = [
		metadata.format !== "RAW" && `format ${JSON.stringify(metadata.format)}`,
		metadata.boot_mode !== "uefi" && `boot mode ${JSON.stringify(metadata.boot_mode)}`,
		metadata.system !== system && `system ${JSON.stringify(metadata.system)}`,
	].filter(Boolean);
	if (wrong.length > 0) {
		throw new TaskError(
			`${show(info.path)} says ${wrong.join(", ")}; publish takes a RAW, UEFI image of ${system}: rebuild it with ${rebuild}.`,
		);
	}
	const path = realpathSync(disk.path);
	const stat = statSync(path);
	const expectedSize = Number(metadata.logical_bytes);
	if (stat.size !== expectedSize) {
		throw new TaskError(
			`${show(disk.path)} is ${stat.size} bytes but ${show(info.path)} says ${metadata.logical_bytes}; rebuild it with ${rebuild}.`,
		);
	}
	const expectedHash = String(metadata.sha256 ?? "");
	const fresh =
		cached?.path === path &&
		cached.sizeBytes === stat.size &&
		cached.mtimeMs === stat.mtimeMs &&
		cached.sha256 === expectedHash;
	const sha256 = fresh
		? expectedHash
		: sha256File(path, (bytes) => onHashProgress?.(bytes, stat.size));
	if (sha256 !== expectedHash) {
		throw new TaskError(
			`The SHA-256 of ${show(disk.path)} (${sha256}) differs from ${show(info.path)} (${expectedHash || "none"}): the image changed after it was built; rebuild it with ${rebuild}.`,
		);
	}
	return {
		image: { path, sizeBytes: stat.size, sha256, label: String(metadata.label ?? ""), system },
		verified: { path, sizeBytes: stat.size, mtimeMs: stat.mtimeMs, sha256 },
	};
}

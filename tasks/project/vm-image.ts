/**
 * The built EC2 disk image as publish reads it: nixos.img and the
 * image-info.json beside it. Before anything of it is read, the file itself
 * is checked (a regular file inside the build's own, valid Nix store path,
 * not empty, whole 512-byte sectors, a protective MBR and a GPT header),
 * then checked against its metadata (format, boot mode, system, size,
 * SHA-256). It is opened once and everything (the checks, the hash, the
 * upload) reads that same open file, so nothing can swap it in between.
 */
import {
	closeSync,
	constants,
	existsSync,
	fstatSync,
	openSync,
	readlinkSync,
	readSync,
	realpathSync,
	type Stats,
} from "node:fs";
import { relative } from "node:path";
import { validStorePath } from "../nix/store.ts";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import { readJson } from "./files.ts";
import { imageOutput } from "./outputs.ts";

export interface VmImage {
	/** The image file itself (in the Nix store), not the link to it. */
	path: string;
	/** The open file everything reads; closed when the step ends. */
	fd: number;
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

const CHUNK = 1024 * 1024;
const SECTOR = 512;

/** The SHA-256 of an open file, reading it in chunks; `onProgress` gets the bytes read so far. */
function sha256Of(fd: number, onProgress?: (bytes: number) => void): string {
	const hasher = new Bun.CryptoHasher("sha256");
	const buffer = Buffer.allocUnsafe(CHUNK);
	for (let position = 0; ; ) {
		const read = readSync(fd, buffer, 0, CHUNK, position);
		if (read === 0) break;
		hasher.update(buffer.subarray(0, read));
		position += read;
		onProgress?.(position);
	}
	return hasher.digest("hex");
}

/** What a file that is not a regular one is, for the sentence that refuses it. */
function kindOf(stat: Stats): string {
	if (stat.isDirectory()) return "a directory";
	if (stat.isFIFO()) return "a FIFO";
	if (stat.isCharacterDevice()) return "a character device";
	if (stat.isBlockDevice()) return "a block device";
	if (stat.isSocket()) return "a socket";
	return "not a regular file";
}

/**
 * Whether the first two sectors hold a protective MBR (boot signature 55 AA,
 * a partition of type EE) and a GPT header ("EFI PART"): what a raw UEFI
 * disk made by make-disk-image starts with.
 */
function hasGpt(fd: number): boolean {
	const head = Buffer.alloc(2 * SECTOR);
	if (readSync(fd, head, 0, head.length, 0) < head.length) return false;
	const bootSignature = head[510] === 0x55 && head[511] === 0xaa;
	const protective = [0, 1, 2, 3].some((entry) => head[446 + 16 * entry + 4] === 0xee);
	return bootSignature && protective && head.toString("latin1", SECTOR, SECTOR + 8) === "EFI PART";
}

/**
 * The image of `system`, opened and checked, or a TaskError naming what is
 * wrong and the task to run. `cached` skips the hashing when it describes
 * this very file. The open file is closed when the step ends.
 */
export async function openVmImage(
	context: Pick<TaskContext, "root" | "$" | "cleanup">,
	system: string,
	cached: Verified | undefined,
	/** Checks the metadata's NixOS label before the image is hashed (throws to refuse it). */
	checkLabel: (label: string) => void,
	onHashProgress?: (bytes: number, total: number) => void,
): Promise<{ image: VmImage; verified: Verified }> {
	const { root } = context;
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
	const refuse = (what: string) =>
		new TaskError(
			`${show(disk.path)} ${what}; publish takes the disk image Nix built: ${rebuild}.`,
		);
	// Non-blocking, so a FIFO does not hang the open; regular files read the same.
	const fd = openSync(disk.path, constants.O_RDONLY | constants.O_NONBLOCK);
	const unregister = context.cleanup(async () => closeSync(fd));
	try {
		const stat = fstatSync(fd);
		if (!stat.isFile()) throw refuse(`is ${kindOf(stat)}, not a disk image`);
		// What was opened, not what the link says now.
		const path = readlinkSync(`/proc/self/fd/${fd}`);
		const build = existsSync(output.result) ? realpathSync(output.result) : undefined;
		if (
			build === undefined ||
			!path.startsWith(`${build}/`) ||
			!(await validStorePath(context, build))
		) {
			throw refuse(
				`resolves to ${path}, which is not inside the build's own valid Nix store path (${show(output.result)})`,
			);
		}
		if (stat.size === 0) throw refuse("is empty (0 bytes)");
		if (stat.size % SECTOR !== 0) {
			throw refuse(`is ${stat.size} bytes, not a whole number of ${SECTOR}-byte sectors`);
		}
		if (!hasGpt(fd))
			throw refuse("has no protective MBR and GPT header, so it is no UEFI disk image");

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
		const label = String(metadata.label ?? "");
		checkLabel(label);
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
			: sha256Of(fd, (bytes) => onHashProgress?.(bytes, stat.size));
		if (sha256 !== expectedHash) {
			throw new TaskError(
				`The SHA-256 of ${show(disk.path)} (${sha256}) differs from ${show(info.path)} (${expectedHash || "none"}): the image changed after it was built; rebuild it with ${rebuild}.`,
			);
		}
		return {
			image: {
				path,
				fd,
				sizeBytes: stat.size,
				sha256,
				label,
				system,
			},
			verified: { path, sizeBytes: stat.size, mtimeMs: stat.mtimeMs, sha256 },
		};
	} catch (error) {
		unregister();
		closeSync(fd);
		throw error;
	}
}

/**
 * What a snapshot holds, in a few lines of JSON: which 512 KiB blocks have
 * data and the LINEAR aggregate checksum EBS checks at CompleteSnapshot
 * (SHA-256 over the blocks' SHA-256s, in index order). publish records it
 * in ami.json from what it sends; `verify --deep` compares it with what it
 * reads back from EBS and with the local image, so all three must be made
 * the same way: here, once.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { BLOCK_SIZE, BlockPool, dataBlocks } from "./blocks.ts";

export interface SnapshotContent {
	/** EBS's block size in bytes (524288). */
	blockSize: number;
	/** The volume size in GiB, as StartSnapshot got it. */
	volumeSize: number;
	/** The indexes of the blocks with data, as sorted comma-separated ranges ("0-12,40,50-60"; "" for none). */
	blockIndexes: string;
	/** How many blocks hold data: CompleteSnapshot's ChangedBlocksCount. */
	changedBlocks: number;
	/** Base64 SHA-256 over the blocks' raw SHA-256s in index order: CompleteSnapshot's LINEAR checksum. */
	linearChecksum: string;
}

const GIB = 1024 ** 3;

/**
 * The largest block index there can be: EBS direct snapshots are at most
 * 64 TiB. A bound, so a malformed range ("0-99999999999") is refused
 * instead of filling memory.
 */
const MAX_BLOCK_INDEX = (64 * 1024 * GIB) / BLOCK_SIZE - 1;

/** The volume size StartSnapshot gets for an image of `sizeBytes`: whole GiB, at least one. */
export function volumeSizeGiB(sizeBytes: number): number {
	return Math.max(1, Math.ceil(sizeBytes / GIB));
}

/** Block indexes as sorted comma-separated ranges: [0,1,2,40,50,51] → "0-2,40,50-51". */
export function encodeBlockRanges(indexes: number[]): string {
	for (const index of indexes) {
		if (!Number.isSafeInteger(index) || index < 0 || index > MAX_BLOCK_INDEX) {
			throw new Error(`${index} is no block index of an EBS snapshot.`);
		}
	}
	const sorted = [...new Set(indexes)].sort((a, b) => a - b);
	const ranges: string[] = [];
	for (let i = 0; i < sorted.length; ) {
		const first = sorted[i] as number;
		let last = first;
		while (sorted[i + 1] === last + 1) last = sorted[++i] as number;
		ranges.push(first === last ? `${first}` : `${first}-${last}`);
		i++;
	}
	return ranges.join(",");
}

/**
 * The indexes encodeBlockRanges wrote, in order. Only its own form is
 * taken (ascending, separate ranges, no leading zeros), since records are
 * untrusted input: the same blocks always read back as the same text.
 */
export function decodeBlockRanges(text: string): number[] {
	if (text === "") return [];
	const indexes: number[] = [];
	for (const part of text.split(",")) {
		const match = /^(0|[1-9]\d*)(?:-([1-9]\d*))?$/.exec(part);
		const first = Number(match?.[1]);
		const last = match?.[2] === undefined ? first : Number(match[2]);
		const previous = indexes.at(-1);
		const problem =
			match === null
				? `"${part}" is neither an index nor a range`
				: last > MAX_BLOCK_INDEX
					? `${last} is beyond the last block of the largest EBS snapshot (64 TiB)`
					: last <= first && match[2] !== undefined
						? `the range "${part}" does not ascend`
						: previous !== undefined && first <= previous + 1
							? `"${part}" overlaps or adjoins the range before it (ranges ascend, apart)`
							: undefined;
		if (problem !== undefined) {
			throw new Error(`The block ranges "${text.slice(0, 80)}" are malformed: ${problem}.`);
		}
		for (let index = first; index <= last; index++) indexes.push(index);
	}
	return indexes;
}

/** The LINEAR aggregate checksum: base64 SHA-256 over the blocks' raw SHA-256 digests, given in index order. */
export function linearChecksumOf(digests: Buffer[]): string {
	const aggregate = createHash("sha256");
	for (const digest of digests) aggregate.update(digest);
	return aggregate.digest("base64");
}

/** The content of a snapshot of `volumeSizeGiB` whose blocks with data have these SHA-256s, by index. */
export function snapshotContent(
	volumeSizeGiB: number,
	digests: ReadonlyMap<number, Buffer>,
): SnapshotContent {
	const indexes = [...digests.keys()].sort((a, b) => a - b);
	return {
		blockSize: BLOCK_SIZE,
		volumeSize: volumeSizeGiB,
		blockIndexes: encodeBlockRanges(indexes),
		changedBlocks: indexes.length,
		linearChecksum: linearChecksumOf(indexes.map((index) => digests.get(index) as Buffer)),
	};
}

/**
 * The content a snapshot of the open image `fd` holds when publish made it:
 * its blocks with data, found as publish finds them (dataBlocks), hashed.
 * The caller opens and closes the file (publish: the one it checked).
 */
export async function imageContent(fd: number, volumeSizeGiB: number): Promise<SnapshotContent> {
	const digests = new Map<number, Buffer>();
	const pool = new BlockPool(1);
	for await (const { index, data } of dataBlocks(fd, undefined, pool)) {
		digests.set(index, createHash("sha256").update(data).digest());
		pool.give(data);
	}
	return snapshotContent(volumeSizeGiB, digests);
}

/** The content a snapshot of the disk image at `path` holds (see imageContent). */
export async function localSnapshotContent(
	path: string,
	volumeSizeGiB: number,
): Promise<SnapshotContent> {
	const fd = openSync(path, "r");
	try {
		return await imageContent(fd, volumeSizeGiB);
	} finally {
		closeSync(fd);
	}
}

/**
 * A completed snapshot read back through the EBS direct APIs, as the
 * content publish records of it (snapshot-content.ts): every block with
 * data is listed (ListSnapshotBlocks, all pages) and fetched
 * (GetSnapshotBlock), its bytes hashed here and checked against the
 * checksum EBS answers with, and the LINEAR aggregate checksum made of
 * those hashes. That proves the bytes an AMI's volumes are made from, which
 * neither DescribeSnapshots nor the AMI can show.
 *
 * It only reads. What it costs: GetSnapshotBlock is billed per block, about
 * $0.003 per 1,000 blocks of 512 KiB, i.e. about $0.006 per GiB of data
 * (zero blocks are not stored, so not read); the few ListSnapshotBlocks
 * pages cost next to nothing beside that; and read from outside AWS, the
 * bytes are data transfer out.
 */
import { createHash } from "node:crypto";
import {
	type EBSClient,
	GetSnapshotBlockCommand,
	ListSnapshotBlocksCommand,
} from "@aws-sdk/client-ebs";
import { BLOCK_SIZE } from "../publish/blocks.ts";
import { type SnapshotContent, snapshotContent } from "../publish/snapshot-content.ts";
import type { AwsCalls } from "../sdk/calls.ts";

/** Blocks fetched at once, unless the caller says otherwise: ~8 MiB in memory, and well inside EBS's request rate. */
export const READ_CONCURRENCY = 16;

/** ListSnapshotBlocks' largest MaxResults: the fewest pages (AWS may still answer fewer, or none, per page). */
const MAX_RESULTS = 10_000;

export interface ReadBackOptions {
	/** GetSnapshotBlock requests in flight at once (READ_CONCURRENCY). */
	concurrency?: number;
	/** Told after each block read, with how many there are in all. */
	onBlock?: (done: number, total: number) => void;
}

export interface ReadBack extends SnapshotContent {
	/** Blocks whose bytes did not match the checksum EBS answered with them (or not 512 KiB long), in order. */
	badBlocks: number[];
}

interface Listing {
	/** Block index → the token GetSnapshotBlock wants for it. */
	tokens: Map<number, string>;
	volumeSize: number;
	blockSize: number;
}

/** Every block of the snapshot that holds data, from every page (a page may be empty and still not the last). */
async function listBlocks(calls: AwsCalls, ebs: EBSClient, snapshotId: string): Promise<Listing> {
	const tokens = new Map<number, string>();
	let volumeSize: number | undefined;
	let blockSize: number | undefined;
	let nextToken: string | undefined;
	const seenTokens = new Set<string>();
	do {
		const page = await calls.read(
			ebs,
			new ListSnapshotBlocksCommand({
				SnapshotId: snapshotId,
				MaxResults: MAX_RESULTS,
				NextToken: nextToken,
			}),
		);
		volumeSize ??= page.VolumeSize;
		blockSize ??= page.BlockSize;
		for (const { BlockIndex, BlockToken } of page.Blocks ?? []) {
			if (BlockIndex === undefined || !BlockToken) {
				throw new Error(
					`ListSnapshotBlocks of ${snapshotId} answered a block without ${BlockIndex === undefined ? "an index" : `a token (block ${BlockIndex})`}.`,
				);
			}
			tokens.set(BlockIndex, BlockToken);
		}
		const next = page.NextToken || undefined;
		// A token answered twice would page forever: EBS paging never repeats one.
		if (next !== undefined && seenTokens.has(next)) {
			throw new Error(`ListSnapshotBlocks of ${snapshotId} answered the same page token twice.`);
		}
		if (next !== undefined) seenTokens.add(next);
		nextToken = next;
	} while (nextToken !== undefined);
	if (volumeSize === undefined || blockSize === undefined) {
		throw new Error(`ListSnapshotBlocks of ${snapshotId} answered no volume or block size.`);
	}
	return { tokens, volumeSize, blockSize };
}

/**
 * One block's bytes and the checksum EBS answered with them. The body is
 * read inside the call's attempt (by the client handed to calls.read), so
 * the attempt's timeout and the retries cover it too: a connection that
 * stalls mid-body is abandoned and retried like one that stalls before the
 * headers.
 */
async function readBlock(
	calls: AwsCalls,
	ebs: EBSClient,
	snapshotId: string,
	index: number,
	token: string,
): Promise<{ data: Uint8Array; checksum: string | undefined; algorithm: string | undefined }> {
	let data: Uint8Array | undefined;
	const whole = {
		send: async (command: GetSnapshotBlockCommand, options?: { abortSignal?: AbortSignal }) => {
			const answer = await ebs.send(command, options);
			data = (await answer.BlockData?.transformToByteArray()) ?? new Uint8Array();
			return answer;
		},
	};
	const answer = await calls.read(
		whole,
		new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: index, BlockToken: token }),
	);
	return {
		data: data ?? new Uint8Array(),
		checksum: answer.Checksum,
		algorithm: answer.ChecksumAlgorithm,
	};
}

/**
 * What the completed snapshot `snapshotId` holds, read back block by block,
 * `concurrency` at a time, each request through the run's retry budget.
 * The LINEAR checksum is made of the hashes of the bytes read (what a
 * volume made from the snapshot gets); a block whose bytes disagree with
 * the checksum EBS answered is listed in badBlocks as well.
 */
export async function readSnapshotContent(
	calls: AwsCalls,
	ebs: EBSClient,
	snapshotId: string,
	options: ReadBackOptions = {},
): Promise<ReadBack> {
	const { tokens, volumeSize, blockSize } = await listBlocks(calls, ebs, snapshotId);
	const indexes = [...tokens.keys()].sort((a, b) => a - b);
	const digests = new Map<number, Buffer>();
	const badBlocks: number[] = [];
	let next = 0;
	let failed = false;
	const worker = async () => {
		while (!failed && next < indexes.length) {
			const index = indexes[next++] as number;
			const block = await readBlock(calls, ebs, snapshotId, index, tokens.get(index) as string);
			const digest = createHash("sha256").update(block.data).digest();
			digests.set(index, digest);
			if (
				block.data.byteLength !== BLOCK_SIZE ||
				block.algorithm !== "SHA256" ||
				block.checksum !== digest.toString("base64")
			) {
				badBlocks.push(index);
			}
			options.onBlock?.(digests.size, indexes.length);
		}
	};
	const workers = Array.from(
		{ length: Math.max(1, Math.min(options.concurrency ?? READ_CONCURRENCY, indexes.length)) },
		() =>
			worker().catch((error) => {
				// The others stop taking blocks: the read has failed, more requests would only cost.
				failed = true;
				throw error;
			}),
	);
	await Promise.all(workers);
	return {
		...snapshotContent(volumeSize, digests),
		blockSize,
		badBlocks: badBlocks.sort((a, b) => a - b),
	};
}

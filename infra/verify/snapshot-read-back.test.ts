import { afterEach, expect, test } from "bun:test";
import { EBSClient, GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from "@aws-sdk/client-ebs";
import { mockClient } from "aws-sdk-client-mock";
import { BLOCK_SIZE } from "../publish/blocks.ts";
import { linearChecksumOf } from "../publish/snapshot-content.ts";
import { AwsCalls } from "../sdk/calls.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../sdk/retry.ts";
import { readSnapshotContent } from "./snapshot-read-back.ts";

const ebsMock = mockClient(EBSClient);
afterEach(() => ebsMock.reset());

const sha256 = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest();
const block = (fill: number) => Buffer.alloc(BLOCK_SIZE, fill);
/** A GetSnapshotBlock answer: `data`, and the checksum EBS would send with `claimed`. */
const answer = (data: Buffer, claimed = data) => ({
	BlockData: { transformToByteArray: async () => new Uint8Array(data) } as never,
	DataLength: data.length,
	Checksum: sha256(claimed).toString("base64"),
	ChecksumAlgorithm: "SHA256" as const,
});

function read(concurrency?: number) {
	const calls = new AwsCalls(
		new RetryBudget({ ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 2 }),
		false,
		() => {},
	);
	const seen: [number, number][] = [];
	const result = readSnapshotContent(calls, new EBSClient({ region: "us-east-1" }), "snap-1", {
		concurrency,
		onBlock: (done, total) => seen.push([done, total]),
	});
	return { result, seen };
}

test("goes through every page (an empty one is not the last), and lists blocks whose bytes disagree with their checksum", async () => {
	const listing = { VolumeSize: 2, BlockSize: BLOCK_SIZE };
	ebsMock
		.on(ListSnapshotBlocksCommand, { NextToken: undefined })
		.resolves({ ...listing, Blocks: [], NextToken: "p2" })
		.on(ListSnapshotBlocksCommand, { NextToken: "p2" })
		.resolves({
			...listing,
			Blocks: [
				{ BlockIndex: 0, BlockToken: "t0" },
				{ BlockIndex: 1, BlockToken: "t1" },
			],
			NextToken: "p3",
		})
		.on(ListSnapshotBlocksCommand, { NextToken: "p3" })
		.resolves({
			...listing,
			Blocks: [
				{ BlockIndex: 7, BlockToken: "t7" },
				{ BlockIndex: 9, BlockToken: "t9" },
			],
		});
	ebsMock
		.on(GetSnapshotBlockCommand, { BlockIndex: 0, BlockToken: "t0" })
		.resolves(answer(block(1)))
		// Bytes that are not what EBS says it sent.
		.on(GetSnapshotBlockCommand, { BlockIndex: 1, BlockToken: "t1" })
		.resolves(answer(block(2), block(3)))
		.on(GetSnapshotBlockCommand, { BlockIndex: 7, BlockToken: "t7" })
		.resolves(answer(block(7)))
		// Short: every block is 512 KiB, even one the checksum of which matches.
		.on(GetSnapshotBlockCommand, { BlockIndex: 9, BlockToken: "t9" })
		.resolves(answer(Buffer.alloc(1000, 9)));
	const { result, seen } = read(2);
	const content = await result;
	expect(content).toEqual({
		blockSize: BLOCK_SIZE,
		volumeSize: 2,
		blockIndexes: "0-1,7,9",
		changedBlocks: 4,
		// Of the bytes read, as a volume made from the snapshot would hold them.
		linearChecksum: linearChecksumOf(
			[block(1), block(2), block(7), Buffer.alloc(1000, 9)].map(sha256),
		),
		badBlocks: [1, 9],
	});
	expect(ebsMock.commandCalls(ListSnapshotBlocksCommand)).toHaveLength(3);
	expect(ebsMock.commandCalls(ListSnapshotBlocksCommand)[0]?.args[0].input).toEqual({
		SnapshotId: "snap-1",
		MaxResults: 10_000,
		NextToken: undefined,
	});
	expect(seen.map(([done]) => done)).toEqual([1, 2, 3, 4]);
	expect(seen.every(([, total]) => total === 4)).toBe(true);
});

test("a block that cannot be read fails the read, and no more blocks are asked for", async () => {
	ebsMock.on(ListSnapshotBlocksCommand).resolves({
		VolumeSize: 1,
		BlockSize: BLOCK_SIZE,
		Blocks: Array.from({ length: 50 }, (_, index) => ({ BlockIndex: index, BlockToken: "t" })),
	});
	const refusal = Object.assign(new Error("The block token is not valid."), {
		name: "ValidationException",
		$metadata: { httpStatusCode: 400 },
	});
	ebsMock
		.on(GetSnapshotBlockCommand)
		.resolves(answer(block(1)))
		.on(GetSnapshotBlockCommand, { BlockIndex: 3 })
		.rejects(refusal);
	await expect(read(2).result).rejects.toThrow("The block token is not valid.");
	expect(ebsMock.commandCalls(GetSnapshotBlockCommand).length).toBeLessThan(10);
});

test("an empty snapshot has no blocks, and the checksum of nothing", async () => {
	ebsMock.on(ListSnapshotBlocksCommand).resolves({ VolumeSize: 1, BlockSize: BLOCK_SIZE });
	expect(await read().result).toEqual({
		blockSize: BLOCK_SIZE,
		volumeSize: 1,
		blockIndexes: "",
		changedBlocks: 0,
		linearChecksum: linearChecksumOf([]),
		badBlocks: [],
	});
	expect(ebsMock.commandCalls(GetSnapshotBlockCommand)).toHaveLength(0);
});

import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers.ts";
import { BLOCK_SIZE } from "./blocks.ts";
import {
	decodeBlockRanges,
	encodeBlockRanges,
	linearChecksumOf,
	localSnapshotContent,
	volumeSizeGiB,
} from "./snapshot-content.ts";

const sha256 = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest();

describe("encodeBlockRanges", () => {
	test("writes sorted indexes as comma-separated ranges, single blocks alone", () => {
		expect(encodeBlockRanges([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 40, 50, 51, 52])).toBe(
			"0-12,40,50-52",
		);
		expect(encodeBlockRanges([7])).toBe("7");
		expect(encodeBlockRanges([3, 4])).toBe("3-4");
		expect(encodeBlockRanges([])).toBe("");
	});
	test("sorts what it is given, and counts a repeated index once", () => {
		expect(encodeBlockRanges([52, 40, 0, 51, 2, 1, 50, 40])).toBe("0-2,40,50-52");
	});
	test("refuses what is no block index", () => {
		for (const bad of [-1, 1.5, Number.NaN, 2 ** 27]) {
			expect(() => encodeBlockRanges([0, bad])).toThrow("is no block index of an EBS snapshot");
		}
	});
});

describe("decodeBlockRanges", () => {
	test("reads back what encodeBlockRanges wrote", () => {
		for (const indexes of [[], [0], [5], [0, 1, 2], [0, 2, 4], [1, 2, 3, 9, 11, 12], [134217727]]) {
			expect(decodeBlockRanges(encodeBlockRanges(indexes))).toEqual(indexes);
		}
		expect(decodeBlockRanges("0-3,40,50-51")).toEqual([0, 1, 2, 3, 40, 50, 51]);
	});
	test.each([
		["a", '"a" is neither an index nor a range'],
		["1,,2", '"" is neither an index nor a range'],
		["1,", '"" is neither an index nor a range'],
		[" 1", '" 1" is neither an index nor a range'],
		["01", '"01" is neither an index nor a range'],
		["1-2-3", '"1-2-3" is neither an index nor a range'],
		["-3", '"-3" is neither an index nor a range'],
		["1.5", '"1.5" is neither an index nor a range'],
		["5-3", 'the range "5-3" does not ascend'],
		["5-5", 'the range "5-5" does not ascend'],
		["3,1", '"1" overlaps or adjoins the range before it'],
		["0-4,2-6", '"2-6" overlaps or adjoins the range before it'],
		["0-4,5", '"5" overlaps or adjoins the range before it'],
		["2,2", '"2" overlaps or adjoins the range before it'],
		["0-99999999999", "99999999999 is beyond the last block of the largest EBS snapshot (64 TiB)"],
	])("refuses %p: %s", (text, problem) => {
		expect(() => decodeBlockRanges(text)).toThrow(
			`The block ranges "${text}" are malformed: ${problem}`,
		);
	});
});

test("linearChecksumOf is SHA-256 over the digests in the order given, in base64", () => {
	const digests = [sha256(Buffer.from("a")), sha256(Buffer.from("b"))];
	expect(linearChecksumOf(digests)).toBe(sha256(Buffer.concat(digests)).toString("base64"));
	expect(linearChecksumOf(digests.toReversed())).not.toBe(linearChecksumOf(digests));
	expect(linearChecksumOf([])).toBe(sha256(new Uint8Array()).toString("base64"));
});

test("volumeSizeGiB is whole GiB, at least one", () => {
	expect(volumeSizeGiB(1)).toBe(1);
	expect(volumeSizeGiB(1024 ** 3)).toBe(1);
	expect(volumeSizeGiB(1024 ** 3 + 1)).toBe(2);
});

describe("localSnapshotContent", () => {
	const dir = tempDir("snapshot-content");
	afterAll(() => rmSync(dir, { recursive: true, force: true }));

	test("is the blocks with data (the last one zero-padded) and their LINEAR checksum", async () => {
		const path = join(dir, "disk.img");
		const size = 5 * BLOCK_SIZE + 100;
		const fd = openSync(path, "w");
		writeSync(fd, Buffer.from("boot"), 0, 4, 10);
		writeSync(fd, Buffer.alloc(10, 1), 0, 10, 2 * BLOCK_SIZE - 5);
		writeSync(fd, Buffer.from("end"), 0, 3, size - 3);
		closeSync(fd);
		const block = (index: number) => {
			const data = Buffer.alloc(BLOCK_SIZE);
			const file = Bun.file(path).slice(index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE);
			return file.arrayBuffer().then((bytes) => {
				Buffer.from(bytes).copy(data);
				return sha256(data);
			});
		};
		const digests = await Promise.all([0, 1, 2, 5].map(block));
		expect(await localSnapshotContent(path, 1)).toEqual({
			blockSize: BLOCK_SIZE,
			volumeSize: 1,
			blockIndexes: "0-2,5",
			changedBlocks: 4,
			linearChecksum: sha256(Buffer.concat(digests)).toString("base64"),
		});
	});

	test("of an image of zeros is no blocks", async () => {
		const path = join(dir, "zeros.img");
		await Bun.write(path, new Uint8Array(3 * BLOCK_SIZE));
		expect(await localSnapshotContent(path, 2)).toEqual({
			blockSize: BLOCK_SIZE,
			volumeSize: 2,
			blockIndexes: "",
			changedBlocks: 0,
			linearChecksum: sha256(new Uint8Array()).toString("base64"),
		});
	});
});

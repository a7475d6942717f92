/**
 * A snapshot publish made, read back through the EBS direct APIs with the
 * real SDK (readSnapshotContent, for `verify --deep`), from the loopback
 * stand-in: what it reads is what publish recorded and what the local image
 * holds, over many pages of blocks and through the faults a network has;
 * and a block changed after completion shows.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { GetSnapshotBlockCommand, ListSnapshotBlocksCommand } from "@aws-sdk/client-ebs";
import { ensureSnapshot } from "../infra/publish/snapshot.ts";
import { localSnapshotContent } from "../infra/publish/snapshot-content.ts";
import { AwsCalls } from "../infra/sdk/calls.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../infra/sdk/retry.ts";
import { readSnapshotContent } from "../infra/verify/snapshot-read-back.ts";
import { closeClients } from "../tasks/aws/clients.ts";
import { standInClients } from "./aws/clients.ts";
import type { StandIn } from "./aws/stand-in.ts";
import { standInAccount } from "./aws/start.ts";
import { BLOCK_SIZE, contentOf, leaveSnapshot, type World } from "./aws/world.ts";
import { tempDir } from "./helpers.ts";

const dir = tempDir("read-back");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sparse image whose blocks with data each differ: `runs` of [first, count], and a partial last block. */
function image(name: string, runs: [number, number][], lastBlock: number) {
	const path = join(dir, name);
	const size = lastBlock * BLOCK_SIZE + 1000;
	const fd = openSync(path, "w");
	for (const [first, count] of runs) {
		for (let index = first; index < first + count; index++) {
			const mark = Buffer.from(`block ${index}`);
			writeSync(fd, mark, 0, mark.length, index * BLOCK_SIZE + (index % 7));
		}
	}
	writeSync(fd, Buffer.from("the end"), 0, 7, size - 7);
	closeSync(fd);
	return { path, size };
}

const FAST: typeof DEFAULT_RETRY_POLICY = {
	...DEFAULT_RETRY_POLICY,
	attemptTimeoutMs: 1500,
	baseDelayMs: 5,
	maxDelayMs: 20,
};

describe("readSnapshotContent", () => {
	let world: World;
	let standIn: StandIn;
	let clients: ReturnType<typeof standInClients>;
	const opened: number[] = [];
	beforeEach(async () => {
		({ world, standIn } = await standInAccount());
		clients = standInClients(standIn);
	});
	afterEach(async () => {
		closeClients(Object.values(clients));
		await standIn.stop();
		for (const fd of opened.splice(0)) closeSync(fd);
	});

	const calls = (budget = new RetryBudget(FAST)) => new AwsCalls(budget, false, () => {});

	/** The image published as publish does it (ensureSnapshot), and the content it recorded. */
	async function publish(path: string, size: number) {
		const fd = openSync(path, "r");
		opened.push(fd);
		const done = await ensureSnapshot({
			calls: calls(),
			ebs: clients.ebs,
			ec2: clients.ec2,
			imageFd: fd,
			sizeBytes: size,
			buildId: "0123456789abcdef",
			description: "test image",
			tags: { ManagedBy: "nix-images", BuildId: "0123456789abcdef", System: "x86_64-linux" },
			state: {},
			saveState: () => {},
			concurrency: 8,
		});
		if (done.content === undefined) throw new Error("ensureSnapshot recorded no content");
		return { snapshotId: done.snapshotId, recorded: done.content };
	}

	test("reads back what publish recorded and the local image holds, over many pages; a block changed after completion shows in the LINEAR checksum", async () => {
		// 151 blocks with data: more than a page of ListSnapshotBlocks holds.
		const disk = image(
			"many.img",
			[
				[0, 120],
				[200, 30],
			],
			230,
		);
		const { snapshotId, recorded } = await publish(disk.path, disk.size);
		expect(recorded.changedBlocks).toBe(151);
		expect(recorded.blockIndexes).toBe("0-119,200-230");
		const snapshot = world.snapshots.get(snapshotId);
		if (snapshot === undefined) throw new Error(`no snapshot ${snapshotId}`);
		expect(recorded).toEqual(contentOf(snapshot));

		const listed = standIn.calls.length;
		const progress: number[] = [];
		const read = await readSnapshotContent(calls(), clients.ebs, snapshotId, {
			onBlock: (done, total) => {
				expect(total).toBe(151);
				progress.push(done);
			},
		});
		expect(read).toEqual({ ...recorded, badBlocks: [] });
		expect(await localSnapshotContent(disk.path, read.volumeSize)).toEqual(recorded);
		const made = standIn.calls.slice(listed);
		// An empty first page, then pages of at most 100 blocks.
		expect(made.filter((c) => c === "ebs:ListSnapshotBlocks")).toHaveLength(3);
		expect(made.filter((c) => c === "ebs:GetSnapshotBlock")).toHaveLength(151);
		expect(progress.at(-1)).toBe(151);

		// Changed after completion: EBS answers the checksum of what it holds, so the block
		// matches its own, and only the aggregate over all of them differs from the record.
		const changed = snapshot.blocks.get(205) as Buffer;
		changed[0] = (changed[0] ?? 0) ^ 0xff;
		const again = await readSnapshotContent(calls(), clients.ebs, snapshotId, { concurrency: 3 });
		expect(again.badBlocks).toEqual([]);
		expect(again.blockIndexes).toBe(recorded.blockIndexes);
		expect(again.changedBlocks).toBe(recorded.changedBlocks);
		expect(again.linearChecksum).not.toBe(recorded.linearChecksum);
		expect(again.linearChecksum).toBe(contentOf(snapshot).linearChecksum);
	});

	test("throttling, 5xx, a hang and a lost answer are retried, and what it reads is still right", async () => {
		const disk = image(
			"faults.img",
			[
				[0, 3],
				[6, 1],
			],
			9,
		);
		const { snapshotId, recorded } = await publish(disk.path, disk.size);
		standIn.faults.push(
			{ operation: "ListSnapshotBlocks", kind: "5xx" },
			{ operation: "ListSnapshotBlocks", kind: "throttle", after: 1 },
			{ operation: "GetSnapshotBlock", kind: "throttle", times: 2 },
			{ operation: "GetSnapshotBlock", kind: "5xx", after: 1 },
			{ operation: "GetSnapshotBlock", kind: "hang", after: 2 },
			{ operation: "GetSnapshotBlock", kind: "lost", after: 3 },
		);
		const budget = new RetryBudget(FAST);
		const read = await readSnapshotContent(calls(budget), clients.ebs, snapshotId);
		expect(read).toEqual({ ...recorded, badBlocks: [] });
		expect(budget.retries).toBeGreaterThanOrEqual(6);
	});

	test("only completed snapshots are read, a block only with its token, and a sink that kept no data says so", async () => {
		const tags = { ManagedBy: "nix-images", BuildId: "0123456789abcdef", System: "x86_64-linux" };
		leaveSnapshot(world, "snap-pending", "pending", tags).blocks.set(
			0,
			Buffer.alloc(BLOCK_SIZE, 1),
		);
		const pending = await readSnapshotContent(calls(), clients.ebs, "snap-pending").catch((e) => e);
		expect(pending.name).toBe("ValidationException");
		expect(pending.message).toBe("The snapshot 'snap-pending' is not completed.");

		const disk = image("tokens.img", [[0, 2]], 3);
		const { snapshotId } = await publish(disk.path, disk.size);
		const wrong = await clients.ebs
			.send(
				new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: 0, BlockToken: "Zm9v" }),
			)
			.catch((e) => e);
		expect(wrong.name).toBe("ValidationException");
		expect(wrong.message).toBe("The block token is not valid.");
		// From a starting index, and a page token that is not one of the stand-in's.
		const first = await clients.ebs.send(
			new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, StartingBlockIndex: 1 }),
		);
		expect(first.Blocks).toEqual([]);
		const second = await clients.ebs.send(
			new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, NextToken: first.NextToken }),
		);
		expect(second.Blocks?.map((b) => b.BlockIndex)).toEqual([1, 3]);
		expect(second).toMatchObject({ VolumeSize: 1, BlockSize: BLOCK_SIZE });
		const forged = await clients.ebs
			.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, NextToken: "Zm9v" }))
			.catch((e) => e);
		expect(forged.message).toBe("The pagination token is not valid.");

		world.keepBlocks = false;
		const sink = await readSnapshotContent(calls(), clients.ebs, snapshotId).catch((e) => e);
		expect(sink.message).toContain("World.keepBlocks is false");
	});
});

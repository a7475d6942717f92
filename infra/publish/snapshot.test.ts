import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { closeSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
	CompleteSnapshotCommand,
	EBSClient,
	PutSnapshotBlockCommand,
	StartSnapshotCommand,
} from "@aws-sdk/client-ebs";
import { DeleteSnapshotCommand, DescribeSnapshotsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { tempDir } from "../../test/helpers.ts";
import { AwsCalls } from "../sdk/calls.ts";
import { RetryBudget } from "../sdk/retry.ts";
import { BLOCK_SIZE } from "./blocks.ts";
import { ensureSnapshot, type SnapshotState } from "./snapshot.ts";

const ebsMock = mockClient(EBSClient);
const ec2Mock = mockClient(EC2Client);
afterEach(() => {
	ebsMock.reset();
	ec2Mock.reset();
});
const dir = tempDir("snapshot-unit");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const image = join(dir, "one-block.img");
writeFileSync(image, Buffer.concat([Buffer.from("data"), Buffer.alloc(BLOCK_SIZE)]));
const imageFd = openSync(image, "r");
afterAll(() => closeSync(imageFd));

function run(state: SnapshotState, dryRun = false, log: (line: string) => void = () => {}) {
	const saved: SnapshotState[] = [];
	const result = ensureSnapshot({
		calls: new AwsCalls(new RetryBudget(), dryRun, log),
		ebs: new EBSClient({ region: "us-east-1" }),
		ec2: new EC2Client({ region: "us-east-1" }),
		imageFd: imageFd,
		sizeBytes: BLOCK_SIZE + 4,
		buildId: "0123456789abcdef",
		description: "d",
		tags: { BuildId: "0123456789abcdef", System: "x86_64-linux" },
		state,
		saveState: (next) => saved.push(next),
	});
	return { result, saved };
}

function startsAndCompletes() {
	ec2Mock
		.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] })
		.resolves({ Snapshots: [] })
		.on(DescribeSnapshotsCommand, { SnapshotIds: ["snap-new"] })
		.resolves({ Snapshots: [{ SnapshotId: "snap-new", State: "completed" }] });
	ebsMock
		.on(StartSnapshotCommand)
		.resolves({
			SnapshotId: "snap-new",
			BlockSize: BLOCK_SIZE,
			Status: "pending",
			StartTime: new Date(),
		})
		.on(PutSnapshotBlockCommand)
		.resolves({})
		.on(CompleteSnapshotCommand)
		.resolves({ Status: "pending" });
}

describe("ensureSnapshot's StartSnapshot", () => {
	test("gets a client token derived from the build id, saved before the call, and the tags", async () => {
		startsAndCompletes();
		const { result, saved } = run({});
		await result;
		const input = ebsMock.commandCalls(StartSnapshotCommand)[0]?.args[0].input;
		expect(input?.ClientToken).toMatch(/^0123456789abcdef-[0-9a-f]{16}$/);
		expect(input).toMatchObject({
			VolumeSize: 1,
			Timeout: 60,
			Tags: [
				{ Key: "BuildId", Value: "0123456789abcdef" },
				{ Key: "System", Value: "x86_64-linux" },
			],
		});
		expect(saved[0]).toEqual({ clientToken: input?.ClientToken });
		expect(saved[1]).toEqual({ clientToken: input?.ClientToken, snapshotId: "snap-new" });
		expect(saved.at(-1)).toEqual({});
	});
	test("reuses the token a crashed run saved, so AWS answers with the same snapshot", async () => {
		startsAndCompletes();
		await run({ clientToken: "0123456789abcdef-feedfeedfeedfeed" }).result;
		expect(ebsMock.commandCalls(StartSnapshotCommand)[0]?.args[0].input.ClientToken).toBe(
			"0123456789abcdef-feedfeedfeedfeed",
		);
	});
	test("sends the one block with data, zero-padded, and completes with the count and LINEAR checksum", async () => {
		startsAndCompletes();
		const { result } = run({});
		expect((await result).progress).toMatchObject({
			blocksSent: 1,
			blocksSkipped: 1,
			totalBlocks: 2,
		});
		const put = ebsMock.commandCalls(PutSnapshotBlockCommand)[0]?.args[0].input;
		expect(put).toMatchObject({
			SnapshotId: "snap-new",
			BlockIndex: 0,
			DataLength: BLOCK_SIZE,
			ChecksumAlgorithm: "SHA256",
		});
		const block = Buffer.concat([Buffer.from("data"), Buffer.alloc(BLOCK_SIZE - 4)]);
		const digest = new Bun.CryptoHasher("sha256").update(block).digest();
		expect(put?.Checksum).toBe(digest.toString("base64"));
		expect(ebsMock.commandCalls(CompleteSnapshotCommand)[0]?.args[0].input).toEqual({
			SnapshotId: "snap-new",
			ChangedBlocksCount: 1,
			Checksum: new Bun.CryptoHasher("sha256").update(digest).digest("base64"),
			ChecksumAlgorithm: "SHA256",
			ChecksumAggregationMethod: "LINEAR",
		});
	});
	test("a snapshot a crashed run had completed is waited for, not sent again", async () => {
		ec2Mock
			.on(DescribeSnapshotsCommand, { OwnerIds: ["self"] })
			.resolves({ Snapshots: [{ SnapshotId: "snap-2", State: "pending", StartTime: new Date() }] })
			.on(DescribeSnapshotsCommand, { SnapshotIds: ["snap-2"] })
			.resolves({ Snapshots: [{ SnapshotId: "snap-2", State: "completed" }] });
		const done = await run({ snapshotId: "snap-2", completing: "snap-2" }).result;
		expect(done.snapshotId).toBe("snap-2");
		expect(ebsMock.commandCalls(PutSnapshotBlockCommand)).toHaveLength(0);
		expect(ebsMock.commandCalls(CompleteSnapshotCommand)).toHaveLength(0);
	});
	test("an answer with an error status forgets the token, so the next run starts afresh", async () => {
		ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
		ebsMock
			.on(StartSnapshotCommand)
			.resolves({ SnapshotId: "snap-bad", BlockSize: BLOCK_SIZE, Status: "error" });
		const { result, saved } = run({ clientToken: "old" });
		await expect(result).rejects.toThrow(
			"Snapshot snap-bad of this build ended in error; run the task again",
		);
		expect(saved.at(-1)).toEqual({});
		// The snapshot the refused answer named is deleted, not left behind.
		expect(ec2Mock.commandCalls(DeleteSnapshotCommand)[0]?.args[0].input).toEqual({
			SnapshotId: "snap-bad",
		});
	});
	test("--dry-run prints StartSnapshot, the plan and CompleteSnapshot, and sends nothing", async () => {
		ec2Mock.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
		const lines: string[] = [];
		await run({}, true, (line) => lines.push(line)).result;
		expect(lines[0]).toStartWith('would call StartSnapshot {"VolumeSize":1,"Timeout":60,');
		expect(lines[1]).toBe(
			"would call PutSnapshotBlock for the 1 blocks with data (0.5 MiB) and skip the 1 zero blocks, of 2",
		);
		expect(lines[2]).toStartWith(
			'would call CompleteSnapshot {"SnapshotId":"(new snapshot)","ChangedBlocksCount":1',
		);
		expect(ebsMock.calls()).toHaveLength(0);
	});
});

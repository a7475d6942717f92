/**
 * The EBS direct upload end to end through the real SDK request path: the
 * SDK clients publish uses, a loopback stand-in of EBS and EC2, a sparse
 * fixture image, and the faults a real network has.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
	ensureSnapshot,
	type SnapshotRequest,
	type SnapshotResult,
	type SnapshotState,
} from "../infra/publish/snapshot.ts";
import { localSnapshotContent } from "../infra/publish/snapshot-content.ts";
import { AwsCalls } from "../infra/sdk/calls.ts";
import { PublishError } from "../infra/sdk/errors.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "../infra/sdk/retry.ts";
import { closeClients } from "../tasks/aws/clients.ts";
import { standInClients } from "./aws/clients.ts";
import { AwsError, type StandIn } from "./aws/stand-in.ts";
import { standInAccount } from "./aws/start.ts";
import { BLOCK_SIZE, contentOf, leaveSnapshot, volumeOf, type World } from "./aws/world.ts";
import { tempDir } from "./helpers.ts";

const dir = tempDir("snapshot");
/** The files the uploads read, opened as publish opens them (and closed at the end). */
const opened: number[] = [];
function openImage(path: string): number {
	const fd = openSync(path, "r");
	opened.push(fd);
	return fd;
}
afterAll(() => {
	for (const fd of opened.splice(0)) closeSync(fd);
	rmSync(dir, { recursive: true, force: true });
});

/**
 * A sparse image: holes, data at odd offsets (one straddling a block
 * boundary), a block of data that is all 0xff, and a size that is not a
 * multiple of 512 KiB, its last partial block holding data.
 */
function sparseImage(name: string): { path: string; size: number; dataBlocks: number[] } {
	const path = join(dir, name);
	const size = 9 * BLOCK_SIZE + 12_345;
	const fd = openSync(path, "w");
	writeSync(fd, Buffer.from("boot sector"), 0, 11, 511);
	writeSync(fd, Buffer.alloc(2000, 0xab), 0, 2000, 3 * BLOCK_SIZE - 1000);
	writeSync(fd, Buffer.alloc(BLOCK_SIZE, 0xff), 0, BLOCK_SIZE, 6 * BLOCK_SIZE);
	writeSync(fd, Buffer.from("the end"), 0, 7, size - 7);
	closeSync(fd);
	return { path, size, dataBlocks: [0, 2, 3, 6, 9] };
}

const FAST: typeof DEFAULT_RETRY_POLICY = {
	...DEFAULT_RETRY_POLICY,
	attemptTimeoutMs: 1500,
	baseDelayMs: 5,
	maxDelayMs: 20,
};

describe("ensureSnapshot", () => {
	let world: World;
	let standIn: StandIn;
	let clients: ReturnType<typeof standInClients>;
	beforeEach(async () => {
		({ world, standIn } = await standInAccount());
		clients = standInClients(standIn);
	});
	afterEach(async () => {
		closeClients(Object.values(clients));
		await standIn.stop();
	});

	function upload(
		path: string,
		size: number,
		state: SnapshotState = {},
		budget = new RetryBudget(FAST),
		settings: Partial<
			Pick<SnapshotRequest, "concurrency" | "checkpoints" | "completedElsewhereMs">
		> = {},
	) {
		const saved: SnapshotState[] = [];
		const result = ensureSnapshot({
			calls: new AwsCalls(budget, false, () => {}),
			ebs: clients.ebs,
			ec2: clients.ec2,
			imageFd: openImage(path),
			sizeBytes: size,
			buildId: "0123456789abcdef",
			description: "test image",
			tags: { ManagedBy: "nix-images", BuildId: "0123456789abcdef", System: "x86_64-linux" },
			state,
			saveState: (next) => saved.push(next),
			concurrency: 4,
			...settings,
		});
		return { result, saved };
	}

	/** The content the run recorded is what the stand-in holds, and what the image holds. */
	async function expectContent(done: SnapshotResult, path: string) {
		const snapshot = world.snapshots.get(done.snapshotId);
		expect(snapshot?.state).toBe("completed");
		expect(done.content).toEqual(contentOf(snapshot as NonNullable<typeof snapshot>));
		expect(done.content).toEqual(await localSnapshotContent(path, 1));
	}

	test("sends only the blocks with data, each checksummed, and rebuilds the image byte for byte", async () => {
		const image = sparseImage("sparse.img");
		const { result } = upload(image.path, image.size);
		const done = await result;
		expect(done.reused).toBe(false);
		expect(done.progress).toEqual({
			totalBlocks: 10,
			blocksSent: 5,
			blocksSkipped: 5,
			blocksResumed: 0,
			bytesSent: 5 * BLOCK_SIZE,
		});
		const snapshot = world.snapshots.get(done.snapshotId);
		expect(snapshot?.state).toBe("completed");
		expect([...(snapshot?.blocks.keys() ?? [])].sort((a, b) => a - b)).toEqual(image.dataBlocks);
		expect(volumeOf(snapshot as NonNullable<typeof snapshot>, image.size)).toEqual(
			readFileSync(image.path),
		);
		expect(snapshot?.volumeSize).toBe(1);
		expect(snapshot?.tags).toMatchObject({ BuildId: "0123456789abcdef", System: "x86_64-linux" });
		expect(standIn.calls.filter((c) => c === "ebs:PutSnapshotBlock")).toHaveLength(5);
		expect(done.content).toMatchObject({ blockIndexes: "0,2-3,6,9", changedBlocks: 5 });
		await expectContent(done, image.path);
	});

	test("a second run reuses the completed snapshot and sends nothing", async () => {
		const image = sparseImage("again.img");
		const first = await upload(image.path, image.size).result;
		standIn.calls.length = 0;
		const second = await upload(image.path, image.size).result;
		expect(second).toMatchObject({ snapshotId: first.snapshotId, reused: true });
		expect(standIn.calls).toEqual(["ec2:DescribeSnapshots"]);
		expect(world.snapshots.size).toBe(1);
		// Nothing was sent, so nothing hashed while sending: the content is the image's.
		expect(second.content).toEqual(first.content);
		await expectContent(second, image.path);
	});

	test("throttling, 5xx, a hang and a lost answer are retried, and the snapshot is still right", async () => {
		const image = sparseImage("faults.img");
		standIn.faults.push(
			{ operation: "StartSnapshot", kind: "lost" },
			{ operation: "PutSnapshotBlock", kind: "throttle", times: 2 },
			{ operation: "PutSnapshotBlock", kind: "5xx", after: 1 },
			{ operation: "PutSnapshotBlock", kind: "hang", after: 2 },
			{ operation: "PutSnapshotBlock", kind: "lost", after: 3 },
			{ operation: "CompleteSnapshot", kind: "lost" },
			{ operation: "DescribeSnapshots", kind: "5xx", after: 1 },
		);
		const budget = new RetryBudget(FAST);
		const done = await upload(image.path, image.size, {}, budget).result;
		expect(world.snapshots.size).toBe(1);
		const snapshot = world.snapshots.get(done.snapshotId);
		expect(snapshot?.state).toBe("completed");
		expect(volumeOf(snapshot as NonNullable<typeof snapshot>, image.size)).toEqual(
			readFileSync(image.path),
		);
		expect(budget.retries).toBeGreaterThanOrEqual(7);
		expect(standIn.calls.filter((c) => c === "ebs:StartSnapshot")).toHaveLength(2);
		await expectContent(done, image.path);
	});

	test("a snapshot not visible yet right after StartSnapshot is waited for, and only within the window", async () => {
		const image = sparseImage("not-yet.img");
		const notFound = () =>
			new AwsError("ResourceNotFoundException", "The snapshot does not exist.", 404);
		standIn.faults.push({
			operation: "PutSnapshotBlock",
			kind: "error",
			error: notFound(),
			times: 3,
		});
		const done = await upload(image.path, image.size).result;
		expect(world.snapshots.get(done.snapshotId)?.state).toBe("completed");

		// Long after its start, a missing snapshot is a failure, not a wait.
		const tags = { ManagedBy: "nix-images", BuildId: "0123456789abcdef", System: "x86_64-linux" };
		world.snapshots.clear();
		leaveSnapshot(world, "snap-old", "pending", tags, 3_600_000);
		standIn.faults.push({
			operation: "PutSnapshotBlock",
			kind: "error",
			error: notFound(),
			times: 1,
		});
		const error = await upload(image.path, image.size).result.catch((e) => e);
		expect(error).toBeInstanceOf(PublishError);
		expect(error.message).toContain(
			"PutSnapshotBlock still found nothing 3600 s after it was made",
		);
	});

	test("a failure no re-run gets past deletes the snapshot it started", async () => {
		const image = sparseImage("fails.img");
		standIn.faults.push({
			operation: "PutSnapshotBlock",
			kind: "error",
			error: new AwsError("ValidationException", "The checksum does not match the data."),
		});
		const { result, saved } = upload(image.path, image.size);
		const error = await result.catch((e) => e);
		expect(error.name).toBe("ValidationException");
		expect(world.snapshots.size).toBe(0);
		expect(world.deletedSnapshots).toHaveLength(1);
		expect(saved.at(-1)).toEqual({});
	});

	test("a storm of 5xx keeps the pending snapshot and what AWS acknowledged, and says what kept failing and what a re-run does", async () => {
		const image = sparseImage("storm.img");
		// Two blocks get through, then every attempt fails.
		standIn.faults.push({ operation: "PutSnapshotBlock", kind: "5xx", times: 100, after: 2 });
		const budget = new RetryBudget({ ...FAST, maxAttempts: 3 });
		const settings = { concurrency: 1, checkpoints: { everyMs: 60_000, everyBlocks: 1000 } };
		const { result, saved } = upload(image.path, image.size, {}, budget, settings);
		const error = await result.catch((e) => e);
		expect(error).toBeInstanceOf(PublishError);
		expect(error.message).toMatch(
			/^The upload stopped \(PutSnapshotBlock kept failing \(InternalServerException: We encountered an internal error\.\) after 3 attempt\(s\) and \d+ retries in this run\)\. Snapshot snap-\w+ is kept, pending, until \d{4}-\d\d-\d\dT[\d:.]+Z: fix that and run the task again before then on this machine, and it sends only the blocks AWS has not acknowledged yet \(2 it has\); after that, or on another machine, it sends every block again\.$/,
		);
		const [snapshot] = world.snapshots.values();
		expect(snapshot?.state).toBe("pending");
		expect(world.deletedSnapshots).toHaveLength(0);
		const state = saved.at(-1) as SnapshotState;
		expect(state).toMatchObject({ snapshotId: snapshot?.id, acknowledged: { count: 2 } });

		// The re-run on this machine sends only the other three, and the snapshot is whole.
		standIn.faults.splice(0);
		const calls = standIn.calls.length;
		const resumed = await upload(image.path, image.size, state).result;
		expect(resumed.snapshotId).toBe(snapshot?.id as string);
		expect(resumed.progress).toMatchObject({ blocksSent: 3, blocksResumed: 2 });
		expect(standIn.calls.slice(calls).filter((c) => c === "ebs:PutSnapshotBlock")).toHaveLength(3);
		expect(volumeOf(world.snapshots.get(resumed.snapshotId) as never, image.size)).toEqual(
			readFileSync(image.path),
		);
		// The two blocks sent before count too: hashed again from the image, not sent.
		await expectContent(resumed, image.path);
	});

	test("credentials that expire mid-upload keep the snapshot; another machine (no checkpoint) sends every block", async () => {
		const image = sparseImage("expired.img");
		standIn.faults.push({
			operation: "PutSnapshotBlock",
			kind: "error",
			after: 3,
			times: 100,
			error: new AwsError(
				"ExpiredTokenException",
				"The security token included in the request is expired",
				403,
			),
		});
		const { result } = upload(image.path, image.size, {}, new RetryBudget(FAST), {
			concurrency: 1,
		});
		const error = await result.catch((e) => e);
		expect(error.message).toContain(
			"The upload stopped (ExpiredTokenException: The security token included in the request is expired).",
		);
		expect([...world.snapshots.values()].map((s) => s.state)).toEqual(["pending"]);
		standIn.faults.splice(0);
		const elsewhere = await upload(image.path, image.size, {}).result;
		expect(elsewhere.progress).toMatchObject({ blocksSent: 5, blocksResumed: 0 });
		await expectContent(elsewhere, image.path);
	});

	test("a pending snapshot left by a crash is resumed; one in error is deleted and replaced", async () => {
		const image = sparseImage("resume.img");
		const tags = { ManagedBy: "nix-images", BuildId: "0123456789abcdef", System: "x86_64-linux" };
		leaveSnapshot(world, "snap-crashed", "pending", tags, 3_600_000).blocks.set(
			2,
			Buffer.alloc(BLOCK_SIZE, 7),
		);
		const done = await upload(image.path, image.size).result;
		expect(done.snapshotId).toBe("snap-crashed");
		expect(volumeOf(world.snapshots.get("snap-crashed") as never, image.size)).toEqual(
			readFileSync(image.path),
		);
		expect(standIn.calls).not.toContain("ebs:StartSnapshot");
		await expectContent(done, image.path);

		world.snapshots.clear();
		leaveSnapshot(world, "snap-broken", "error", tags);
		const replaced = await upload(image.path, image.size).result;
		expect(replaced.snapshotId).not.toBe("snap-broken");
		expect(world.deletedSnapshots.map((s) => s.id)).toContain("snap-broken");
		expect([...world.snapshots.keys()]).toEqual([replaced.snapshotId]);
	});

	test("a pending snapshot another machine has completed refuses blocks; what it holds is hashed from the image", async () => {
		const image = sparseImage("elsewhere.img");
		const tags = { ManagedBy: "nix-images", BuildId: "0123456789abcdef", System: "x86_64-linux" };
		const left = leaveSnapshot(world, "snap-elsewhere", "pending", tags, 60_000);
		const bytes = readFileSync(image.path);
		for (const index of image.dataBlocks) {
			const block = Buffer.alloc(BLOCK_SIZE);
			bytes.copy(block, 0, index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE);
			left.blocks.set(index, block);
		}
		// CompleteSnapshot was sent: EBS takes no more blocks, and completes it on a later look.
		left.pollsUntilCompleted = 1;
		const done = await upload(image.path, image.size).result;
		expect(done).toMatchObject({ snapshotId: "snap-elsewhere", reused: false });
		expect(done.progress.blocksSent).toBe(0);
		await expectContent(done, image.path);
	});

	describe("as unkind as AWS", () => {
		test("a new snapshot invisible for two minutes of AWS's clock is waited for, spending nothing of the retry budget", async () => {
			const image = sparseImage("invisible.img");
			world.unkind.clockSpeed = 60;
			world.unkind.snapshotInvisibleMs = 120_000; // 2 s here
			const budget = new RetryBudget(FAST);
			const done = await upload(image.path, image.size, {}, budget).result;
			expect(world.snapshots.get(done.snapshotId)?.state).toBe("completed");
			expect(budget.retries).toBe(0);
			expect(volumeOf(world.snapshots.get(done.snapshotId) as never, image.size)).toEqual(
				readFileSync(image.path),
			);
		});

		test('"Failed to read block data", AWS\'s one retryable ValidationException, is retried', async () => {
			const image = sparseImage("unreadable.img");
			world.unkind.unreadableBlocksOnce = new Set([0, 6]);
			const done = await upload(image.path, image.size).result;
			expect(world.unkind.unreadableBlocksOnce.size).toBe(0);
			expect(volumeOf(world.snapshots.get(done.snapshotId) as never, image.size)).toEqual(
				readFileSync(image.path),
			);
		});

		test("a pending snapshot that refuses blocks and that nobody completes is watched for a while, then deleted", async () => {
			const image = sparseImage("refused.img");
			const tags = { ManagedBy: "nix-images", BuildId: "0123456789abcdef", System: "x86_64-linux" };
			leaveSnapshot(world, "snap-stuck", "pending", tags, 60_000);
			standIn.faults.push({
				operation: "PutSnapshotBlock",
				kind: "error",
				times: 100,
				error: new AwsError("ValidationException", "The block index is beyond the volume."),
			});
			const error = await upload(image.path, image.size, {}, new RetryBudget(FAST), {
				completedElsewhereMs: 300,
			}).result.catch((e) => e);
			expect(error.message).toBe(
				"Snapshot snap-stuck refused blocks (The block index is beyond the volume) but did not complete within 0 s either, so no earlier run is completing it; it was deleted: run the task again to upload it anew.",
			);
			expect(world.deletedSnapshots.map((s) => s.id)).toEqual(["snap-stuck"]);
		});

		test("the client token of a snapshot deleted in error is never sent again", async () => {
			const image = sparseImage("token.img");
			const tags = { ManagedBy: "nix-images", BuildId: "0123456789abcdef", System: "x86_64-linux" };
			const token = "0123456789abcdef-aaaaaaaaaaaaaaaa";
			leaveSnapshot(world, "snap-failed", "error", tags).clientToken = token;
			const done = await upload(image.path, image.size, {
				clientToken: token,
				snapshotId: "snap-failed",
			}).result;
			expect(done.snapshotId).not.toBe("snap-failed");
			expect(world.snapshots.get(done.snapshotId)?.clientToken).not.toBe(token);
			expect(world.snapshots.get(done.snapshotId)?.state).toBe("completed");
		});
	});
});

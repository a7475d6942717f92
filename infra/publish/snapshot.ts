/**
 * A raw disk image → a completed EBS snapshot, through the EBS direct APIs:
 * only blocks with data are sent, each with its SHA-256, and the snapshot is
 * completed with the LINEAR aggregate checksum. Better than NixOS/amis'
 * uploader (it sends zero blocks too) and coldsnap (no request timeouts:
 * awslabs/coldsnap#437): every request has a timeout and one retry budget.
 *
 * A re-run finishes the job: the snapshot is found again by its ManagedBy,
 * BuildId and System tags; a completed one is reused, a pending one (a crash
 * mid-upload) gets the blocks AWS has not acknowledged (all of them on
 * another machine, which has no checkpoint) and is completed (or, when an
 * earlier run already completed it, is waited for), one in error is deleted.
 * A failure a re-run can get past (credentials, a service that kept failing,
 * Ctrl-C) keeps the pending snapshot and the checkpoint of its acknowledged
 * blocks (checkpoint.ts); any other failure deletes the snapshot it started,
 * except one whose completion AWS is still working on, which a re-run waits for.
 */
import { createHash, randomBytes } from "node:crypto";
import {
	CompleteSnapshotCommand,
	type EBSClient,
	PutSnapshotBlockCommand,
	StartSnapshotCommand,
} from "@aws-sdk/client-ebs";
import {
	DeleteSnapshotCommand,
	DescribeSnapshotsCommand,
	type EC2Client,
	type Snapshot,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { EXPIRED_CREDENTIALS, errorCode, NOT_PERMITTED, PublishError } from "../sdk/errors.ts";
import { pollUntil } from "../sdk/poll.ts";
import { RetriesExhausted } from "../sdk/retry.ts";
import {
	BLOCK_SIZE,
	BlockPool,
	blockCount,
	dataBlocks,
	UPLOAD_CONCURRENCY,
	uploadPlan,
} from "./blocks.ts";
import {
	type AcknowledgedBlocks,
	BlockCheckpoint,
	type CheckpointSettings,
	DEFAULT_CHECKPOINTS,
} from "./checkpoint.ts";
import {
	imageContent,
	type SnapshotContent,
	snapshotContent,
	volumeSizeGiB,
} from "./snapshot-content.ts";

/**
 * How long a pending snapshot that refuses blocks is watched for a completion
 * an earlier run sent, before that is ruled out.
 */
const COMPLETED_ELSEWHERE_MS = 10 * 60_000;

/** What a run remembers on this machine, so a re-run after a crash reuses its client token. */
export interface SnapshotState {
	/** Starts with the build id (see startSnapshot), which tells whose state this is. */
	clientToken?: string;
	snapshotId?: string;
	/** CompleteSnapshot was sent for this snapshot: a re-run waits for it instead of sending blocks. */
	completing?: string;
	/** The blocks of the pending snapshot AWS acknowledged: a re-run sends only the others. */
	acknowledged?: AcknowledgedBlocks;
}

export interface UploadProgress {
	totalBlocks: number;
	blocksSent: number;
	blocksSkipped: number;
	/** Blocks an earlier run sent that AWS acknowledged: not sent again. */
	blocksResumed: number;
	bytesSent: number;
}

export interface SnapshotRequest {
	calls: AwsCalls;
	ebs: EBSClient;
	ec2: EC2Client;
	/** The image, open for reading: the very file that was checked. */
	imageFd: number;
	sizeBytes: number;
	/** Identifies the build: the ClientToken is derived from it. */
	buildId: string;
	description: string;
	/** Set at StartSnapshot, so the snapshot is never untagged; must include BuildId and System. */
	tags: Record<string, string>;
	state: SnapshotState;
	/** Persists the state (atomically) before and after StartSnapshot. */
	saveState: (state: SnapshotState) => void;
	/** Minutes after which AWS sets a snapshot that was never completed to `error`. */
	timeoutMinutes?: number;
	/** Blocks in flight at once. */
	concurrency?: number;
	onProgress?: (progress: UploadProgress) => void;
	/**
	 * Registers the checkpoint's save to run however the task ends (Ctrl-C
	 * too), so an interrupted upload resumes; returns how to unregister it.
	 */
	onUploading?: (snapshotId: string, flush: () => void) => () => void;
	checkpoints?: CheckpointSettings;
	/** How long a pending snapshot that refuses blocks is watched for another run's completion (COMPLETED_ELSEWHERE_MS). */
	completedElsewhereMs?: number;
}

export interface SnapshotResult {
	snapshotId: string;
	/** A completed snapshot of this build already existed: nothing was sent. */
	reused: boolean;
	progress: UploadProgress;
	/**
	 * What the completed snapshot holds (for ami.json): from the blocks this run
	 * hashed while sending, or, when an earlier run sent them, from the image
	 * (this build's snapshot is of this very image). Absent under --dry-run.
	 */
	content?: SnapshotContent;
}

type Status = "pending" | "completed" | "error" | "recoverable" | "recovering";

/** Replaces what this machine remembers of the run (request.state) and persists it. */
function remember(request: SnapshotRequest, next: SnapshotState): void {
	for (const key of Object.keys(request.state) as (keyof SnapshotState)[])
		delete request.state[key];
	Object.assign(request.state, next);
	request.saveState({ ...request.state });
}

/** The client token's prefix: the build it was made for. */
const tokenPrefix = (buildId: string) => `${buildId.slice(0, 40)}-`;

/** The tags that make a snapshot this build's: ManagedBy (what the publish role may act on), BuildId, System. */
const KEY_TAGS = ["ManagedBy", "BuildId", "System"] as const;

/**
 * The snapshots of this build, found by its ManagedBy, BuildId and System
 * tags (and by the id a previous run of the same build on this machine
 * recorded, if its tags agree): the key that makes re-runs safe.
 */
async function findSnapshots(request: SnapshotRequest): Promise<Snapshot[]> {
	const { calls, ec2, tags, state } = request;
	const found = await calls.read(
		ec2,
		new DescribeSnapshotsCommand({
			OwnerIds: ["self"],
			Filters: KEY_TAGS.map((key) => ({ Name: `tag:${key}`, Values: [tags[key] ?? ""] })),
		}),
	);
	const snapshots = found.Snapshots ?? [];
	// Just after StartSnapshot a snapshot may not be listed yet; the recorded id finds it.
	if (state.snapshotId && !snapshots.some((s) => s.SnapshotId === state.snapshotId)) {
		const byId = await calls
			.read(ec2, new DescribeSnapshotsCommand({ SnapshotIds: [state.snapshotId] }))
			.catch((error) => {
				if (errorCode(error) === "InvalidSnapshot.NotFound") return { Snapshots: [] };
				throw error;
			});
		const ours = (snapshot: Snapshot) =>
			KEY_TAGS.every((key) =>
				(snapshot.Tags ?? []).some((tag) => tag.Key === key && tag.Value === tags[key]),
			);
		snapshots.push(...(byId.Snapshots ?? []).filter(ours));
	}
	return snapshots;
}

/** Deletes a snapshot; idempotent on its id (one already gone is fine). */
async function deleteSnapshot(calls: AwsCalls, ec2: EC2Client, snapshotId: string) {
	await calls.write(ec2, new DeleteSnapshotCommand({ SnapshotId: snapshotId })).catch((error) => {
		if (errorCode(error) !== "InvalidSnapshot.NotFound") throw error;
	});
}

/**
 * StartSnapshot, idempotent on its ClientToken: derived from the build id, and
 * fresh for every new snapshot (a token whose snapshot was deleted is never
 * used again), saved before the call so a re-run after a lost answer reuses it.
 */
async function startSnapshot(request: SnapshotRequest): Promise<{ id: string; startedAt: number }> {
	const { calls, ebs, sizeBytes, tags, description, state } = request;
	const clientToken =
		state.clientToken ?? `${tokenPrefix(request.buildId)}${randomBytes(8).toString("hex")}`;
	remember(request, { clientToken });
	const started = await calls.write(
		ebs,
		new StartSnapshotCommand({
			VolumeSize: volumeSizeGiB(sizeBytes),
			Timeout: request.timeoutMinutes ?? 60,
			ClientToken: clientToken,
			Description: description,
			Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
		}),
	);
	if (started === undefined) return { id: "(new snapshot)", startedAt: Date.now() };
	const refused = !started.SnapshotId
		? "without a snapshot id"
		: started.BlockSize !== BLOCK_SIZE
			? `with a block size other than ${BLOCK_SIZE} (${started.BlockSize})`
			: started.Status === "error"
				? "with a snapshot in error"
				: undefined;
	if (refused !== undefined) {
		// Its snapshot goes, and with it the token (AWS would answer it with the same snapshot again).
		if (started.SnapshotId) await deleteSnapshot(request.calls, request.ec2, started.SnapshotId);
		remember(request, {});
		throw new PublishError(
			started.Status === "error"
				? `Snapshot ${started.SnapshotId} of this build ended in error; run the task again to start a new one (this one was deleted).`
				: `StartSnapshot answered ${refused}${started.SnapshotId ? `; snapshot ${started.SnapshotId} was deleted` : ""}; run the task again to start a new one.`,
		);
	}
	const snapshotId = started.SnapshotId as string;
	remember(request, { clientToken, snapshotId });
	return { id: snapshotId, startedAt: (started.StartTime ?? new Date()).getTime() };
}

/**
 * PutSnapshotBlock for every block with data, idempotent on the block index
 * (putting a block again overwrites it with the same bytes), `concurrency` at a time.
 * Returns the SHA-256 of each block sent, by index, for the aggregate checksum.
 */
async function putBlocks(
	request: SnapshotRequest,
	snapshotId: string,
	startedAt: number,
	progress: UploadProgress,
	checkpoint: BlockCheckpoint,
): Promise<Map<number, Buffer>> {
	const { calls, ebs, imageFd, onProgress } = request;
	const digests = new Map<number, Buffer>();
	const inFlight = new Set<Promise<void>>();
	// One buffer more than the requests in flight: the next block is read while they run.
	const pool = new BlockPool((request.concurrency ?? UPLOAD_CONCURRENCY) + 1);
	let failure: unknown;
	// Right after StartSnapshot, PutSnapshotBlock may not find it for up to about two minutes (coldsnap#43).
	const notVisibleYet = (error: unknown) => errorCode(error) === "ResourceNotFoundException";

	const skip = () => {
		progress.blocksSkipped++;
		onProgress?.(progress);
	};
	for await (const { index, data } of dataBlocks(imageFd, skip, pool)) {
		if (failure !== undefined) {
			pool.give(data);
			break;
		}
		const digest = createHash("sha256").update(data).digest();
		digests.set(index, digest);
		if (checkpoint.has(index)) {
			// Acknowledged to an earlier run: only its SHA-256 is needed, for the aggregate.
			progress.blocksResumed++;
			onProgress?.(progress);
			pool.give(data);
			continue;
		}
		const put = calls
			.write(
				ebs,
				new PutSnapshotBlockCommand({
					SnapshotId: snapshotId,
					BlockIndex: index,
					BlockData: data,
					DataLength: BLOCK_SIZE,
					Checksum: digest.toString("base64"),
					ChecksumAlgorithm: "SHA256",
				}),
				{ notVisibleYet, madeAt: startedAt },
			)
			.then(() => {
				checkpoint.acknowledge(index);
				progress.blocksSent++;
				progress.bytesSent += BLOCK_SIZE;
				onProgress?.(progress);
			})
			.catch((error) => {
				failure ??= error;
			})
			.finally(() => {
				pool.give(data);
				inFlight.delete(put);
			});
		inFlight.add(put);
	}
	await Promise.all(inFlight);
	if (failure !== undefined) throw failure;
	return digests;
}

/**
 * CompleteSnapshot with the count of blocks sent and the LINEAR aggregate
 * checksum (SHA-256 over the blocks' SHA-256s in index order: the content
 * ami.json records), idempotent on the snapshot id: a repeat after a lost
 * answer finds it pending or completed.
 */
async function completeSnapshot(
	request: SnapshotRequest,
	snapshotId: string,
	content: SnapshotContent,
): Promise<void> {
	const { calls, ebs } = request;
	remember(request, { ...request.state, completing: snapshotId });
	const command = new CompleteSnapshotCommand({
		SnapshotId: snapshotId,
		ChangedBlocksCount: content.changedBlocks,
		Checksum: content.linearChecksum,
		ChecksumAlgorithm: "SHA256",
		ChecksumAggregationMethod: "LINEAR",
	});
	try {
		await calls.write(ebs, command);
	} catch (error) {
		// An earlier attempt may have completed it and lost the answer.
		if (errorCode(error) !== "ValidationException") throw error;
		const status = await snapshotStatus(request, snapshotId);
		if (status !== "pending" && status !== "completed") throw error;
	}
}

async function snapshotStatus(
	request: SnapshotRequest,
	snapshotId: string,
): Promise<Status | undefined> {
	const found = await request.calls.read(
		request.ec2,
		new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }),
	);
	return found.Snapshots?.[0]?.State as Status | undefined;
}

/** A failure a re-run can get past: expired or missing permissions, or a service that kept failing. */
function fixableByRerun(error: unknown): boolean {
	if (error instanceof RetriesExhausted) return true;
	const code = errorCode(error);
	return EXPIRED_CREDENTIALS.test(code) || NOT_PERMITTED.test(code);
}

/** The sentence of an upload that stopped but can resume: why, and what a re-run will do until when. */
function interrupted(
	error: unknown,
	snapshotId: string,
	until: Date,
	acknowledged: number,
): PublishError {
	const reason =
		error instanceof PublishError
			? error.message.replace(/;[^;]*run the task again[^;]*$/, "").replace(/\.$/, "")
			: `${errorCode(error)}: ${(error as Error).message?.replace(/\.$/, "")}`;
	return new PublishError(
		`The upload stopped (${reason}). Snapshot ${snapshotId} is kept, pending, until ${until.toISOString()}: fix that and run the task again before then on this machine, and it sends only the blocks AWS has not acknowledged yet (${acknowledged} it has); after that, or on another machine, it sends every block again.`,
	);
}

/** A completed snapshot AWS is still checking after the wait: kept, for a re-run to wait for. */
class StillCompleting extends PublishError {}

/**
 * Waits until the snapshot is `completed` (AWS checks the blocks and the
 * checksum), polling with backoff, for an hour or `limit`; only reads.
 */
async function waitCompleted(
	request: SnapshotRequest,
	snapshotId: string,
	limit?: { ms: number; late: () => Error },
): Promise<void> {
	await pollUntil(
		async () => {
			const status = await snapshotStatus(request, snapshotId);
			if (status === "completed") return true;
			if (status === "pending") return undefined;
			throw new PublishError(
				`Snapshot ${snapshotId} ended ${status ?? "missing"} instead of completed (AWS rejected its blocks or checksum); run the task again to upload it anew.`,
			);
		},
		{
			limitMs: limit?.ms ?? 60 * 60_000,
			late:
				limit?.late ??
				(() =>
					new StillCompleting(
						`Snapshot ${snapshotId} was still pending after an hour; run the task again later, it will wait for it.`,
					)),
		},
	);
}

/**
 * The image as a completed snapshot of this build: reused, resumed or
 * uploaded. Idempotent on the snapshot's ManagedBy, BuildId and System tags
 * (findSnapshots) and on StartSnapshot's saved client token; what this
 * machine remembers (request.state) counts only for the same build.
 */
export async function ensureSnapshot(request: SnapshotRequest): Promise<SnapshotResult> {
	const { calls, ec2, imageFd, sizeBytes } = request;
	// A rebuilt image: what an interrupted run of the previous build left here is not this build's.
	const token = request.state.clientToken;
	if (token !== undefined && !token.startsWith(tokenPrefix(request.buildId))) remember(request, {});
	const progress: UploadProgress = {
		totalBlocks: blockCount(sizeBytes),
		blocksSent: 0,
		blocksSkipped: 0,
		blocksResumed: 0,
		bytesSent: 0,
	};
	const snapshots = await findSnapshots(request);
	const completed = snapshots.find((s) => s.State === "completed");
	if (completed?.SnapshotId) {
		remember(request, {});
		const content = await imageContent(imageFd, completed.VolumeSize ?? volumeSizeGiB(sizeBytes));
		return { snapshotId: completed.SnapshotId, reused: true, progress, content };
	}
	const pending = snapshots.find((s) => s.State === "pending");
	const failed = snapshots.filter((s) => s.State === "error");
	for (const snapshot of failed) {
		if (snapshot.SnapshotId) await deleteSnapshot(calls, ec2, snapshot.SnapshotId);
	}
	// A deleted snapshot's token is forgotten with it: AWS answers a reused token with the
	// original (deleted) snapshot. Kept only when it is the pending snapshot's.
	if (failed.length > 0 && !(pending && pending.SnapshotId === request.state.snapshotId)) {
		remember(request, {});
	}

	if (calls.dryRun) {
		const plan = await uploadPlan(imageFd);
		if (pending?.SnapshotId) calls.log(`would resume pending snapshot ${pending.SnapshotId}`);
		else await startSnapshot(request);
		const snapshotId = pending?.SnapshotId ?? "(new snapshot)";
		calls.log(
			`would call PutSnapshotBlock for the ${plan.data} blocks with data (${((plan.data * BLOCK_SIZE) / 1024 ** 2).toFixed(1)} MiB) and skip the ${plan.zero} zero blocks, of ${progress.totalBlocks}`,
		);
		calls.log(
			`would call CompleteSnapshot ${JSON.stringify({ SnapshotId: snapshotId, ChangedBlocksCount: plan.data, ChecksumAlgorithm: "SHA256", ChecksumAggregationMethod: "LINEAR" })}`,
		);
		return { snapshotId, reused: false, progress };
	}

	const { id, startedAt } = pending?.SnapshotId
		? { id: pending.SnapshotId, startedAt: (pending.StartTime ?? new Date()).getTime() }
		: await startSnapshot(request);
	const checkpoint = new BlockCheckpoint(
		id,
		progress.totalBlocks,
		request.state.acknowledged,
		(acknowledged) => remember(request, { ...request.state, snapshotId: id, acknowledged }),
		request.checkpoints ?? DEFAULT_CHECKPOINTS,
	);
	const unregister = request.onUploading?.(id, () => checkpoint.flush()) ?? (() => {});
	const volumeSize = pending?.VolumeSize ?? volumeSizeGiB(sizeBytes);
	let content: SnapshotContent | undefined;
	try {
		// Completed by a run that crashed before the answer: EBS takes no more blocks; wait for it.
		let refused: Error | undefined;
		if (request.state.completing !== id) {
			try {
				const digests = await putBlocks(request, id, startedAt, progress, checkpoint);
				content = snapshotContent(volumeSize, digests);
				await completeSnapshot(request, id, content);
			} catch (error) {
				// A pending snapshot this run did not start may be completing already (sent by a
				// run on another machine, which left no state here): it refuses blocks. Watched for
				// a while, not an hour: the refusal may be of another kind, and nobody completing it.
				if (!pending || errorCode(error) !== "ValidationException") throw error;
				refused = error as Error;
				calls.log(
					`snapshot ${id} takes no more blocks (${refused.message}): an earlier run may have completed it; waiting for AWS to check it.`,
				);
			}
		}
		await waitCompleted(
			request,
			id,
			refused && {
				ms: request.completedElsewhereMs ?? COMPLETED_ELSEWHERE_MS,
				late: () =>
					new PublishError(
						`Snapshot ${id} refused blocks (${refused?.message.replace(/\.$/, "")}) but did not complete within ${Math.round((request.completedElsewhereMs ?? COMPLETED_ELSEWHERE_MS) / 1000)} s either, so no earlier run is completing it; it was deleted: run the task again to upload it anew.`,
					),
			},
		);
	} catch (error) {
		if (error instanceof StillCompleting) throw error;
		if (fixableByRerun(error)) {
			checkpoint.flush();
			const until = new Date(startedAt + (request.timeoutMinutes ?? 60) * 60_000);
			throw interrupted(error, id, until, checkpoint.count);
		}
		// Nothing half-made stays behind: the next run starts a new snapshot with a new token.
		await deleteSnapshot(calls, ec2, id).catch(() => {});
		remember(request, {});
		throw error;
	} finally {
		unregister();
	}
	remember(request, {});
	// Completed by an earlier run (this one sent no blocks, or not all of them): hashed from the image.
	content ??= await imageContent(imageFd, volumeSize);
	return { snapshotId: id, reused: false, progress, content };
}

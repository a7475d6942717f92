/**
 * The AMI part of `publish`: this system's disk image → an EBS snapshot → a
 * private AMI in the home region, with ami.json written beside the image, last.
 */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { requireUsableEncryption } from "../../infra/account/encryption.ts";
import { BLOCK_SIZE } from "../../infra/publish/blocks.ts";
import { amiNameProblem, ensureImage } from "../../infra/publish/image.ts";
import {
	ensureSnapshot,
	type SnapshotState,
	type UploadProgress,
} from "../../infra/publish/snapshot.ts";
import type { SnapshotContent } from "../../infra/publish/snapshot-content.ts";
import type { AwsCalls } from "../../infra/sdk/calls.ts";
import { type StackOutputs, systemOutput } from "../../infra/sdk/stack-outputs.ts";
import {
	MANAGED_BY,
	MAX_DEPRECATION_DAYS,
	MAX_PUBLIC_DEPRECATION_DAYS,
	type System,
} from "../../infra/vocabulary.ts";
import type { PublishClients } from "../aws/clients.ts";
import { readJson, writeJsonAtomically } from "../project/files.ts";
import { amiName, buildIdOf } from "../project/names.ts";
import { publishOutput } from "../project/outputs.ts";
import { openVmImage, type Verified, type VmImage } from "../project/vm-image.ts";
import { TaskError, UsageError } from "../runner/errors.ts";
import { createProgress, formatBytes, formatSeconds } from "../runner/progress.ts";
import type { TaskContext } from "../runner/task.ts";

interface PublishState {
	verified?: Verified;
	snapshot?: SnapshotState;
}

/** What ami.json records: enough for `release` to work on a machine without the image. */
export interface AmiRecord {
	buildId: string;
	system: string;
	label: string;
	sha256: string;
	region: string;
	imageId: string;
	imageName: string;
	snapshotId: string;
	/** What the snapshot holds (its blocks with data, the LINEAR checksum): what `verify --deep` reads back. */
	snapshotContent: SnapshotContent;
	deprecateAt: string;
	registered: object;
}

function deprecateDays(given: string | undefined, fallback: number): number {
	if (given === undefined) return fallback;
	if (!/^\d+$/.test(given) || Number(given) < 1 || Number(given) > MAX_DEPRECATION_DAYS) {
		throw new UsageError(
			`--deprecate-days must be a whole number of days from 1 to ${MAX_DEPRECATION_DAYS} (AWS deprecates at most 10 years ahead), not "${given}".`,
		);
	}
	return Number(given);
}

function describeUpload(progress: UploadProgress, startedMs: number): string {
	const total = Math.max(progress.totalBlocks, 1);
	const done = Math.min(progress.blocksSent + progress.blocksSkipped, total);
	const seconds = (Date.now() - startedMs) / 1000;
	const rate = progress.bytesSent / Math.max(seconds, 0.001);
	const eta = done > 0 ? (seconds / done) * (total - done) : undefined;
	const resumed = progress.blocksResumed > 0 ? `, ${progress.blocksResumed} sent before` : "";
	return `${progress.blocksSent} blocks sent${resumed}, ${progress.blocksSkipped} skipped (zeros), of ${progress.totalBlocks} (${Math.floor((100 * done) / total)}%), ${(rate / 1e6).toFixed(1)} MB/s${eta === undefined ? "" : `, ETA ${formatSeconds(eta)}`}`;
}

type AmiContext = TaskContext<{ system: string; "deprecate-days": string | undefined }>;

/** What the AMI part publishes, checked before anything of any part is uploaded. */
export interface AmiPlan {
	system: System;
	deprecateDays: number;
	output: ReturnType<typeof publishOutput>;
	image: VmImage;
	state: PublishState;
	save: (next: PublishState) => void;
}

/** Locks the image's outputs, checks the image file and its metadata (hashing it once) and the options. */
export async function prepareAmi(
	context: AmiContext,
	lifecycleMaxAgeDays: number,
): Promise<AmiPlan> {
	const { options, root, dryRun, lock } = context;
	const system = options.system as System;
	const days = deprecateDays(options["deprecate-days"], lifecycleMaxAgeDays);
	const output = publishOutput(root, "virtual-machine", system);
	lock(output.dir);
	const state: PublishState = existsSync(output.state)
		? (readJson(output.state) as PublishState)
		: {};
	const save = (next: PublishState) => {
		Object.assign(state, next);
		if (!dryRun) writeJsonAtomically(output.state, state, 0o600);
	};
	const hashing = createProgress({ prefix: `${context.task}: ` });
	const { image, verified } = await openVmImage(
		context,
		system,
		state.verified,
		(label) => {
			// The name RegisterImage gets, known but for the build id (16 characters) before anything is hashed.
			const problem = amiNameProblem(amiName(label, system, "0".repeat(16)));
			if (problem !== undefined) {
				throw new TaskError(
					`The AMI name publish would register for NixOS label ${JSON.stringify(label)} ${problem}; fix the image's label (system.nixos.label) and rebuild it: bun task virtual-machine --system ${system}.`,
				);
			}
		},
		(bytes, total) =>
			hashing.update(`verifying nixos.img: ${formatBytes(bytes)} of ${formatBytes(total)} hashed`),
	);
	hashing.done();
	save({ verified });
	return { system, deprecateDays: days, output, image, state, save };
}

/**
 * The AMI part: the snapshot (ensureSnapshot: idempotent on the build's tags
 * and the saved client token), the AMI (ensureImage: on its name), then
 * ami.json, written last in one rename.
 */
export async function publishAmi(
	plan: AmiPlan,
	context: AmiContext,
	clients: PublishClients,
	calls: AwsCalls,
	stack: StackOutputs,
): Promise<AmiRecord | undefined> {
	const { root, dryRun, log } = context;
	const { system, output, image, state, save } = plan;
	if (stack.PublicAmis === "true" && plan.deprecateDays > MAX_PUBLIC_DEPRECATION_DAYS) {
		throw new TaskError(
			`The stack's AMIs are public, and AWS deprecates public AMIs at most ${MAX_PUBLIC_DEPRECATION_DAYS} days (2 years) after their creation, not ${plan.deprecateDays}; pass --deprecate-days ${MAX_PUBLIC_DEPRECATION_DAYS} or fewer (or lower the lifecycleMaxAgeDays setting).`,
		);
	}
	await requireUsableEncryption(calls, clients.ec2, clients.region, stack.PublicAmis === "true");

	const buildId = buildIdOf(image.sha256);
	const name = amiName(image.label, system, buildId);
	const tags = {
		Name: name,
		[MANAGED_BY.key]: MANAGED_BY.value,
		BuildId: buildId,
		System: system,
		// Image Builder's managed policies act only on resources with this tag (distribution, lifecycle).
		CreatedBy: "EC2 Image Builder",
		[stack.LifecycleTagKey]: systemOutput(stack, "LifecycleTagValues", system),
	};
	log(
		`build ${buildId}: ${relative(root, `${output.dir}/nixos.img`)}, ${formatBytes(image.sizeBytes)}, NixOS ${image.label}.`,
	);

	const upload = createProgress({ prefix: `${context.task}: ` });
	const started = Date.now();
	const snapshot = await ensureSnapshot({
		calls,
		ebs: clients.ebs,
		ec2: clients.ec2,
		imageFd: image.fd,
		sizeBytes: image.sizeBytes,
		buildId,
		description: `NixOS ${image.label} ${system}, nix-images build ${buildId}`,
		tags,
		state: state.snapshot ?? {},
		saveState: (snapshotState) => save({ snapshot: snapshotState }),
		onProgress: (progress) => upload.update(describeUpload(progress, started)),
		// Ctrl-C mid-upload: what AWS acknowledged is saved, so a re-run sends only the rest.
		onUploading: (snapshotId, flush) =>
			context.cleanup(async () => {
				flush();
				log(
					`the upload stopped: snapshot ${snapshotId} is kept, pending; a re-run on this machine within its hour sends only the blocks AWS has not acknowledged.`,
				);
			}),
	});
	upload.done();
	const seconds = (Date.now() - started) / 1000;
	if (snapshot.reused) {
		log(`snapshot ${snapshot.snapshotId} of this build is already complete: nothing sent.`);
	} else if (!dryRun) {
		const { bytesSent, blocksSkipped, blocksResumed } = snapshot.progress;
		const resumed =
			blocksResumed > 0 ? `; ${blocksResumed} blocks an earlier run sent were not sent again` : "";
		log(
			`snapshot ${snapshot.snapshotId}: sent ${formatBytes(bytesSent)} of the image's ${formatBytes(image.sizeBytes)} (${((100 * bytesSent) / image.sizeBytes).toFixed(0)}%; ${blocksSkipped} zero blocks of ${formatBytes(BLOCK_SIZE)} skipped${resumed}) in ${formatSeconds(seconds)} (${(bytesSent / Math.max(seconds, 0.001) / 1e6).toFixed(1)} MB/s).`,
		);
	}

	const ami = await ensureImage({
		calls,
		ec2: clients.ec2,
		name,
		description: `NixOS ${image.label} for Amazon EC2 (${system}), built by nix-images`,
		system,
		snapshotId: snapshot.snapshotId,
		tags,
		// The AMI's own tag (not the snapshot's): what ties an AMI id to the bytes of nixos.img.
		imageSha256: image.sha256,
		deprecateDays: plan.deprecateDays,
	});
	if (dryRun) return undefined;
	if (snapshot.content === undefined) {
		throw new Error("ensureSnapshot gave no snapshot content outside --dry-run.");
	}
	log(
		`AMI ${ami.imageId} (${name}) ${ami.existed ? "was already registered" : "registered"}, private, deprecated from ${ami.deprecateAt}.`,
	);

	const record: AmiRecord = {
		buildId,
		system,
		label: image.label,
		sha256: image.sha256,
		region: clients.region,
		imageId: ami.imageId,
		imageName: name,
		snapshotId: snapshot.snapshotId,
		snapshotContent: snapshot.content,
		deprecateAt: ami.deprecateAt,
		registered: ami.registered,
	};
	writeJsonAtomically(output.result, record);
	log(`wrote ${relative(root, output.result)}.`);
	return record;
}

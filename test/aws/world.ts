/**
 * The stand-in's AWS account: snapshots written through EBS direct, AMIs, the
 * control-plane stack and account settings, as the services of the stand-in
 * see and change them. Tests read it to assert what publishing left behind.
 */
import { createHash } from "node:crypto";
import { SYSTEM_ARCHITECTURES } from "../../infra/vocabulary.ts";
import type { ParameterRecord } from "./ssm.ts";

export const ACCOUNT = "123456789012";
/** The systems the stack distributes (nix/systems.json). */
const SYSTEMS = Object.keys(SYSTEM_ARCHITECTURES);

import { BLOCK_SIZE } from "../../infra/publish/blocks.ts";
import { encodeBlockRanges, type SnapshotContent } from "../../infra/publish/snapshot-content.ts";

export { BLOCK_SIZE };

export interface SnapshotRecord {
	id: string;
	clientToken?: string;
	volumeSize: number;
	description: string;
	tags: Record<string, string>;
	state: "pending" | "completed" | "error";
	startTime: Date;
	/** The blocks written, or (for a sink that keeps no data, see World.keepBlocks) their SHA-256s. */
	blocks: Map<number, Buffer>;
	/** DescribeSnapshots calls still answered "pending" after CompleteSnapshot (set by it). */
	pollsUntilCompleted?: number;
	/** Where it lives (default us-east-1, where EBS direct writes). */
	region?: string;
}

export interface ImageRecord {
	id: string;
	name: string;
	description?: string;
	state: "pending" | "available" | "failed" | "disabled";
	creationDate: string;
	architecture: string;
	bootMode?: string;
	tpmSupport?: string;
	imdsSupport?: string;
	enaSupport?: boolean;
	sriovNetSupport?: string;
	rootDeviceName: string;
	blockDevices: {
		deviceName: string;
		snapshotId?: string;
		volumeType?: string;
		deleteOnTermination?: boolean;
	}[];
	tags: Record<string, string>;
	deprecationTime?: string;
	pollsUntilAvailable: number;
	region: string;
	public: boolean;
	/** The account that owns it (default: ACCOUNT, the stand-in's own). */
	owner?: string;
	/** When it was made (ms): the invisibility window runs from then. */
	madeAt?: number;
	/** A copy's source (CopyImage, as Image Builder makes them). */
	sourceImageId?: string;
	sourceImageRegion?: string;
}

export interface InstanceRecord {
	id: string;
	clientToken?: string;
	imageId: string;
	instanceType: string;
	httpTokens?: string;
	keyName?: string;
	userData?: string;
	shutdownBehavior?: string;
	state: "pending" | "running" | "shutting-down" | "terminated";
	tags: Record<string, string>;
	/** GetConsoleOutput calls until the image's boot marker shows (undefined: it never does). */
	pollsUntilBooted?: number;
	/** When RunInstances made it (ms): the invisibility window runs from then. */
	launchedAt?: number;
	subnetId?: string;
}

export interface ImageBuilderImage {
	arn: string;
	clientToken: string;
	sourceImage: string;
	distributionConfigurationArn: string;
	executionRole: string;
	tags: Record<string, string>;
	status: "PENDING" | "DISTRIBUTING" | "AVAILABLE" | "FAILED" | "CANCELLED";
	reason?: string;
	/** GetImage polls until the next state. */
	polls: number;
	/** Whether this distribution fails once (before a RetryImage). */
	failOnce?: string;
	/** GetImage answers left that still say FAILED after a RetryImage. */
	failedPolls?: number;
	retryTokens: string[];
	amis: { region: string; image: string; name: string }[];
}

/**
 * A tagging as IAM authorizes it: CreateTags on one resource, with the
 * condition keys it brings (ec2:CreateAction when the tags come with a
 * creation: RegisterImage's TagSpecifications, StartSnapshot's Tags).
 */
export interface Tagging {
	/** ec2:CreateAction: the creating call, when the tags come with one. */
	createAction?: string;
	/** The resource's ARN. */
	resource: string;
	/** aws:ResourceTag/…: what the resource carried before (nothing, when being created). */
	resourceTags: Record<string, string>;
	/** aws:RequestTag/… and aws:TagKeys. */
	requestTags: Record<string, string>;
}

/** An EC2 resource's ARN in `region` (images and snapshots have no account in theirs). */
export function ec2Arn(region: string, type: string, id: string): string {
	const account = type === "image" || type === "snapshot" ? "" : ACCOUNT;
	return `arn:aws:ec2:${region}:${account}:${type}/${id}`;
}

export interface World {
	snapshots: Map<string, SnapshotRecord>;
	deletedSnapshots: SnapshotRecord[];
	images: Map<string, ImageRecord>;
	stacks: Map<string, { status: string; outputs: Record<string, string> }>;
	ebsEncryptionByDefault: boolean;
	/** Other regions where EBS encryption by default is on. */
	encryptedByDefaultIn: Set<string>;
	/** False for a benchmark sink: blocks are checked and only their SHA-256 is kept. */
	keepBlocks: boolean;
	/** ECR Public repositories: name → URI (host/alias/name; the tests' registry stands for public.ecr.aws). */
	repositories: Map<string, string>;
	/** What GetAuthorizationToken hands out: the password of user AWS at the registry. */
	registryPassword: string;
	instances: Map<string, InstanceRecord>;
	/** The console line the images print once booted (nix/boot-marker.json's text, set by the tests). */
	bootMarker: string;
	/** GetConsoleOutput polls until a new instance has booted (undefined: it never boots). */
	bootPolls: number | undefined;
	imageBuilderImages: Map<string, ImageBuilderImage>;
	/** The next DistributeImage fails once, with this reason. */
	failNextDistribution?: string;
	/** Regions where image block public access is on. */
	blockPublicAccess: Set<string>;
	/** Each region's "Public AMIs" quota, where it differs from AWS's default of 5 (Service Quotas). */
	publicAmiQuota: Map<string, number>;
	/** Quota increases asked for (RequestServiceQuotaIncrease), in order. */
	quotaRequests: { id: string; region: string; desired: number; status: string }[];
	/** A Recycle Bin retention rule for AMIs: deregistered AMIs go to the bin (and still count when public). */
	recycleBinRetention: boolean;
	/** AMIs in the Recycle Bin. */
	recycleBin: ImageRecord[];
	/** AMIs deregistered, in order (the Recycle Bin's or gone). */
	deregistered: string[];
	/** AMIs whose public launch permission was removed, in order. */
	madePrivate: string[];
	/** Regions that are not enabled for the account (opt-in regions not opted into). */
	disabledRegions: Set<string>;
	/** The real registry behind ECR Public's image API (DescribeImages, BatchDeleteImage). */
	registry?: { host: string; password: string; dir: string; cert: string };
	/** SSM parameters by region (test/aws/ssm.ts). */
	parameters: Map<string, Map<string, ParameterRecord>>;
	/** Every tagging done, in order, as IAM authorizes it (test/aws/iam.ts evaluates them). */
	taggings: Tagging[];
	/**
	 * What real AWS does that a kind stand-in would not (aws-review.md), each
	 * window in AWS's milliseconds, run `clockSpeed` times faster, so a
	 * 150-second window costs a test a few seconds.
	 */
	unkind: Unkindness;
	nextId: (prefix: string) => string;
}

export interface Unkindness {
	/** How many times faster than AWS's clock the windows run. */
	clockSpeed: number;
	/** A new snapshot is unknown to PutSnapshotBlock and DescribeSnapshots for this long (coldsnap#43: ~2 min). */
	snapshotInvisibleMs: number;
	/** A new AMI is InvalidAMIID.NotFound to DescribeImages for this long. */
	imageInvisibleMs: number;
	/** A new instance is InvalidInstanceID.NotFound to every call for this long. */
	instanceInvisibleMs: number;
	/** These block indexes answer "Failed to read block data" once each (a retryable ValidationException). */
	unreadableBlocksOnce: Set<number>;
	/** After RetryImage, GetImage still answers FAILED this many times. */
	failedPollsAfterRetry: number;
	/** The account has a default VPC (RunInstances without a subnet needs one). */
	defaultVpc: boolean;
	/** Availability zones of us-east-1 whose subnets exist, and which of them offer which instance types. */
	zones: Record<string, string[]>;
	/** GetEbsDefaultKmsKeyId's answer. */
	defaultKmsKeyId: string;
	/**
	 * AMI times (CreationDate, DeprecationTime: strings, not timestamps, in EC2's
	 * model, so the SDK passes them on as written) without their zone.
	 */
	timesWithoutZone: boolean;
	/**
	 * Parameters just written that SSM's reads do not show yet, by
	 * "<region> <name>": how many more reads (GetParameter, GetParametersByPath) miss each.
	 */
	unseenParameterReads: Map<string, number>;
}

/** A window of AWS's clock as the stand-in runs it. */
export function windowMs(world: World, awsMs: number): number {
	return awsMs / world.unkind.clockSpeed;
}

/** A time as the stand-in answers it: ISO 8601, without its zone when the world says so. */
export function awsTime(world: World, date: Date | string): string {
	const iso = typeof date === "string" ? date : date.toISOString();
	return world.unkind.timesWithoutZone ? iso.replace(/\.\d+Z$|Z$/, "") : iso;
}

export function createWorld(): World {
	let counter = 0;
	return {
		snapshots: new Map(),
		deletedSnapshots: [],
		images: new Map(),
		stacks: new Map(),
		ebsEncryptionByDefault: false,
		encryptedByDefaultIn: new Set(),
		keepBlocks: true,
		repositories: new Map(),
		registryPassword: "",
		instances: new Map(),
		bootMarker: "nix-images: booted",
		bootPolls: 1,
		imageBuilderImages: new Map(),
		blockPublicAccess: new Set(),
		parameters: new Map(),
		taggings: [],
		publicAmiQuota: new Map(),
		quotaRequests: [],
		recycleBinRetention: false,
		recycleBin: [],
		deregistered: [],
		madePrivate: [],
		disabledRegions: new Set(),
		unkind: {
			clockSpeed: 1,
			snapshotInvisibleMs: 0,
			imageInvisibleMs: 0,
			instanceInvisibleMs: 0,
			unreadableBlocksOnce: new Set(),
			failedPollsAfterRetry: 0,
			defaultVpc: true,
			zones: { "us-east-1a": ["t3.nano", "t4g.nano"], "us-east-1e": ["t3.nano"] },
			defaultKmsKeyId: "alias/aws/ebs",
			timesWithoutZone: false,
			unseenParameterReads: new Map(),
		},
		nextId: (prefix) => `${prefix}-${(++counter).toString(16).padStart(17, "0")}`,
	};
}

/** The stack outputs infra/stack.ts declares, for a stack named `name`. */
export function stackOutputs(name = "Production"): Record<string, string> {
	return {
		RepositoryName: "nix",
		RepositoryArn: `arn:aws:ecr-public::${ACCOUNT}:repository/nix`,
		DistributionConfigurationArns: JSON.stringify(
			Object.fromEntries(
				SYSTEMS.map((system) => [
					system,
					`arn:aws:imagebuilder:us-east-1:${ACCOUNT}:distribution-configuration/${name.toLowerCase()}-nixos-${system}`,
				]),
			),
		),
		AmiParameterNames: JSON.stringify(
			Object.fromEntries(
				SYSTEMS.map((system) => [system, `/nix-images/${name}/nixos/${system}/latest`]),
			),
		),
		DistributionRoleArn: `arn:aws:iam::${ACCOUNT}:role/${name}-DistributionExecutionRole-ABC`,
		DistributionRegions: "us-east-1,eu-west-1",
		PublicAmis: "true",
		SmokeTestSubnet: "default",
		LifecyclePolicyArns: JSON.stringify(
			Object.fromEntries(
				SYSTEMS.map((system) => [
					system,
					`arn:aws:imagebuilder:us-east-1:${ACCOUNT}:lifecycle-policy/${name.toLowerCase()}-nixos-${system}`,
				]),
			),
		),
		LifecycleKeep: "2",
		LifecycleMaxAgeDays: "90",
		LifecycleTagKey: "nix-images:lifecycle",
		LifecycleTagValues: JSON.stringify(
			Object.fromEntries(SYSTEMS.map((system) => [system, `${name}-${system}`])),
		),
	};
}

/** A snapshot's volume as the blocks it received make it: zeros where nothing was written. */
export function volumeOf(snapshot: SnapshotRecord, sizeBytes: number): Buffer {
	const volume = Buffer.alloc(sizeBytes);
	for (const [index, block] of snapshot.blocks) {
		const start = index * BLOCK_SIZE;
		if (start < sizeBytes) block.copy(volume, start, 0, Math.min(BLOCK_SIZE, sizeBytes - start));
	}
	return volume;
}

/** The LINEAR aggregate checksum of a snapshot's blocks (or of their SHA-256s), as EBS computes it. */
export function linearChecksum(blocks: Map<number, Buffer>, keptBlocks = true): string {
	const aggregate = createHash("sha256");
	for (const index of [...blocks.keys()].sort((a, b) => a - b)) {
		const block = blocks.get(index) as Buffer;
		aggregate.update(keptBlocks ? createHash("sha256").update(block).digest() : block);
	}
	return aggregate.digest("base64");
}

/** What a snapshot holds as ami.json records it (SnapshotContent), from what the stand-in keeps of it. */
export function contentOf(snapshot: SnapshotRecord, keptBlocks = true): SnapshotContent {
	return {
		blockSize: BLOCK_SIZE,
		volumeSize: snapshot.volumeSize,
		blockIndexes: encodeBlockRanges([...snapshot.blocks.keys()]),
		changedBlocks: snapshot.blocks.size,
		linearChecksum: linearChecksum(snapshot.blocks, keptBlocks),
	};
}

/** A snapshot an earlier run left behind in `state`, as a test sets the scene. */
export function leaveSnapshot(
	world: World,
	id: string,
	state: SnapshotRecord["state"],
	tags: Record<string, string>,
	startedMsAgo = 0,
): SnapshotRecord {
	const snapshot: SnapshotRecord = {
		id,
		volumeSize: 1,
		description: "",
		tags,
		state,
		startTime: new Date(Date.now() - startedMsAgo),
		blocks: new Map(),
	};
	world.snapshots.set(id, snapshot);
	return snapshot;
}

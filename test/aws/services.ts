/**
 * The stand-in's EBS direct, EC2 and CloudFormation: the calls publishing
 * makes, with the checks AWS does that matter here (checksums, block counts,
 * unique AMI names, states that move from pending to done over a few polls).
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { ec2Reply, filters, listParam, tagSet, tagsOf } from "./ec2-protocol.ts";
import { AwsError, type Service, type StandInRequest, xmlEscape } from "./stand-in.ts";
import {
	ACCOUNT,
	awsTime,
	BLOCK_SIZE,
	ec2Arn,
	type ImageRecord,
	linearChecksum,
	type SnapshotRecord,
	type World,
	windowMs,
} from "./world.ts";

function queryReply(action: string, inner: string) {
	return {
		body: `<${action}Response xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></${action}Response>`,
	};
}

function matchesTags(tags: Record<string, string>, wanted: Map<string, string[]>): boolean {
	for (const [name, values] of wanted) {
		if (name.startsWith("tag:") && !values.includes(tags[name.slice(4)] ?? "\0")) return false;
	}
	return true;
}

function header(request: StandInRequest, name: string): string {
	const value = request.headers[name.toLowerCase()];
	return Array.isArray(value) ? (value[0] ?? "") : (value ?? "");
}

/** Whether a snapshot started so recently that AWS does not show it yet (coldsnap#43). */
function invisible(world: World, snapshot: SnapshotRecord): boolean {
	return (
		Date.now() - snapshot.startTime.getTime() < windowMs(world, world.unkind.snapshotInvisibleMs)
	);
}

/** A snapshot the EBS direct APIs can see, or their 404. */
function visibleSnapshot(world: World, id: string): SnapshotRecord {
	const snapshot = world.snapshots.get(id);
	if (snapshot === undefined || invisible(world, snapshot)) {
		throw new AwsError("ResourceNotFoundException", `The snapshot '${id}' does not exist.`, 404);
	}
	return snapshot;
}

/** A snapshot the EBS direct APIs read from: only completed ones (EBS user guide, EBS direct APIs FAQ). */
function completedSnapshot(world: World, id: string): SnapshotRecord {
	const snapshot = visibleSnapshot(world, id);
	if (snapshot.state !== "completed") {
		throw new AwsError("ValidationException", `The snapshot '${id}' is not completed.`);
	}
	return snapshot;
}

/** The most blocks a ListSnapshotBlocks page holds here, whatever MaxResults says (AWS may answer fewer). */
const BLOCKS_PER_PAGE = 100;

/** A page token: where the next page starts, opaque to the client as AWS's are. */
const pageToken = (index: number) => Buffer.from(`next:${index}`).toString("base64");

function pageStart(token: string): number {
	const [, index] = /^next:(\d+)$/.exec(Buffer.from(token, "base64").toString()) ?? [];
	if (index === undefined)
		throw new AwsError("ValidationException", "The pagination token is not valid.");
	return Number(index);
}

/** Whether an AMI was registered so recently that DescribeImages does not show it yet. */
function imageInvisible(world: World, image: ImageRecord): boolean {
	return (
		image.madeAt !== undefined &&
		Date.now() - image.madeAt < windowMs(world, world.unkind.imageInvisibleMs)
	);
}

export function ebsService(world: World): Service {
	// Block tokens are the stand-in's own signature of snapshot and index: a made-up or another block's is refused.
	const tokenKey = randomBytes(16);
	const blockToken = (id: string, index: number) =>
		createHmac("sha256", tokenKey).update(`${id}/${index}`).digest("base64");
	return {
		protocol: "rest-json",
		operation: ({ method, path }) => {
			if (method === "POST" && path === "/snapshots") return "StartSnapshot";
			if (method === "PUT" && /^\/snapshots\/[^/]+\/blocks\/\d+$/.test(path))
				return "PutSnapshotBlock";
			if (method === "POST" && path.startsWith("/snapshots/completion/")) return "CompleteSnapshot";
			if (method === "GET" && /^\/snapshots\/[^/]+\/blocks$/.test(path))
				return "ListSnapshotBlocks";
			if (method === "GET" && /^\/snapshots\/[^/]+\/blocks\/\d+$/.test(path))
				return "GetSnapshotBlock";
			return `${method} ${path}`;
		},
		handlers: {
			StartSnapshot: (request) => {
				const input = JSON.parse(request.body.toString()) as {
					VolumeSize: number;
					ClientToken?: string;
					Description?: string;
					Timeout?: number;
					Tags?: { Key: string; Value: string }[];
				};
				const tags = Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value]));
				const known = [...world.snapshots.values(), ...world.deletedSnapshots].find(
					(s) => input.ClientToken !== undefined && s.clientToken === input.ClientToken,
				);
				let snapshot = known;
				if (
					known &&
					(known.volumeSize !== input.VolumeSize ||
						JSON.stringify(known.tags) !== JSON.stringify(tags))
				) {
					throw new AwsError(
						"ConflictException",
						"The client token was used with other parameters.",
						409,
					);
				}
				if (snapshot === undefined) {
					snapshot = {
						id: world.nextId("snap"),
						clientToken: input.ClientToken,
						volumeSize: input.VolumeSize,
						description: input.Description ?? "",
						tags,
						state: "pending",
						startTime: new Date(),
						blocks: new Map(),
					};
					world.snapshots.set(snapshot.id, snapshot);
				}
				if (Object.keys(tags).length > 0) {
					world.taggings.push({
						createAction: "StartSnapshot",
						resource: ec2Arn(request.region, "snapshot", snapshot.id),
						resourceTags: {},
						requestTags: { ...tags },
					});
				}
				return {
					status: 201,
					body: {
						SnapshotId: snapshot.id,
						OwnerId: ACCOUNT,
						Status: snapshot.state,
						StartTime: snapshot.startTime.getTime() / 1000,
						VolumeSize: snapshot.volumeSize,
						BlockSize: BLOCK_SIZE,
						Description: snapshot.description,
						Tags: Object.entries(snapshot.tags).map(([Key, Value]) => ({ Key, Value })),
					},
				};
			},
			PutSnapshotBlock: (request) => {
				const [, , id = "", , index = "0"] = request.path.split("/");
				const snapshot = visibleSnapshot(world, id);
				if (world.unkind.unreadableBlocksOnce.delete(Number(index))) {
					throw new AwsError("ValidationException", "Failed to read block data.");
				}
				// Once CompleteSnapshot was called, EBS takes no more blocks, although the snapshot is still pending.
				if (snapshot.state !== "pending" || snapshot.pollsUntilCompleted !== undefined) {
					throw new AwsError("ValidationException", `The snapshot '${id}' is not pending.`);
				}
				const length = Number(header(request, "x-amz-Data-Length"));
				const checksum = header(request, "x-amz-Checksum");
				const blockIndex = Number(index);
				if (length !== BLOCK_SIZE || request.body.length !== BLOCK_SIZE) {
					throw new AwsError("ValidationException", `DataLength must be ${BLOCK_SIZE}.`);
				}
				if (header(request, "x-amz-Checksum-Algorithm") !== "SHA256") {
					throw new AwsError("ValidationException", "ChecksumAlgorithm must be SHA256.");
				}
				const digest = createHash("sha256").update(request.body).digest();
				if (digest.toString("base64") !== checksum) {
					throw new AwsError("ValidationException", "The checksum does not match the data.");
				}
				if (blockIndex >= (snapshot.volumeSize * 1024 ** 3) / BLOCK_SIZE) {
					throw new AwsError("ValidationException", "The block index is beyond the volume.");
				}
				snapshot.blocks.set(blockIndex, world.keepBlocks ? Buffer.from(request.body) : digest);
				return {
					status: 201,
					headers: { "x-amz-Checksum": checksum, "x-amz-Checksum-Algorithm": "SHA256" },
				};
			},
			CompleteSnapshot: (request) => {
				const id = request.path.split("/").pop() ?? "";
				const snapshot = visibleSnapshot(world, id);
				if (snapshot.state !== "pending" || snapshot.pollsUntilCompleted !== undefined) {
					throw new AwsError("ValidationException", `The snapshot '${id}' is not pending.`);
				}
				if (Number(header(request, "x-amz-ChangedBlocksCount")) !== snapshot.blocks.size) {
					throw new AwsError(
						"ValidationException",
						"ChangedBlocksCount does not match the blocks written.",
					);
				}
				if (
					header(request, "x-amz-Checksum-Aggregation-Method") !== "LINEAR" ||
					header(request, "x-amz-Checksum") !== linearChecksum(snapshot.blocks, world.keepBlocks)
				) {
					throw new AwsError(
						"ValidationException",
						"The aggregate checksum does not match the blocks.",
					);
				}
				snapshot.pollsUntilCompleted = 1;
				return { status: 202, body: { Status: "pending" } };
			},
			ListSnapshotBlocks: ({ path, query }) => {
				const id = path.split("/")[2] ?? "";
				const snapshot = completedSnapshot(world, id);
				const maxResults = query.get("maxResults");
				// Below 100, AWS answers 100 anyway (EBS direct APIs FAQ); above 10,000 it refuses.
				if (maxResults !== null && !(/^\d+$/.test(maxResults) && Number(maxResults) <= 10_000)) {
					throw new AwsError("ValidationException", "MaxResults must be at most 10000.");
				}
				const token = query.get("pageToken");
				// A page token wins over StartingBlockIndex (API reference).
				const start =
					token !== null ? pageStart(token) : Number(query.get("startingBlockIndex") ?? 0);
				const indexes = [...snapshot.blocks.keys()].filter((i) => i >= start).sort((a, b) => a - b);
				// As unkind as AWS, which may answer fewer blocks than asked, or none: the first page of a
				// listing holds no block, only the token of the next.
				const page = token === null ? [] : indexes.slice(0, BLOCKS_PER_PAGE);
				const next = indexes[page.length];
				return {
					body: {
						Blocks: page.map((index) => ({ BlockIndex: index, BlockToken: blockToken(id, index) })),
						// The tokens do not expire here; AWS's do, and says when.
						ExpiryTime: Date.now() / 1000 + 3600,
						VolumeSize: snapshot.volumeSize,
						BlockSize: BLOCK_SIZE,
						...(next === undefined ? {} : { NextToken: pageToken(next) }),
					},
				};
			},
			GetSnapshotBlock: ({ path, query }) => {
				const [, , id = "", , index = ""] = path.split("/");
				const snapshot = completedSnapshot(world, id);
				const blockIndex = Number(index);
				const block = snapshot.blocks.get(blockIndex);
				if (block === undefined || query.get("blockToken") !== blockToken(id, blockIndex)) {
					throw new AwsError("ValidationException", "The block token is not valid.");
				}
				if (!world.keepBlocks) {
					throw new AwsError(
						"InvalidAction",
						`the stand-in kept only the SHA-256s of the blocks of ${id} (World.keepBlocks is false), not their data`,
					);
				}
				// The checksum of what it holds now: a block changed after completion still matches its own.
				return {
					headers: {
						"x-amz-Data-Length": String(block.length),
						"x-amz-Checksum": createHash("sha256").update(block).digest("base64"),
						"x-amz-Checksum-Algorithm": "SHA256",
					},
					body: block,
				};
			},
		},
	};
}

function describeSnapshot(snapshot: SnapshotRecord): string {
	// CompleteSnapshot done: pending for a poll or so, then completed.
	if (snapshot.state === "pending" && snapshot.pollsUntilCompleted !== undefined) {
		if (snapshot.pollsUntilCompleted-- <= 0) snapshot.state = "completed";
	}
	const state = snapshot.state;
	return `<item><snapshotId>${snapshot.id}</snapshotId><volumeId>vol-ffffffff</volumeId><status>${state}</status><startTime>${snapshot.startTime.toISOString()}</startTime><progress>${state === "completed" ? "100%" : "0%"}</progress><ownerId>${ACCOUNT}</ownerId><volumeSize>${snapshot.volumeSize}</volumeSize><description>${xmlEscape(snapshot.description)}</description><encrypted>false</encrypted>${tagSet(snapshot.tags)}</item>`;
}

function describeImage(world: World, image: ImageRecord): string {
	if (image.state === "pending" && image.pollsUntilAvailable-- <= 0) image.state = "available";
	const devices = image.blockDevices
		.map(
			(d) =>
				`<item><deviceName>${d.deviceName}</deviceName><ebs><snapshotId>${d.snapshotId ?? ""}</snapshotId><volumeType>${d.volumeType ?? ""}</volumeType><deleteOnTermination>${d.deleteOnTermination ?? false}</deleteOnTermination></ebs></item>`,
		)
		.join("");
	return `<item><imageId>${image.id}</imageId><name>${xmlEscape(image.name)}</name><imageState>${image.state}</imageState><creationDate>${awsTime(world, image.creationDate)}</creationDate>${image.deprecationTime ? `<deprecationTime>${awsTime(world, image.deprecationTime)}</deprecationTime>` : ""}<architecture>${image.architecture}</architecture>${image.bootMode ? `<bootMode>${image.bootMode}</bootMode>` : ""}${image.tpmSupport ? `<tpmSupport>${image.tpmSupport}</tpmSupport>` : ""}${image.imdsSupport ? `<imdsSupport>${image.imdsSupport}</imdsSupport>` : ""}<enaSupport>${image.enaSupport ?? false}</enaSupport>${image.sriovNetSupport ? `<sriovNetSupport>${image.sriovNetSupport}</sriovNetSupport>` : ""}<isPublic>${image.public}</isPublic>${image.sourceImageId ? `<sourceImageId>${image.sourceImageId}</sourceImageId><sourceImageRegion>${image.sourceImageRegion ?? ""}</sourceImageRegion>` : ""}<imageOwnerId>${image.owner ?? ACCOUNT}</imageOwnerId><rootDeviceName>${image.rootDeviceName}</rootDeviceName><blockDeviceMapping>${devices}</blockDeviceMapping>${tagSet(image.tags)}</item>`;
}

export function ec2Service(world: World): Service {
	return {
		protocol: "ec2",
		operation: ({ params }) => params.get("Action") ?? "",
		handlers: {
			GetEbsDefaultKmsKeyId: () =>
				ec2Reply(
					"GetEbsDefaultKmsKeyId",
					`<kmsKeyId>${xmlEscape(world.unkind.defaultKmsKeyId)}</kmsKeyId>`,
				),
			GetEbsEncryptionByDefault: ({ region }) =>
				ec2Reply(
					"GetEbsEncryptionByDefault",
					`<ebsEncryptionByDefault>${world.ebsEncryptionByDefault || world.encryptedByDefaultIn.has(region)}</ebsEncryptionByDefault>`,
				),
			DescribeSnapshots: ({ params, region }) => {
				const ids = listParam(params, "SnapshotId");
				const here = (snapshot: SnapshotRecord) => (snapshot.region ?? "us-east-1") === region;
				for (const id of ids) {
					const snapshot = world.snapshots.get(id);
					if (snapshot === undefined || !here(snapshot) || invisible(world, snapshot)) {
						throw new AwsError("InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
					}
				}
				const wanted = filters(params);
				const found = [...world.snapshots.values()].filter(
					(s) =>
						(ids.length === 0 || ids.includes(s.id)) &&
						(!wanted.has("snapshot-id") || wanted.get("snapshot-id")?.includes(s.id)) &&
						here(s) &&
						matchesTags(s.tags, wanted) &&
						!invisible(world, s),
				);
				return ec2Reply(
					"DescribeSnapshots",
					`<snapshotSet>${found.map(describeSnapshot).join("")}</snapshotSet>`,
				);
			},
			DeleteSnapshot: ({ params }) => {
				const id = params.get("SnapshotId") ?? "";
				const snapshot = world.snapshots.get(id);
				if (snapshot === undefined) {
					throw new AwsError("InvalidSnapshot.NotFound", `The snapshot '${id}' does not exist.`);
				}
				const image = [...world.images.values(), ...world.recycleBin].find((i) =>
					i.blockDevices.some((d) => d.snapshotId === id),
				);
				if (image)
					throw new AwsError(
						"InvalidSnapshot.InUse",
						`The snapshot ${id} is in use by ${image.id}.`,
					);
				world.snapshots.delete(id);
				world.deletedSnapshots.push(snapshot);
				return ec2Reply("DeleteSnapshot", "<return>true</return>");
			},
			RegisterImage: ({ params, region }) => {
				const name = params.get("Name") ?? "";
				if ([...world.images.values()].some((i) => i.name === name)) {
					throw new AwsError(
						"InvalidAMIName.Duplicate",
						`AMI name ${name} is already in use by AMI.`,
					);
				}
				const snapshotId = params.get("BlockDeviceMapping.1.Ebs.SnapshotId") ?? "";
				const snapshot = world.snapshots.get(snapshotId);
				if (snapshot?.state !== "completed") {
					throw new AwsError("IncorrectState", `Snapshot ${snapshotId} is not completed.`);
				}
				const tags = tagsOf(params, "TagSpecification.1.Tag");
				const image: ImageRecord = {
					id: world.nextId("ami"),
					name,
					description: params.get("Description") ?? undefined,
					state: "pending",
					creationDate: new Date().toISOString(),
					architecture: params.get("Architecture") ?? "x86_64",
					bootMode: params.get("BootMode") ?? undefined,
					tpmSupport: params.get("TpmSupport") ?? undefined,
					imdsSupport: params.get("ImdsSupport") ?? undefined,
					enaSupport: params.get("EnaSupport") === "true",
					sriovNetSupport: params.get("SriovNetSupport") ?? undefined,
					rootDeviceName: params.get("RootDeviceName") ?? "",
					blockDevices: [
						{
							deviceName: params.get("BlockDeviceMapping.1.DeviceName") ?? "",
							snapshotId,
							volumeType: params.get("BlockDeviceMapping.1.Ebs.VolumeType") ?? undefined,
							deleteOnTermination:
								params.get("BlockDeviceMapping.1.Ebs.DeleteOnTermination") === "true",
						},
					],
					tags,
					pollsUntilAvailable: 1,
					region: "us-east-1",
					public: false,
					madeAt: Date.now(),
				};
				world.images.set(image.id, image);
				world.taggings.push({
					createAction: "RegisterImage",
					resource: ec2Arn(region, "image", image.id),
					resourceTags: {},
					requestTags: { ...tags },
				});
				return ec2Reply("RegisterImage", `<imageId>${image.id}</imageId>`);
			},
			DescribeImages: ({ params, region }) => {
				const ids = listParam(params, "ImageId");
				// Each region sees its own AMIs.
				const here = (image: ImageRecord) => image.region === region;
				const unknown = ids.find((id) => {
					const image = world.images.get(id);
					return image === undefined || !here(image) || imageInvisible(world, image);
				});
				if (unknown !== undefined)
					throw new AwsError("InvalidAMIID.NotFound", `The image id '[${unknown}]' does not exist`);
				const wanted = filters(params);
				// Owner.N=self: only this account's AMIs.
				const owners = listParam(params, "Owner").map((owner) =>
					owner === "self" ? ACCOUNT : owner,
				);
				const found = [...world.images.values()].filter(
					(i) =>
						(ids.length === 0 || ids.includes(i.id)) &&
						(owners.length === 0 || owners.includes(i.owner ?? ACCOUNT)) &&
						(!wanted.has("image-id") || wanted.get("image-id")?.includes(i.id)) &&
						// As EC2: without ImageIds, disabled AMIs only when asked for, and deprecated ones
						// of other accounts only when asked for (an owner always sees its own).
						(ids.length > 0 ||
							params.get("IncludeDeprecated") === "true" ||
							(i.owner ?? ACCOUNT) === ACCOUNT ||
							!(i.deprecationTime && Date.parse(i.deprecationTime) <= Date.now())) &&
						(ids.length > 0 ||
							params.get("IncludeDisabled") === "true" ||
							i.state !== "disabled") &&
						here(i) &&
						!imageInvisible(world, i) &&
						(!wanted.has("is-public") || wanted.get("is-public")?.includes(String(i.public))) &&
						(!wanted.has("name") || wanted.get("name")?.includes(i.name)) &&
						matchesTags(i.tags, wanted),
				);
				return ec2Reply(
					"DescribeImages",
					`<imagesSet>${found.map((image) => describeImage(world, image)).join("")}</imagesSet>`,
				);
			},
			ModifyImageAttribute: ({ params }) => {
				const image = world.images.get(params.get("ImageId") ?? "");
				if (image === undefined)
					throw new AwsError("InvalidAMIID.NotFound", "The image does not exist.");
				if (params.get("LaunchPermission.Remove.1.Group") === "all") {
					image.public = false;
					world.madePrivate.push(image.id);
				}
				if (params.get("LaunchPermission.Add.1.Group") === "all") image.public = true;
				return ec2Reply("ModifyImageAttribute", "<return>true</return>");
			},
			DeregisterImage: ({ params }) => {
				const id = params.get("ImageId") ?? "";
				const image = world.images.get(id);
				if (image === undefined)
					throw new AwsError("InvalidAMIID.NotFound", `The image id '[${id}]' does not exist`);
				world.images.delete(id);
				world.deregistered.push(id);
				// With a retention rule the AMI waits in the Recycle Bin, public or not, still counted.
				if (world.recycleBinRetention) world.recycleBin.push(image);
				return ec2Reply("DeregisterImage", "<return>true</return>");
			},
			ListImagesInRecycleBin: ({ region, params }) => {
				const ids = [...params.entries()].flatMap(([key, value]) =>
					key.startsWith("ImageId.") ? [value] : [],
				);
				return ec2Reply(
					"ListImagesInRecycleBin",
					`<imageSet>${world.recycleBin
						.filter((image) => image.region === region)
						.filter((image) => ids.length === 0 || ids.includes(image.id))
						.map(
							(image) =>
								`<item><imageId>${image.id}</imageId><name>${xmlEscape(image.name)}</name></item>`,
						)
						.join("")}</imageSet>`,
				);
			},
			DescribeRegions: ({ params }) => {
				const stack = world.stacks.get("Production");
				const names = (stack?.outputs.DistributionRegions ?? "us-east-1").split(",");
				const all = params.get("AllRegions") === "true";
				const regions = names.filter((name) => all || !world.disabledRegions.has(name));
				return ec2Reply(
					"DescribeRegions",
					`<regionInfo>${regions.map((name) => `<item><regionName>${name}</regionName><regionEndpoint>ec2.${name}.amazonaws.com</regionEndpoint><optInStatus>${world.disabledRegions.has(name) ? "not-opted-in" : "opt-in-not-required"}</optInStatus></item>`).join("")}</regionInfo>`,
				);
			},
			EnableImageDeprecation: ({ params }) => {
				const image = world.images.get(params.get("ImageId") ?? "");
				if (image === undefined)
					throw new AwsError("InvalidAMIID.NotFound", "The image does not exist.");
				const at = Date.parse(params.get("DeprecateAt") ?? "");
				const year = 365 * 86_400_000;
				// EC2 API reference, EnableImageDeprecation: 10 years ahead at most, 2 from creation for public AMIs.
				if (at > Date.now() + 10 * year) {
					throw new AwsError(
						"InvalidParameterValue",
						"The deprecation time cannot be more than 10 years in the future.",
					);
				}
				if (image.public && at > Date.parse(image.creationDate) + 2 * year) {
					throw new AwsError(
						"InvalidParameterValue",
						"The deprecation time of a public AMI cannot be more than 2 years after its creation.",
					);
				}
				image.deprecationTime = new Date(at).toISOString();
				return ec2Reply("EnableImageDeprecation", "<return>true</return>");
			},
		},
	};
}

export function cloudFormationService(world: World): Service {
	return {
		protocol: "query",
		operation: ({ params }) => params.get("Action") ?? "",
		handlers: {
			DescribeStacks: ({ params }) => {
				const name = params.get("StackName") ?? "";
				const stack = world.stacks.get(name);
				if (stack === undefined)
					throw new AwsError("ValidationError", `Stack with id ${name} does not exist`);
				const outputs = Object.entries(stack.outputs)
					.map(
						([key, value]) =>
							`<member><OutputKey>${key}</OutputKey><OutputValue>${xmlEscape(value)}</OutputValue></member>`,
					)
					.join("");
				return queryReply(
					"DescribeStacks",
					`<Stacks><member><StackName>${name}</StackName><StackId>arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/${name}/1</StackId><CreationTime>2026-11-01T00:00:00Z</CreationTime><StackStatus>${stack.status}</StackStatus><Outputs>${outputs}</Outputs></member></Stacks>`,
				);
			},
		},
	};
}

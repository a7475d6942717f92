/**
 * What `release` calls besides publish's: EC2 instances for the smoke test
 * (RunInstances with client tokens, console output that shows the boot
 * marker after a few polls, termination), tags, image block public access,
 * and Image Builder's DistributeImage, whose images move PENDING →
 * DISTRIBUTING → AVAILABLE (or FAILED, until RetryImage) and then list the
 * AMI copies it made in every region of the distribution.
 */
import { createHash } from "node:crypto";
import { ec2Reply, filters, listParam, tagSet, tagsOf } from "./ec2-protocol.ts";
import { publicAmiQuotaIn, publicAmisIn } from "./service-quotas.ts";
import { putParameter } from "./ssm.ts";
import { AwsError, type Handler, type Service } from "./stand-in.ts";
import {
	ACCOUNT,
	ec2Arn,
	type ImageBuilderImage,
	type InstanceRecord,
	type World,
	windowMs,
} from "./world.ts";

/** DescribeInstances' Filter.N.Name / Filter.N.Value.M: tag:<key>, image-id and instance-state-name. */
function filtersOf(params: URLSearchParams): ((instance: InstanceRecord) => boolean)[] {
	const matchers: ((instance: InstanceRecord) => boolean)[] = [];
	for (const [name, values] of filters(params)) {
		const field = (instance: InstanceRecord) =>
			name.startsWith("tag:")
				? instance.tags[name.slice(4)]
				: name === "image-id"
					? instance.imageId
					: name === "instance-state-name"
						? instance.state
						: undefined;
		if (!name.startsWith("tag:") && !["image-id", "instance-state-name"].includes(name)) {
			throw new AwsError("InvalidParameterValue", `The filter '${name}' is invalid`);
		}
		matchers.push((instance) => values.includes(field(instance) ?? "\u0000"));
	}
	return matchers;
}

const STATE_CODES = { pending: 0, running: 16, "shutting-down": 32, terminated: 48 };

function instanceXml(instance: InstanceRecord): string {
	return `<item><instanceId>${instance.id}</instanceId><imageId>${instance.imageId}</imageId><instanceState><code>${STATE_CODES[instance.state]}</code><name>${instance.state}</name></instanceState><instanceType>${instance.instanceType}</instanceType><metadataOptions><httpTokens>${instance.httpTokens ?? "optional"}</httpTokens></metadataOptions>${tagSet(instance.tags)}</item>`;
}

/** Each zone's subnet in the default VPC. */
const subnetOf = (zone: string) => `subnet-${Buffer.from(zone).toString("hex").slice(-8)}`;

/** A new instance EC2 does not show yet (its eventual consistency, right after RunInstances). */
function instanceInvisible(world: World, instance: InstanceRecord): boolean {
	return (
		instance.launchedAt !== undefined &&
		Date.now() - instance.launchedAt < windowMs(world, world.unkind.instanceInvisibleMs)
	);
}

/** An instance by id as EC2 answers for it, or InvalidInstanceID.NotFound. */
function visibleInstance(world: World, id: string): InstanceRecord {
	const instance = world.instances.get(id);
	if (instance === undefined || instanceInvisible(world, instance)) {
		throw new AwsError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
	}
	return instance;
}

/** Where RunInstances puts an instance: the subnet asked for, or the default VPC's (which must exist). */
function placement(world: World, params: URLSearchParams, instanceType: string): string {
	const subnet = params.get("SubnetId") ?? params.get("NetworkInterface.1.SubnetId") ?? undefined;
	const zones = Object.keys(world.unkind.zones);
	if (subnet === undefined) {
		if (!world.unkind.defaultVpc) {
			throw new AwsError(
				"VPCIdNotSpecified",
				"No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.",
			);
		}
		return subnetOf(zones[0] ?? "us-east-1a");
	}
	const zone = zones.find((z) => subnetOf(z) === subnet);
	if (zone === undefined)
		throw new AwsError("InvalidSubnetID.NotFound", `The subnet ID '${subnet}' does not exist`);
	if (!world.unkind.zones[zone]?.includes(instanceType)) {
		throw new AwsError(
			"Unsupported",
			`Your requested instance type (${instanceType}) is not supported in your requested Availability Zone (${zone}).`,
		);
	}
	return subnet;
}

/** EC2 calls of the smoke test and the release's checks, to merge into ec2Service's handlers. */
export function releaseEc2Handlers(world: World): Record<string, Handler> {
	return {
		DescribeVpcs: ({ params }) => {
			const wantsDefault = filters(params).get("isDefault")?.includes("true");
			const vpcs = world.unkind.defaultVpc || !wantsDefault ? ["vpc-default"] : [];
			return ec2Reply(
				"DescribeVpcs",
				`<vpcSet>${vpcs.map((id) => `<item><vpcId>${id}</vpcId><isDefault>${world.unkind.defaultVpc}</isDefault></item>`).join("")}</vpcSet>`,
			);
		},
		DescribeSubnets: ({ params }) => {
			const wanted = filters(params);
			const ids = listParam(params, "SubnetId");
			const subnets = Object.keys(world.unkind.zones)
				.map((zone) => ({ zone, id: subnetOf(zone) }))
				.filter(
					({ id }) =>
						(ids.length === 0 || ids.includes(id)) &&
						(!wanted.has("vpc-id") || world.unkind.defaultVpc),
				);
			for (const id of ids) {
				if (!subnets.some((subnet) => subnet.id === id)) {
					throw new AwsError("InvalidSubnetID.NotFound", `The subnet ID '${id}' does not exist`);
				}
			}
			return ec2Reply(
				"DescribeSubnets",
				`<subnetSet>${subnets.map(({ zone, id }) => `<item><subnetId>${id}</subnetId><vpcId>vpc-default</vpcId><availabilityZone>${zone}</availabilityZone><defaultForAz>true</defaultForAz></item>`).join("")}</subnetSet>`,
			);
		},
		DescribeInstanceTypeOfferings: ({ params }) => {
			const types = filters(params).get("instance-type") ?? [];
			const offerings = Object.entries(world.unkind.zones).flatMap(([zone, offered]) =>
				offered
					.filter((type) => types.length === 0 || types.includes(type))
					.map((type) => ({ zone, type })),
			);
			return ec2Reply(
				"DescribeInstanceTypeOfferings",
				`<instanceTypeOfferingSet>${offerings.map(({ zone, type }) => `<item><instanceType>${type}</instanceType><locationType>availability-zone</locationType><location>${zone}</location></item>`).join("")}</instanceTypeOfferingSet>`,
			);
		},
		RunInstances: ({ params, region }) => {
			const token = params.get("ClientToken") ?? undefined;
			const known = [...world.instances.values()].find((i) => token && i.clientToken === token);
			if (known?.state === "terminated") {
				throw new AwsError(
					"IdempotentInstanceTerminated",
					"The client token was used by an instance that is terminated.",
				);
			}
			const imageId = params.get("ImageId") ?? "";
			if (!world.images.has(imageId))
				throw new AwsError("InvalidAMIID.NotFound", `The image id '[${imageId}]' does not exist`);
			const subnetId = placement(world, params, params.get("InstanceType") ?? "");
			const instance: InstanceRecord = known ?? {
				id: world.nextId("i"),
				clientToken: token,
				imageId,
				instanceType: params.get("InstanceType") ?? "",
				httpTokens: params.get("MetadataOptions.HttpTokens") ?? undefined,
				keyName: params.get("KeyName") ?? undefined,
				userData: Buffer.from(params.get("UserData") ?? "", "base64").toString(),
				shutdownBehavior: params.get("InstanceInitiatedShutdownBehavior") ?? undefined,
				state: "pending",
				tags: tagsOf(params, "TagSpecification.1.Tag"),
				pollsUntilBooted: world.bootPolls,
				launchedAt: Date.now(),
				subnetId,
			};
			world.instances.set(instance.id, instance);
			for (let n = 1; params.has(`TagSpecification.${n}.ResourceType`); n++) {
				const type = params.get(`TagSpecification.${n}.ResourceType`) ?? "";
				world.taggings.push({
					createAction: "RunInstances",
					resource: ec2Arn(
						region,
						type,
						type === "instance" ? instance.id : `vol-of-${instance.id}`,
					),
					resourceTags: {},
					requestTags: tagsOf(params, `TagSpecification.${n}.Tag`),
				});
			}
			return ec2Reply(
				"RunInstances",
				`<reservationId>r-1</reservationId><ownerId>${ACCOUNT}</ownerId><instancesSet>${instanceXml(instance)}</instancesSet>`,
			);
		},
		DescribeInstances: ({ params }) => {
			const ids = listParam(params, "InstanceId");
			for (const id of ids) visibleInstance(world, id);
			const matchers = filtersOf(params);
			const found = [...world.instances.values()].filter(
				(i) =>
					(ids.length === 0 || ids.includes(i.id)) &&
					matchers.every((matches) => matches(i)) &&
					!instanceInvisible(world, i),
			);
			for (const instance of found) if (instance.state === "pending") instance.state = "running";
			return ec2Reply(
				"DescribeInstances",
				`<reservationSet><item><reservationId>r-1</reservationId><instancesSet>${found.map(instanceXml).join("")}</instancesSet></item></reservationSet>`,
			);
		},
		GetConsoleOutput: ({ params }) => {
			const instance = visibleInstance(world, params.get("InstanceId") ?? "");
			if (instance.state === "pending") instance.state = "running";
			const lines = ["[    0.000000] Linux version 6.12", "<<< Welcome to NixOS >>>"];
			const booted = instance.pollsUntilBooted !== undefined && instance.pollsUntilBooted-- <= 0;
			if (booted)
				lines.push(
					`${world.bootMarker} NixOS 26.05 (x86_64-linux), root file system 8589934592 bytes`,
				);
			return ec2Reply(
				"GetConsoleOutput",
				`<instanceId>${instance.id}</instanceId><timestamp>2026-12-01T00:00:00Z</timestamp><output>${Buffer.from(lines.join("\n")).toString("base64")}</output>`,
			);
		},
		TerminateInstances: ({ params }) => {
			// Not found yet is not gone: the instance runs on (EC2 developer guide, eventual consistency).
			const instance = visibleInstance(world, params.get("InstanceId.1") ?? "");
			const previous = instance.state;
			instance.state = "terminated";
			return ec2Reply(
				"TerminateInstances",
				`<instancesSet><item><instanceId>${instance.id}</instanceId><currentState><code>48</code><name>terminated</name></currentState><previousState><code>${STATE_CODES[previous]}</code><name>${previous}</name></previousState></item></instancesSet>`,
			);
		},
		CreateTags: ({ params, region }) => {
			const tags = tagsOf(params, "Tag");
			// Each region sees its own resources (instances are all in us-east-1, snapshots by default).
			const found = listParam(params, "ResourceId").map((id) => {
				const image = world.images.get(id);
				const snapshot = world.snapshots.get(id);
				const instance = world.instances.get(id);
				const [type, resource, where] = image
					? (["image", image, image.region] as const)
					: snapshot
						? (["snapshot", snapshot, snapshot.region ?? "us-east-1"] as const)
						: instance
							? (["instance", instance, "us-east-1"] as const)
							: [];
				if (resource === undefined || where !== region) {
					const code = id.startsWith("ami-")
						? "InvalidAMIID.NotFound"
						: id.startsWith("snap-")
							? "InvalidSnapshot.NotFound"
							: id.startsWith("i-")
								? "InvalidInstanceID.NotFound"
								: "InvalidID";
					throw new AwsError(code, `The ID '${id}' does not exist in ${region}`);
				}
				return { type, id, resource };
			});
			for (const { type, id, resource } of found) {
				world.taggings.push({
					resource: ec2Arn(region, type, id),
					resourceTags: { ...resource.tags },
					requestTags: { ...tags },
				});
				Object.assign(resource.tags, tags);
			}
			return ec2Reply("CreateTags", "<return>true</return>");
		},
		GetImageBlockPublicAccessState: ({ region }) =>
			ec2Reply(
				"GetImageBlockPublicAccessState",
				`<imageBlockPublicAccessState>${world.blockPublicAccess.has(region) ? "block-new-sharing" : "unblocked"}</imageBlockPublicAccessState>`,
			),
	};
}

function progress(world: World, image: ImageBuilderImage): void {
	// Right after RetryImage, GetImage may still say FAILED for a while.
	if (image.status === "FAILED" && (image.failedPolls ?? 0) > 0) {
		image.failedPolls = (image.failedPolls ?? 0) - 1;
		if (image.failedPolls === 0) {
			image.status = "DISTRIBUTING";
			image.reason = undefined;
		}
		return;
	}
	if (["AVAILABLE", "FAILED", "CANCELLED"].includes(image.status) || image.polls-- > 0) return;
	image.polls = 1;
	if (image.status === "PENDING") {
		image.status = "DISTRIBUTING";
		return;
	}
	if (image.failOnce) {
		image.status = "FAILED";
		image.reason = image.failOnce;
		image.failOnce = undefined;
		return;
	}
	image.status = "AVAILABLE";
	const source = world.images.get(image.sourceImage);
	const stack = world.stacks.get("Production");
	const outputs = stack?.outputs ?? {};
	const regions = (outputs.DistributionRegions ?? "us-east-1").split(",");
	// The configuration's system, and so the SSM parameter it writes in every region.
	const system = Object.entries(
		JSON.parse(outputs.DistributionConfigurationArns ?? "{}") as Record<string, string>,
	).find(([, arn]) => arn === image.distributionConfigurationArn)?.[0];
	const parameter = system
		? (JSON.parse(outputs.AmiParameterNames ?? "{}") as Record<string, string>)[system]
		: undefined;
	// Public copies count against each region's quota: one that is full fails the distribution.
	const full = regions.filter(
		(region) =>
			outputs.PublicAmis === "true" &&
			publicAmisIn(world, region) + 1 > publicAmiQuotaIn(world, region),
	);
	if (full.length > 0) {
		image.status = "FAILED";
		image.reason = `Failed to share the AMI in ${full.join(", ")}: ResourceLimitExceeded: You have reached the maximum number of public AMIs.`;
		return;
	}
	image.amis = regions.map((region) => {
		const id = world.nextId("ami");
		// CopyImage copies the snapshot too: the copy's own, in its region.
		const snapshotId = world.nextId("snap");
		world.snapshots.set(snapshotId, {
			id: snapshotId,
			volumeSize: 1,
			description: `Copied for DestinationAmi ${id} from SourceAmi ${source?.id}`,
			tags: {},
			state: "completed",
			startTime: new Date(),
			blocks: new Map(),
			region,
		});
		world.images.set(id, {
			...(source as NonNullable<typeof source>),
			blockDevices: [{ deviceName: "/dev/xvda", snapshotId, volumeType: "gp3" }],
			id,
			region,
			state: "available",
			creationDate: new Date().toISOString(),
			// A copy has no deprecation of its own; a public one gets AWS's default of 2 years.
			deprecationTime:
				outputs.PublicAmis === "true"
					? new Date(Date.now() + 2 * 365 * 86_400_000).toISOString()
					: undefined,
			madeAt: undefined,
			public: outputs.PublicAmis === "true",
			sourceImageId: source?.id,
			sourceImageRegion: source?.region,
			// The configuration's AmiTags (infra/distribution.ts).
			tags: {
				ManagedBy: "nix-images",
				"nix-images:lifecycle": `Production-${system}`,
				CreatedBy: "EC2 Image Builder",
			},
		});
		if (parameter) putParameter(world, region, parameter, id, "aws:ec2:image");
		return { region, image: id, name: source?.name ?? "" };
	});
}

function describe(image: ImageBuilderImage) {
	const [, name = "", version = "", build = ""] =
		image.arn.match(/image\/([^/]+)\/([^/]+)\/([^/]+)$/) ?? [];
	return {
		arn: image.arn,
		name,
		version: `${version}/${build}`,
		state: { status: image.status, ...(image.reason ? { reason: image.reason } : {}) },
		outputResources: { amis: image.amis.map((ami) => ({ ...ami, accountId: ACCOUNT })) },
		tags: image.tags,
	};
}

export function imageBuilderService(world: World): Service {
	const body = (buffer: Buffer) => JSON.parse(buffer.toString() || "{}");
	return {
		protocol: "rest-json",
		operation: ({ path }) => path.replace(/^\//, ""),
		handlers: {
			DistributeImage: (request) => {
				const input = body(request.body);
				const known = [...world.imageBuilderImages.values()].find(
					(i) => i.clientToken === input.clientToken,
				);
				if (known) {
					if (known.sourceImage !== input.sourceImage) {
						throw new AwsError(
							"IdempotentParameterMismatchException",
							"The client token was used with other parameters.",
						);
					}
					return { body: { clientToken: input.clientToken, imageBuildVersionArn: known.arn } };
				}
				const source = world.images.get(input.sourceImage);
				if (source?.state !== "available") {
					throw new AwsError(
						"InvalidParameterValueException",
						`The source image ${input.sourceImage} is not available.`,
					);
				}
				const configurations = Object.values(
					JSON.parse(world.stacks.get("Production")?.outputs.DistributionConfigurationArns ?? "{}"),
				);
				if (!configurations.includes(input.distributionConfigurationArn)) {
					throw new AwsError(
						"ResourceNotFoundException",
						"The distribution configuration does not exist.",
						404,
					);
				}
				const serial = world.imageBuilderImages.size + 1;
				const name = createHash("sha256").update(source.name).digest("hex").slice(0, 8);
				const image: ImageBuilderImage = {
					arn: `arn:aws:imagebuilder:us-east-1:${ACCOUNT}:image/${source.name.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-${name}/1.0.0/${serial}`,
					clientToken: input.clientToken,
					sourceImage: input.sourceImage,
					distributionConfigurationArn: input.distributionConfigurationArn,
					executionRole: input.executionRole,
					tags: input.tags ?? {},
					status: "PENDING",
					polls: 1,
					failOnce: world.failNextDistribution,
					retryTokens: [],
					amis: [],
				};
				world.failNextDistribution = undefined;
				world.imageBuilderImages.set(image.arn, image);
				return { body: { clientToken: input.clientToken, imageBuildVersionArn: image.arn } };
			},
			GetImage: ({ query }) => {
				const image = world.imageBuilderImages.get(query.get("imageBuildVersionArn") ?? "");
				if (image === undefined)
					throw new AwsError("ResourceNotFoundException", "The image does not exist.", 404);
				progress(world, image);
				return { body: { requestId: "stand-in", image: describe(image) } };
			},
			RetryImage: (request) => {
				const input = body(request.body);
				const image = world.imageBuilderImages.get(input.imageBuildVersionArn);
				if (image === undefined)
					throw new AwsError("ResourceNotFoundException", "The image does not exist.", 404);
				if (!image.retryTokens.includes(input.clientToken)) {
					image.retryTokens.push(input.clientToken);
					if (image.status === "FAILED") {
						image.polls = 1;
						image.failedPolls = world.unkind.failedPollsAfterRetry;
						if (image.failedPolls === 0) {
							image.status = "DISTRIBUTING";
							image.reason = undefined;
						}
					}
				}
				return { body: { clientToken: input.clientToken, imageBuildVersionArn: image.arn } };
			},
		},
	};
}

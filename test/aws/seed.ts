/**
 * Earlier releases as an account holds them, for tests that start from a
 * history (retention, verify, rollback): per build a private source AMI in
 * us-east-1 with its snapshot, tagged as publish tags them, and a public
 * copy in each region with its own snapshot, tagged as the distribution and
 * release tag them, and the SSM parameter pointing at the newest.
 */
import { putParameter } from "./ssm.ts";
import type { ImageRecord, SnapshotRecord, World } from "./world.ts";

export const ARCHITECTURES = { "x86_64-linux": "x86_64", "aarch64-linux": "arm64" } as const;
export type SeedSystem = keyof typeof ARCHITECTURES;

export interface SeededBuild {
	system: SeedSystem;
	buildId: string;
	source: string;
	/** region → copy */
	copies: Record<string, string>;
}

function snapshot(
	world: World,
	region: string,
	tags: Record<string, string>,
	daysAgo: number,
): string {
	const id = world.nextId("snap");
	const record: SnapshotRecord = {
		id,
		volumeSize: 1,
		description: "",
		tags,
		state: "completed",
		startTime: new Date(Date.now() - daysAgo * 86_400_000),
		blocks: new Map(),
		region,
	};
	world.snapshots.set(id, record);
	return id;
}

/** One build of `system`, published `daysAgo` days ago, released to `regions` unless `released` is false. */
export function seedBuild(
	world: World,
	settings: {
		system: SeedSystem;
		buildId: string;
		daysAgo: number;
		regions: readonly string[];
		released?: boolean;
		stack?: string;
		label?: string;
	},
): SeededBuild {
	const { system, buildId, daysAgo, regions } = settings;
	const stack = settings.stack ?? "Production";
	const created = new Date(Date.now() - daysAgo * 86_400_000).toISOString();
	const lifecycle = { "nix-images:lifecycle": `${stack}-${system}` };
	const name = `nixos-${settings.label ?? "26.05.20260616.567a49d"}-${system}-${buildId}`;
	const ours = { ManagedBy: "nix-images", BuildId: buildId, System: system };
	// The disk image's digest, as publish tags the source and release each copy.
	const digest = { ImageSha256: buildId.repeat(4) };
	const released = settings.released ?? true;
	const base = (region: string, snapshotId: string): Omit<ImageRecord, "id" | "tags"> => ({
		name,
		state: "available",
		creationDate: created,
		architecture: ARCHITECTURES[system],
		bootMode: "uefi",
		imdsSupport: "v2.0",
		enaSupport: true,
		sriovNetSupport: "simple",
		...(system === "x86_64-linux" ? { tpmSupport: "v2.0" } : {}),
		rootDeviceName: "/dev/xvda",
		blockDevices: [{ deviceName: "/dev/xvda", snapshotId, volumeType: "gp3" }],
		deprecationTime: new Date(Date.parse(created) + 90 * 86_400_000).toISOString(),
		pollsUntilAvailable: 0,
		region,
		public: false,
	});
	const source = world.nextId("ami");
	world.images.set(source, {
		...base("us-east-1", snapshot(world, "us-east-1", { ...ours, ...lifecycle }, daysAgo)),
		id: source,
		tags: {
			...ours,
			...lifecycle,
			...digest,
			CreatedBy: "EC2 Image Builder",
			...(released
				? {
						ImageBuilderImage: `arn:aws:imagebuilder:us-east-1:123456789012:image/x/1.0.0/${source}`,
					}
				: {}),
		},
	});
	const copies: Record<string, string> = {};
	if (released) {
		for (const region of regions) {
			const id = world.nextId("ami");
			world.images.set(id, {
				...base(region, snapshot(world, region, ours, daysAgo)),
				id,
				tags: {
					ManagedBy: "nix-images",
					...lifecycle,
					...digest,
					CreatedBy: "EC2 Image Builder",
				},
				public: true,
				sourceImageId: source,
				sourceImageRegion: "us-east-1",
			});
			copies[region] = id;
		}
	}
	return { system, buildId, source, copies };
}

/** Points each region's SSM parameter of the build's system at its copy there, as its distribution did. */
export function pointParameters(world: World, build: SeededBuild, stack = "Production"): void {
	for (const [region, copy] of Object.entries(build.copies)) {
		putParameter(
			world,
			region,
			`/nix-images/${stack}/nixos/${build.system}/latest`,
			copy,
			"aws:ec2:image",
		);
	}
}

/**
 * The release.json of seeded builds (all of one release), as release writes
 * it: what verify checks them against.
 */
export function seededRelease(
	builds: readonly SeededBuild[],
	regions: readonly string[],
	releaseId = "0123456789ab",
) {
	return {
		version: `26.05.20260616.567a49d-${releaseId}`,
		releaseId,
		releasedAt: new Date().toISOString(),
		stack: "Production",
		publicAmis: true,
		regions,
		amis: Object.fromEntries(
			builds.map((build) => [
				build.system,
				{
					buildId: build.buildId,
					label: "26.05.20260616.567a49d",
					sourceImage: {
						region: "us-east-1",
						imageId: build.source,
						name: `nixos-26.05.20260616.567a49d-${build.system}-${build.buildId}`,
					},
					imageBuilderImage: "",
					ssmParameter: `/nix-images/Production/nixos/${build.system}/latest`,
					smokeTest: "skipped",
					regions: build.copies,
					imageSha256: build.buildId.repeat(4),
				},
			]),
		),
	};
}

/**
 * A release's starting point as publish leaves it, for the tests of what
 * works from it (release, verify, rollback): per system a private AMI in the
 * stand-in's account with its ami.json, and per architecture a tiny image in
 * a real registry with its container.json, under the tags publish derives.
 */

import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildIdOf, containerTag } from "../tasks/project/names.ts";
import type { StandIn } from "./aws/stand-in.ts";
import { standInAccount } from "./aws/start.ts";
import { contentOf, leaveSnapshot, type World } from "./aws/world.ts";
import { REPO } from "./helpers.ts";
import type { Registry } from "./registry.ts";
import { leaveSbom } from "./sboms.ts";

export const SYSTEMS = {
	"x86_64-linux": {
		architecture: "amd64",
		ec2: "x86_64",
		smoke: "t3.nano",
		build: "1111111111111111",
	},
	"aarch64-linux": {
		architecture: "arm64",
		ec2: "arm64",
		smoke: "t4g.nano",
		build: "2222222222222222",
	},
} as const;
export type System = keyof typeof SYSTEMS;
export const LABEL = "26.05.20260616.567a49d";
export const NIX_VERSION = "2.31.2";
/** When the seeded AMIs are deprecated: a year after the suite runs, so always in the future. */
const DEPRECATE_AT = new Date(Date.now() + 365 * 86_400_000).toISOString();

/** Where a test's release starts: its account (the current one: tests make fresh ones), registry and project. */
export interface ReleaseScene {
	readonly world: World;
	readonly registry: Registry;
	readonly projectDir: string;
	/** Scratch space for the image archives. */
	readonly work: string;
	/** The per-architecture images in the registry: pushed once, recorded by each test's seed. */
	readonly pushed: Record<
		string,
		{ tag: string; digest: string; configDigest: string; size: number }
	>;
}

/**
 * A scene that always sees the test file's current account and registry
 * (tests replace the account with a fresh one), with its own pushed images.
 */
export function liveScene(
	current: { world: () => World; registry: () => Registry },
	projectDir: string,
	work: string,
): ReleaseScene {
	return {
		get world() {
			return current.world();
		},
		get registry() {
			return current.registry();
		},
		projectDir,
		work,
		pushed: {},
	};
}

/**
 * A fresh stand-in account whose ECR Public repository "nix" is `registry`'s
 * alias/nix, logged in to with its password: where a release test starts.
 */
export async function releaseAccount(
	registry: Registry,
): Promise<{ world: World; standIn: StandIn }> {
	const { world, standIn } = await standInAccount();
	world.repositories.set("nix", `${registry.host}/alias/nix`);
	world.registryPassword = registry.password;
	return { world, standIn };
}

/** Removes every tag of the registry's alias/nix but `kept` (the images publish pushed): no index, no moving tag of an earlier test. */
export function keepOnlyTags(registry: Registry, kept: Iterable<string>): void {
	const tags = join(registry.dir, "data/docker/registry/v2/repositories/alias/nix/_manifests/tags");
	const keep = new Set(kept);
	for (const tag of readdirSync(tags)) {
		if (!keep.has(tag)) rmSync(join(tags, tag), { recursive: true, force: true });
	}
}

export const recordPath = (
	projectDir: string,
	kind: "virtual-machine" | "oci-container",
	system: string,
) =>
	join(
		projectDir,
		"outputs/main",
		kind,
		system,
		kind === "virtual-machine" ? "ami.json" : "container.json",
	);

export function writeRecord(path: string, record: object) {
	mkdirSync(join(path, ".."), { recursive: true });
	writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * What publish leaves for `system`'s AMI: a private, available AMI and its
 * ami.json; of the system's build unless another `build` (16 hex) is named,
 * registered at `createdAt`.
 */
export function seedAmi(
	{ world, projectDir }: ReleaseScene,
	system: System,
	build: string = SYSTEMS[system].build,
	createdAt = "2026-12-01T00:00:00.000Z",
) {
	const { ec2 } = SYSTEMS[system];
	const imageId = world.nextId("ami");
	const imageName = `nixos-${LABEL}-${system}-${build}`;
	const tags = { ManagedBy: "nix-images", BuildId: build, System: system };
	const snapshotId = world.nextId("snap");
	const snapshot = leaveSnapshot(world, snapshotId, "completed", { ...tags });
	world.images.set(imageId, {
		id: imageId,
		name: imageName,
		state: "available",
		creationDate: createdAt,
		architecture: ec2,
		// As publish registers it (infra/publish/image.ts): verify checks each.
		bootMode: "uefi",
		imdsSupport: "v2.0",
		enaSupport: true,
		sriovNetSupport: "simple",
		...(system === "x86_64-linux" ? { tpmSupport: "v2.0" } : {}),
		deprecationTime: DEPRECATE_AT,
		rootDeviceName: "/dev/xvda",
		blockDevices: [{ deviceName: "/dev/xvda", snapshotId }],
		// The AMI's own tag, publish's digest of the disk image (its snapshot does not get it).
		tags: { ...tags, ImageSha256: build.repeat(4) },
		pollsUntilAvailable: 0,
		region: "us-east-1",
		public: false,
	});
	writeRecord(recordPath(projectDir, "virtual-machine", system), {
		buildId: build,
		system,
		label: LABEL,
		sha256: build.repeat(4),
		region: "us-east-1",
		imageId,
		imageName,
		snapshotId,
		// As publish records it (verify's tests give the snapshot blocks and record them again).
		snapshotContent: contentOf(snapshot),
		deprecateAt: DEPRECATE_AT,
		registered: {},
	});
	leaveSbom(projectDir, "virtual-machine", system, build.repeat(4));
	return imageId;
}

/** What publish leaves for `system`'s container: the image in the registry and its container.json. */
export function seedContainer({ registry, pushed, projectDir }: ReleaseScene, system: System) {
	const { architecture } = SYSTEMS[system];
	const image = pushed[architecture];
	if (image === undefined) throw new Error(`no ${architecture} image was pushed`);
	writeRecord(recordPath(projectDir, "oci-container", system), {
		buildId: buildIdOf(image.digest),
		system,
		architecture,
		repositoryUri: `${registry.host}/alias/nix`,
		tag: image.tag,
		digest: image.digest,
		mediaType: "application/vnd.docker.distribution.manifest.v2+json",
		size: image.size,
		nixVersion: NIX_VERSION,
		configDigest: image.configDigest,
	});
	leaveSbom(projectDir, "oci-container", system, image.digest.replace(/^sha256:/, ""));
}

export function seed(
	scene: ReleaseScene,
	parts: { amis?: boolean; containers?: boolean } = { amis: true, containers: true },
) {
	const amis: Record<string, string> = {};
	for (const system of Object.keys(SYSTEMS) as System[]) {
		if (parts.amis) amis[system] = seedAmi(scene, system);
		if (parts.containers) seedContainer(scene, system);
	}
	return amis;
}

/**
 * Pushes a tiny image per architecture to the registry, as publish would
 * have: under the tag publish derives from its digest. Another `nonce` makes
 * another build (other digests).
 */
export function pushImages({ registry, pushed, work }: ReleaseScene, nonce = "") {
	for (const { architecture } of Object.values(SYSTEMS)) {
		const archive = join(work, `${architecture}${nonce}.tar`);
		for (const command of [
			[
				"bash",
				join(REPO, "test/fixtures/images/docker-archive.sh"),
				`${archive}.gz`,
				architecture,
				`${architecture}${nonce}`,
			],
			["gunzip", "-f", `${archive}.gz`],
		]) {
			const run = Bun.spawnSync(command, { stderr: "pipe" });
			if (run.exitCode !== 0) throw new Error(run.stderr.toString());
		}
		const skopeo = (...args: string[]) => {
			const copy = Bun.spawnSync(["skopeo", "copy", ...args], {
				env: { ...process.env, ...registry.env },
				stderr: "pipe",
			});
			if (copy.exitCode !== 0) throw new Error(copy.stderr.toString());
		};
		const staging = `staging-${architecture}`;
		skopeo(
			"--dest-authfile",
			registry.authFile,
			`docker-archive:${archive}`,
			`docker://${registry.host}/alias/nix:${staging}`,
		);
		const digest = registry.serves(`alias/nix:${staging}`)?.digest ?? "";
		const tag = containerTag(NIX_VERSION, buildIdOf(digest), architecture);
		skopeo(
			"--preserve-digests",
			"--src-authfile",
			registry.authFile,
			"--dest-authfile",
			registry.authFile,
			`docker://${registry.host}/alias/nix@${digest}`,
			`docker://${registry.host}/alias/nix:${tag}`,
		);
		const served = registry.serves(`alias/nix:${tag}`);
		if (served?.digest !== digest) throw new Error(`the registry does not serve ${tag}`);
		const manifest = JSON.parse(served.manifest);
		pushed[architecture] = {
			tag,
			digest: served.digest,
			configDigest: manifest.config.digest,
			size: served.manifest.length,
		};
	}
}

/**
 * Staying within the account's limits, end to end against the stand-in (with
 * quotas, the Recycle Bin, Service Quotas requests and ECR Public's image
 * API over a real registry): release refuses what would exceed the
 * public-AMI quota, or with --make-room retires the oldest first; prune's
 * printed plan is what it deletes; a SIGKILL mid-prune and a re-run delete
 * nothing twice; account's report, and a quota request asked for once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pointParameters, type SeededBuild, seedBuild } from "./aws/seed.ts";
import { crashAfter, type StandIn } from "./aws/stand-in.ts";
import { standInAccount } from "./aws/start.ts";
import { type ImageRecord, leaveSnapshot, type World } from "./aws/world.ts";
import {
	bunTask,
	NO_AWS,
	projectCopy,
	REPO,
	requireTool,
	spawnRunner,
	tempDir,
} from "./helpers.ts";
import { type Registry, startRegistry } from "./registry.ts";
import { leaveSbom } from "./sboms.ts";

requireTool("skopeo", "apt-get install skopeo");
requireTool("podman", "apt-get install podman");

const REGIONS = ["us-east-1", "eu-west-1"];
const project = projectCopy();
const work = tempDir("retention");
const childTmp = mkdtempSync("/tmp/nr-");
// One run root for the file's podman store: podman refuses a store whose database names another.
const podmanRunRoot = mkdtempSync("/tmp/np-");
let registry: Registry;
let world: World;
let standIn: StandIn;

beforeAll(async () => {
	registry = await startRegistry();
});
afterAll(async () => {
	await standIn?.stop();
	await registry?.stop();
	project.dispose();
	rmSync(work, { recursive: true, force: true });
	rmSync(childTmp, { recursive: true, force: true });
	rmSync(podmanRunRoot, { recursive: true, force: true });
});
beforeEach(async () => {
	await standIn?.stop();
	({ world, standIn } = await standInAccount());
	world.repositories.set("nix", `${registry.host}/alias/nix`);
	world.registryPassword = registry.password;
	world.registry = {
		host: registry.host,
		password: registry.password,
		dir: registry.dir,
		cert: registry.cert,
	};
	rmSync(join(project.dir, "outputs"), { recursive: true, force: true });
	rmSync(join(registry.dir, "data/docker/registry/v2/repositories"), {
		recursive: true,
		force: true,
	});
});

const env = (extra: Record<string, string | undefined> = {}) => ({
	...NO_AWS,
	...standIn.env,
	...registry.env,
	TMPDIR: childTmp,
	...extra,
});
const task = (args: string[], extra: Record<string, string | undefined> = {}) =>
	bunTask(args, { cwd: project.dir, env: env(extra) });

/** What publish leaves for a new build of `system`: its private AMI (unreleased) and ami.json. */
function publishedBuild(system: "x86_64-linux" | "aarch64-linux", buildId: string): SeededBuild {
	const build = seedBuild(world, {
		system,
		buildId,
		daysAgo: 0.1,
		regions: REGIONS,
		released: false,
	});
	const image = world.images.get(build.source);
	const path = join(project.dir, "outputs/main/virtual-machine", system, "ami.json");
	mkdirSync(join(path, ".."), { recursive: true });
	writeFileSync(
		path,
		JSON.stringify({
			buildId,
			system,
			label: "26.05.20260616.567a49d",
			sha256: buildId.repeat(4),
			region: "us-east-1",
			imageId: build.source,
			imageName: image?.name,
			snapshotId: image?.blockDevices[0]?.snapshotId,
		}),
	);
	// The SBOM the build writes beside the image, which release carries.
	leaveSbom(project.dir, "virtual-machine", system, buildId.repeat(4));
	return build;
}

const publicIn = (region: string) =>
	[...world.images.values()]
		.filter((image) => image.region === region && image.public)
		.map((image) => image.id);

describe("the public-AMI quota, before any distribution", () => {
	/** Two releases of each system already public everywhere: 4 of the 5 AMIs the quota allows. */
	function twoReleases() {
		const old = {
			x1: seedBuild(world, {
				system: "x86_64-linux",
				buildId: "a1a1a1a1a1a1a1a1",
				daysAgo: 60,
				regions: REGIONS,
			}),
			a1: seedBuild(world, {
				system: "aarch64-linux",
				buildId: "b1b1b1b1b1b1b1b1",
				daysAgo: 61,
				regions: REGIONS,
			}),
			x2: seedBuild(world, {
				system: "x86_64-linux",
				buildId: "a2a2a2a2a2a2a2a2",
				daysAgo: 30,
				regions: REGIONS,
			}),
			a2: seedBuild(world, {
				system: "aarch64-linux",
				buildId: "b2b2b2b2b2b2b2b2",
				daysAgo: 0.3,
				regions: REGIONS,
			}),
		};
		pointParameters(world, old.x2);
		pointParameters(world, old.a2);
		return old;
	}

	test("a release that would exceed it is refused with the regions and the numbers, and nothing is distributed", async () => {
		twoReleases();
		publishedBuild("x86_64-linux", "a3a3a3a3a3a3a3a3");
		publishedBuild("aarch64-linux", "b3b3b3b3b3b3b3b3");
		const run = await task(["release", "--no-smoke-test"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			'The public-AMI quota leaves no room for this release in us-east-1 (4 used, 2 needed, 5 allowed), eu-west-1 (4 used, 2 needed, 5 allowed); ask AWS for a larger "Public AMIs" quota (`bun task account --request-public-ami-quota 10`',
		);
		expect(run.stderr).toContain("or release with --make-room");
		expect(standIn.calls).not.toContain("imagebuilder:DistributeImage");
		expect(standIn.calls).not.toContain("ec2:DeregisterImage");
	});

	test("public AMIs in the Recycle Bin count", async () => {
		world.publicAmiQuota.set("eu-west-1", 10);
		// Ten public AMIs deregistered into the bin: the quota counts them, DescribeImages does not list them.
		for (let i = 0; i < 10; i++) {
			const { source } = seedBuild(world, {
				system: "x86_64-linux",
				buildId: `c${i}`.padEnd(16, "c"),
				daysAgo: 5,
				regions: [],
				released: false,
			});
			const image = world.images.get(source) as ImageRecord;
			world.images.delete(source);
			world.recycleBin.push({ ...image, region: "eu-west-1", public: true });
		}
		publishedBuild("x86_64-linux", "a3a3a3a3a3a3a3a3");
		const run = await task(["release", "--no-smoke-test"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain("eu-west-1 (10 used, 1 needed, 10 allowed)");
	});

	test("--make-room retires the oldest first (public permission removed before deregistration), never what users get now or what is younger than a day", async () => {
		for (const region of REGIONS) world.publicAmiQuota.set(region, 4);
		world.recycleBinRetention = true;
		const old = twoReleases();
		publishedBuild("x86_64-linux", "a3a3a3a3a3a3a3a3");
		publishedBuild("aarch64-linux", "b3b3b3b3b3b3b3b3");

		const dry = await task(["release", "--no-smoke-test", "--make-room", "--dry-run"]);
		expect(dry.exitCode).toBe(0);
		expect(dry.stderr).toContain(
			"would retire 4 AMI(s) to make room; whoever launches them by id loses them:",
		);
		expect(world.deregistered).toEqual([]);

		const run = await task(["release", "--no-smoke-test", "--make-room"]);
		expect(run.exitCode).toBe(0);
		const retired = [...Object.values(old.x1.copies), ...Object.values(old.a1.copies)];
		expect([...world.deregistered].sort()).toEqual(retired.sort());
		for (const id of retired) expect(run.stderr).toContain(id);
		// Public permission first, each AMI made private before it is deregistered.
		expect(world.madePrivate).toEqual(world.deregistered);
		expect(standIn.calls.indexOf("ec2:ModifyImageAttribute")).toBeLessThan(
			standIn.calls.indexOf("ec2:DeregisterImage"),
		);
		// What users get now (x2, by its parameter) and what is younger than a day (a2) stay.
		for (const kept of [...Object.values(old.x2.copies), ...Object.values(old.a2.copies)]) {
			expect(world.images.get(kept)?.public).toBe(true);
		}
		// In the Recycle Bin nothing retired still counts, and the bin keeps their snapshots (said).
		expect(world.recycleBin.filter((image) => image.public)).toEqual([]);
		for (const id of retired) {
			const snapshotId = world.recycleBin.find((image) => image.id === id)?.blockDevices[0]
				?.snapshotId as string;
			expect(world.snapshots.has(snapshotId)).toBe(true);
			expect(run.stderr).toContain(snapshotId);
		}
		for (const region of REGIONS) expect(publicIn(region)).toHaveLength(4);
	}, 60_000);

	test("--make-room that may retire too few is refused too", async () => {
		for (const region of REGIONS) world.publicAmiQuota.set(region, 3);
		twoReleases();
		publishedBuild("x86_64-linux", "a3a3a3a3a3a3a3a3");
		publishedBuild("aarch64-linux", "b3b3b3b3b3b3b3b3");
		const run = await task(["release", "--no-smoke-test", "--make-room"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain("--make-room may retire too few of this stack's AMIs there");
		expect(world.deregistered).toEqual([]);
	});
});

describe("prune", () => {
	/** Old releases of x86_64, an unreleased old build and a young one, and leftover snapshots. */
	function seedAccount() {
		const builds = [100, 60, 30, 10].map((daysAgo, i) =>
			seedBuild(world, {
				system: "x86_64-linux",
				buildId: `d${i}`.padEnd(16, "d"),
				daysAgo,
				regions: REGIONS,
			}),
		);
		pointParameters(world, builds[3] as SeededBuild);
		const unreleasedOld = seedBuild(world, {
			system: "x86_64-linux",
			buildId: "e".repeat(16),
			daysAgo: 120,
			regions: REGIONS,
			released: false,
		});
		const unreleasedYoung = seedBuild(world, {
			system: "x86_64-linux",
			buildId: "f".repeat(16),
			daysAgo: 10,
			regions: REGIONS,
			released: false,
		});
		const ours = { ManagedBy: "nix-images", BuildId: "0".repeat(16), System: "x86_64-linux" };
		const orphanOld = leaveSnapshot(world, "snap-orphan-old", "completed", ours, 3 * 86_400_000).id;
		const orphanYoung = leaveSnapshot(
			world,
			"snap-orphan-young",
			"pending",
			ours,
			2 * 3_600_000,
		).id;
		const foreign = leaveSnapshot(world, "snap-foreign", "completed", {}, 30 * 86_400_000).id;
		return { builds, unreleasedOld, unreleasedYoung, orphanOld, orphanYoung, foreign };
	}

	/** Pushes one tiny image per architecture as a build, and its index under a release tag. */
	function pushRelease(release: string, nonce: string) {
		const digests: string[] = [];
		for (const architecture of ["amd64", "arm64"]) {
			const archive = join(work, `${release}-${architecture}.tar`);
			for (const command of [
				[
					"bash",
					join(REPO, "test/fixtures/images/docker-archive.sh"),
					`${archive}.gz`,
					architecture,
					`${nonce} ${architecture}`,
				],
				["gunzip", "-f", `${archive}.gz`],
				[
					"skopeo",
					"copy",
					"--dest-authfile",
					registry.authFile,
					`docker-archive:${archive}`,
					`docker://${registry.host}/alias/nix:2.31.2-${nonce.padEnd(16, "0")}-${architecture}`,
				],
			]) {
				const run = Bun.spawnSync(command, {
					env: { ...process.env, ...registry.env },
					stderr: "pipe",
				});
				if (run.exitCode !== 0) throw new Error(run.stderr.toString());
			}
			digests.push(
				registry.serves(`alias/nix:2.31.2-${nonce.padEnd(16, "0")}-${architecture}`)?.digest ?? "",
			);
		}
		const podman = [
			"podman",
			"--root",
			join(work, "podman"),
			"--runroot",
			podmanRunRoot,
			"--storage-driver",
			"vfs",
		];
		const list = `localhost/prune-test:${release}`;
		for (const command of [
			[...podman, "manifest", "create", list],
			...digests.map((digest) => [
				...podman,
				"manifest",
				"add",
				"--authfile",
				registry.authFile,
				list,
				`docker://${registry.host}/alias/nix@${digest}`,
			]),
			[
				...podman,
				"manifest",
				"push",
				"--all=false",
				"--format",
				"oci",
				"--authfile",
				registry.authFile,
				list,
				`docker://${registry.host}/alias/nix:2.31.2-${release}`,
			],
		]) {
			const run = Bun.spawnSync(command, {
				env: { ...process.env, ...registry.env },
				stderr: "pipe",
			});
			if (run.exitCode !== 0) throw new Error(run.stderr.toString());
		}
		return { index: registry.serves(`alias/nix:2.31.2-${release}`)?.digest ?? "", images: digests };
	}

	/**
	 * Pushes a tiny image under `tag` (an attestation or signature in the
	 * referrers tag scheme, as pushed where ECR Public lacks the referrers API).
	 */
	function pushAttached(tag: string, nonce: string): string {
		const archive = join(work, `attached-${nonce}.tar`);
		for (const command of [
			[
				"bash",
				join(REPO, "test/fixtures/images/docker-archive.sh"),
				`${archive}.gz`,
				"amd64",
				nonce,
			],
			["gunzip", "-f", `${archive}.gz`],
			[
				"skopeo",
				"copy",
				"--dest-authfile",
				registry.authFile,
				`docker-archive:${archive}`,
				`docker://${registry.host}/alias/nix:${tag}`,
			],
		]) {
			const run = Bun.spawnSync(command, {
				env: { ...process.env, ...registry.env },
				stderr: "pipe",
			});
			if (run.exitCode !== 0) throw new Error(run.stderr.toString());
		}
		return registry.serves(`alias/nix:${tag}`)?.digest ?? "";
	}
	const scheme = (digest: string, suffix = "") =>
		`sha256-${digest.replace("sha256:", "")}${suffix}`;

	/** The ids in prune's printed plan: AMIs, snapshots and image digests. */
	const planned = (stdout: string) =>
		[...stdout.matchAll(/(ami-[0-9a-f]+|snap-[\w-]+|sha256:[0-9a-f]{64})/g)]
			.map((m) => m[1] as string)
			.sort();

	test("its printed plan is exactly what it then deletes, and it keeps what it must", async () => {
		const seeded = seedAccount();
		const releases = ["111111111111", "222222222222", "333333333333"].map((id, i) =>
			pushRelease(id, `r${i}`),
		);
		// latest serves the newest index.
		Bun.spawnSync(
			[
				"skopeo",
				"copy",
				"--all",
				"--preserve-digests",
				"--authfile",
				registry.authFile,
				`docker://${registry.host}/alias/nix@${releases[2]?.index}`,
				`docker://${registry.host}/alias/nix:latest`,
			],
			{ env: { ...process.env, ...registry.env } },
		);

		const dry = await task(["prune", "--dry-run"]);
		expect(dry.stderr).not.toContain("✗");
		expect(dry.exitCode).toBe(0);
		expect(dry.stderr).toContain(
			"each system's lifecycle policy deletes its AMIs older than 90 days, keeping the newest 2",
		);
		expect(world.deregistered).toEqual([]);
		const plan = planned(dry.stdout);
		const [b0, b1] = seeded.builds as SeededBuild[];
		const expected = [
			...Object.values((b0 as SeededBuild).copies),
			...Object.values((b1 as SeededBuild).copies),
			(b0 as SeededBuild).source,
			(b1 as SeededBuild).source,
			seeded.unreleasedOld.source,
			seeded.orphanOld,
			releases[0]?.index as string,
			...(releases[0]?.images ?? []),
		].sort();
		expect(plan).toEqual(expected);

		const snapshotsBefore = new Set(world.snapshots.keys());
		const run = await task(["prune"]);
		expect(run.exitCode).toBe(0);
		const deletedSnapshots = [...snapshotsBefore].filter((id) => !world.snapshots.has(id));
		const amis = plan.filter((id) => id.startsWith("ami-"));
		expect([...world.deregistered].sort()).toEqual(amis);
		// Every retired AMI's snapshots went with it, and the orphan.
		expect(deletedSnapshots).toContain(seeded.orphanOld);
		expect(world.snapshots.has(seeded.orphanYoung)).toBe(true);
		expect(world.snapshots.has(seeded.foreign)).toBe(true);
		// The registry: the oldest release's index and images gone, the others served.
		expect(registry.serves(`alias/nix:2.31.2-111111111111`)).toBeUndefined();
		expect(registry.serves(`alias/nix:2.31.2-222222222222`)?.digest).toBe(releases[1]?.index);
		expect(registry.serves("alias/nix:latest")?.digest).toBe(releases[2]?.index);
		for (const digest of releases[1]?.images ?? [])
			expect(registry.serves(`alias/nix@${digest}`)).toBeDefined();

		const again = await task(["prune", "--dry-run"]);
		expect(again.stderr).toContain("nothing to prune.");
	}, 120_000);

	test("the tag-scheme attestations and signatures of each image it deletes go with it, listed first; those of what it keeps stay", async () => {
		// Their own release ids: podman's store keeps each test's manifest lists by name.
		const releases = ["444444444444", "555555555555", "666666666666"].map((id, i) =>
			pushRelease(id, `a${i}`),
		);
		const [gone, kept, newest] = releases as [
			{ index: string; images: string[] },
			{ index: string; images: string[] },
			{ index: string; images: string[] },
		];
		// Of what goes (keep 2): the oldest index's signature, an attestation of one of its platform
		// manifests and that attestation's signature; and a signature whose subject is gone already.
		const goneSignature = pushAttached(scheme(gone.index, ".sig"), "sig of gone index");
		const goneAttestation = pushAttached(scheme(gone.images[0] as string), "att of gone image");
		const goneChain = pushAttached(scheme(goneAttestation, ".sig"), "sig of gone att");
		const orphan = pushAttached(scheme(`sha256:${"e".repeat(64)}`, ".sig"), "sig of nothing");
		// Of what stays: the kept index's attestation and its signature (attached to an attachment),
		// and a signature of the newest index's platform manifest.
		const keptAttestation = pushAttached(scheme(kept.index, ".att"), "att of kept index");
		const keptChain = pushAttached(scheme(keptAttestation, ".sig"), "sig of kept att");
		const keptSignature = pushAttached(scheme(newest.images[1] as string, ".sig"), "sig of newest");
		const attachedGoing = [goneSignature, goneAttestation, goneChain, orphan];

		const dry = await task(["prune", "--dry-run"]);
		expect(dry.stderr).not.toContain("✗");
		expect(dry.exitCode).toBe(0);
		expect(planned(dry.stdout)).toEqual([...attachedGoing, gone.index, ...gone.images].sort());
		const line = (digest: string) =>
			dry.stdout.split("\n").find((row) => row.includes(digest)) ?? "";
		expect(line(goneSignature)).toContain(
			`tags ${scheme(gone.index, ".sig")}: attached to an image which goes`,
		);
		expect(line(goneChain)).toContain("attached to an image which goes");
		expect(line(orphan)).toContain("attached to an image no longer in the repository");
		// Listed, and so deleted, before their subjects.
		const position = (digest: string) => dry.stdout.indexOf(digest);
		for (const attached of attachedGoing) {
			for (const subject of [gone.index, ...gone.images]) {
				expect(position(attached)).toBeLessThan(position(subject));
			}
		}

		const run = await task(["prune"]);
		expect(run.stderr).not.toContain("✗");
		expect(run.exitCode).toBe(0);
		for (const digest of [...attachedGoing, gone.index, ...gone.images]) {
			expect(registry.serves(`alias/nix@${digest}`)).toBeUndefined();
		}
		for (const digest of [keptAttestation, keptChain, keptSignature, kept.index, newest.index]) {
			expect(registry.serves(`alias/nix@${digest}`)?.digest).toBe(digest);
		}
		expect(registry.serves(`alias/nix:${scheme(kept.index, ".att")}`)?.digest).toBe(
			keptAttestation,
		);
		expect((await task(["prune", "--dry-run"])).stderr).toContain("nothing to prune.");
	}, 120_000);

	test("a SIGKILL mid-prune and a re-run delete nothing twice and fail on nothing already gone; what a lifecycle policy deleted first is done", async () => {
		const seeded = seedAccount();
		const [b0, b1] = seeded.builds as SeededBuild[];
		const code = await crashAfter(
			standIn,
			spawnRunner(["prune"], { cwd: project.dir, env: env() }),
			"DeregisterImage",
			2,
		);
		expect(code).toBe(137);
		// The second deregistration was done, its answer lost in the crash.
		const goneBefore = [...world.deregistered];
		expect(goneBefore).toHaveLength(2);
		// While the re-run works, the lifecycle policy deletes a copy the re-run planned (and its
		// snapshot): the re-run finds it gone when it gets there, which counts as done.
		const planned0 = [
			...Object.values((b0 as SeededBuild).copies),
			...Object.values((b1 as SeededBuild).copies),
		];
		const policyDeletes = planned0.find((id) => world.images.has(id)) as string;
		const policySnapshot = world.images.get(policyDeletes)?.blockDevices[0]?.snapshotId ?? "";
		standIn.hooks.set("ModifyImageAttribute", ({ params }) => {
			if (params.get("ImageId") !== policyDeletes && world.images.has(policyDeletes)) {
				world.images.delete(policyDeletes);
				world.snapshots.delete(policySnapshot);
			}
			return undefined;
		});
		const rerun = await task(["prune"]);
		standIn.hooks.clear();
		expect(rerun.stderr).not.toContain("✗");
		expect(rerun.exitCode).toBe(0);
		expect(planned(rerun.stdout)).toContain(policyDeletes);
		expect(world.deregistered).not.toContain(policyDeletes);
		// The re-run plans nothing the first run removed, and deregisters each AMI once.
		expect(planned(rerun.stdout).filter((id) => goneBefore.includes(id))).toEqual([]);
		expect(new Set(world.deregistered).size).toBe(world.deregistered.length);
		for (const id of [
			...Object.values((b0 as SeededBuild).copies),
			(b0 as SeededBuild).source,
			seeded.unreleasedOld.source,
		]) {
			expect(world.images.has(id)).toBe(false);
		}
		expect(world.images.has(policyDeletes)).toBe(false);
		expect(world.snapshots.has(seeded.orphanOld)).toBe(false);
	}, 120_000);
});

describe("account", () => {
	test("reports each region before a first release, and asks for a quota once", async () => {
		world.publicAmiQuota.set("us-east-1", 20);
		world.blockPublicAccess.add("eu-west-1");
		seedBuild(world, {
			system: "x86_64-linux",
			buildId: "a1a1a1a1a1a1a1a1",
			daysAgo: 3,
			regions: ["eu-west-1"],
		});
		mkdirSync(project.dir, { recursive: true });
		writeFileSync(
			join(project.dir, "cdk.json"),
			JSON.stringify({
				app: "bun infra/app.ts",
				output: "outputs/main/infrastructure",
				context: { regions: REGIONS },
			}),
		);
		try {
			const report = await task(["account"]);
			expect(report.exitCode).toBe(0);
			expect(report.stdout).toMatch(/us-east-1\s+yes\s+0 of 20\s+off\s+off/);
			expect(report.stdout).toMatch(/eu-west-1\s+yes\s+1 of 5\s+on\s+off/);
			expect(report.stdout).toContain("smoke test in us-east-1: t3.nano in subnet-");
			expect(report.stderr).toContain(
				"before the first release: image block public access is on in eu-west-1.",
			);
			expect(world.quotaRequests).toEqual([]);

			const asked = await task(["account", "--request-public-ami-quota", "10"]);
			expect(asked.exitCode).toBe(0);
			expect(world.quotaRequests.map((r) => [r.region, r.desired])).toEqual([["eu-west-1", 10]]);
			expect(asked.stdout).toContain(
				`quota request eu-west-1: ${world.quotaRequests[0]?.id} (asked for 10)`,
			);
			const again = await task(["account", "--request-public-ami-quota", "10"]);
			expect(world.quotaRequests).toHaveLength(1);
			expect(again.stdout).toContain("(already open, PENDING)");
			const bad = await task(["account", "--request-public-ami-quota", "3"]);
			expect(bad.exitCode).toBe(2);
		} finally {
			Bun.spawnSync(["cp", join(REPO, "cdk.json"), join(project.dir, "cdk.json")]);
		}
	}, 60_000);
});

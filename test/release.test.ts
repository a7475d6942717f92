/**
 * `bun task release` end to end, as a user runs it on a machine that holds
 * no image: the records publish leaves (ami.json for both systems, AMIs in
 * the stand-in's account; container.json for both architectures, images in
 * a real docker-registry on 127.0.0.1), released through the real SDK to the
 * loopback stand-in and with the machine's own skopeo and podman. Refusals,
 * --dry-run, Ctrl-C, and a SIGKILL between any two steps followed by a re-run.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
	existsSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { bootMarker } from "../tasks/project/boot-marker.ts";
import { buildIdOf, containerTag } from "../tasks/project/names.ts";
import { AMI_PREDICATE_TYPE, parseAmiStatement } from "../tasks/provenance/statements.ts";
import { parametersIn, putParameter } from "./aws/ssm.ts";
import { crashAfter, type StandIn } from "./aws/stand-in.ts";
import type { World } from "./aws/world.ts";
import {
	bunTask,
	cleanEnv,
	NO_AWS,
	pathWithout,
	projectCopy,
	REPO,
	requireTool,
	spawnRunner,
	spyTool,
	tempDir,
	tmpfs,
	waitForPause,
} from "./helpers.ts";
import { type Registry, startRegistry } from "./registry.ts";
import {
	keepOnlyTags,
	LABEL,
	liveScene,
	NIX_VERSION,
	pushImages,
	recordPath as recordPathIn,
	releaseAccount,
	SYSTEMS,
	type System,
	seedAmi as seedAmiIn,
	seedContainer as seedContainerIn,
	seed as seedIn,
	writeRecord,
} from "./release-scene.ts";
import { sbomText } from "./sboms.ts";

requireTool("skopeo", "apt-get install skopeo");
requireTool("podman", "apt-get install podman");

const MARKER = bootMarker(REPO);

const project = projectCopy();
const work = tempDir("release");
/**
 * The runs' TMPDIR: short (podman refuses a run root longer than 50 characters,
 * and would otherwise go to /tmp, shared with other test runs), and this file's own.
 */
const childTmp = mkdtempSync("/tmp/ni-");
/** skopeo and podman in front of the real ones, which can stop the run at a registry step. */
const spy = join(work, "bin");
const releaseJson = join(project.dir, "outputs/main/release.json");
let registry: Registry;
let world: World;
let standIn: StandIn;
const scene = liveScene({ world: () => world, registry: () => registry }, project.dir, work);
const pushed = scene.pushed;
const recordPath = (kind: "virtual-machine" | "oci-container", system: string) =>
	recordPathIn(project.dir, kind, system);
const seedAmi = (system: System) => seedAmiIn(scene, system);
const seedContainer = (system: System) => seedContainerIn(scene, system);
const seed = (parts?: { amis?: boolean; containers?: boolean }) => seedIn(scene, parts);

function env(extra: Record<string, string | undefined> = {}) {
	return {
		...NO_AWS,
		...standIn.env,
		...registry.env,
		TMPDIR: childTmp,
		PATH: `${spy}:${process.env.PATH}`,
		SPY_DIR: spy,
		...extra,
	};
}

function release(args: string[] = [], extra: Record<string, string | undefined> = {}) {
	return bunTask(["release", ...args], { cwd: project.dir, env: env(extra) });
}

function spawnRelease(args: string[] = [], extra: Record<string, string | undefined> = {}) {
	return spawnRunner(["release", ...args], { cwd: project.dir, env: env(extra) });
}

const manifestOf = () => JSON.parse(readFileSync(releaseJson, "utf8"));
const indexAt = (tag: string) => registry.serves(`alias/nix:${tag}`);

/** Points `tag` at `digest` in the registry, as an earlier release did. */
function retag(digest: string, tag: string) {
	const copy = Bun.spawnSync(
		[
			"skopeo",
			"copy",
			"--all",
			"--preserve-digests",
			"--src-authfile",
			registry.authFile,
			"--dest-authfile",
			registry.authFile,
			`docker://${registry.host}/alias/nix@${digest}`,
			`docker://${registry.host}/alias/nix:${tag}`,
		],
		{ env: { ...process.env, ...registry.env }, stderr: "pipe" },
	);
	if (copy.exitCode !== 0) throw new Error(copy.stderr.toString());
}

/** Exactly one distribution per system, every smoke-test instance terminated (at most one each), and the release complete. */
function expectOneReleaseOfEach(amis: Record<string, string>) {
	const distributions = [...world.imageBuilderImages.values()];
	expect(distributions.map((image) => image.sourceImage).sort()).toEqual(
		Object.values(amis).sort(),
	);
	expect(distributions.every((image) => image.status === "AVAILABLE")).toBe(true);
	for (const [system, imageId] of Object.entries(amis)) {
		const instances = [...world.instances.values()].filter((i) => i.imageId === imageId);
		expect(instances.length).toBeLessThanOrEqual(1);
		expect(instances.length).toBeGreaterThanOrEqual(
			world.images.get(imageId)?.tags.SmokeTest ? 0 : 1,
		);
		expect(instances.every((instance) => instance.state === "terminated")).toBe(true);
		expect(world.images.get(imageId)?.tags.SmokeTest).toBe(SYSTEMS[system as System].build);
	}
	const manifest = manifestOf();
	for (const [system, imageId] of Object.entries(amis)) {
		const copies = manifest.amis[system].regions;
		expect(Object.keys(copies).sort()).toEqual(["eu-west-1", "us-east-1"]);
		expect(manifest.amis[system].sourceImage.imageId).toBe(imageId);
		// Every copy carries the disk image's SHA-256, read from the source AMI, as release.json says.
		const sha256 = SYSTEMS[system as System].build.repeat(4);
		expect(manifest.amis[system].imageSha256).toBe(sha256);
		for (const copy of Object.values(copies) as string[]) {
			expect(world.images.get(copy)?.tags.ImageSha256).toBe(sha256);
		}
	}
	const index = indexAt("latest");
	expect(index?.digest).toBe(manifest.containers.indexDigest);
	expect(indexAt(NIX_VERSION)?.digest).toBe(manifest.containers.indexDigest);
	expect(indexAt(manifest.containers.tags.release)?.digest).toBe(manifest.containers.indexDigest);
}

/** The runs' private directories still there: the login's and podman's run root, both in this file's TMPDIR. */
function authDirectoriesLeft(): string[] {
	return readdirSync(childTmp).filter(
		(name) => name.startsWith("nix-images-auth-") || name.startsWith("nix-images-podman-"),
	);
}

beforeAll(async () => {
	mkdirSync(childTmp, { recursive: true });
	// Each spy can stop a run at a registry step (see spyTool).
	spyTool(spy, "skopeo", [
		'case " $* " in *" copy --all "*)',
		'  n=$(( $(cat "$SPY_DIR/moves" 2>/dev/null || echo 0) + 1 )); echo $n > "$SPY_DIR/moves"',
		'  [ "$n" = "$PAUSE_AT_MOVE" ] && pause',
		'  [ "$n" = "$PAUSE_AFTER_MOVE" ] && run_then_pause "$@" ;;',
		"esac",
	]);
	spyTool(spy, "podman", [
		'case " $* " in *" manifest push "*) [ -n "$PAUSE_AFTER_INDEX" ] && run_then_pause "$@" ;; esac',
	]);
	registry = await startRegistry();
	({ world, standIn } = await releaseAccount(registry));
	pushImages(scene);
});
afterAll(async () => {
	await standIn?.stop();
	await registry?.stop();
	project.dispose();
	rmSync(work, { recursive: true, force: true });
	rmSync(childTmp, { recursive: true, force: true });
});

/** A fresh account and registry tags, no records, nothing paused. */
async function freshRelease() {
	await standIn?.stop();
	({ world, standIn } = await releaseAccount(registry));
	world.bootMarker = MARKER;
	rmSync(join(project.dir, "outputs"), { recursive: true, force: true });
	keepOnlyTags(
		registry,
		Object.values(pushed).map((image) => image.tag),
	);
	for (const file of ["moves", "paused"]) rmSync(join(spy, file), { force: true });
}

describe("release", () => {
	beforeEach(freshRelease);

	test("smoke-tests each AMI, distributes both at once, indexes the containers, then moves latest and writes release.json", async () => {
		const amis = seed();
		const summary = join(work, "summary.md");
		rmSync(summary, { force: true });
		// While anything is distributing, no public pointer has moved yet.
		const pointersSeen: string[] = [];
		standIn.hooks.set("GetImage", () => {
			if (existsSync(releaseJson)) pointersSeen.push("release.json");
			if (indexAt("latest")) pointersSeen.push("latest");
			return undefined;
		});
		const run = await release([], { GITHUB_ACTIONS: "true", GITHUB_STEP_SUMMARY: summary });
		expect(run.stderr).not.toContain("✗");
		expect(run.exitCode).toBe(0);
		expect(pointersSeen).toEqual([]);

		// The smoke test: one instance per AMI, the smallest type, IMDSv2, no key pair, tagged, terminated.
		const instances = [...world.instances.values()];
		expect(instances).toHaveLength(2);
		for (const [system, imageId] of Object.entries(amis)) {
			const instance = instances.find((i) => i.imageId === imageId);
			expect(instance).toMatchObject({
				instanceType: SYSTEMS[system as System].smoke,
				httpTokens: "required",
				keyName: undefined,
				shutdownBehavior: "terminate",
				state: "terminated",
				clientToken: `${SYSTEMS[system as System].build}-smoke-test-1`,
			});
			expect(instance?.tags).toMatchObject({
				ManagedBy: "nix-images",
				Purpose: "smoke-test",
				BuildId: SYSTEMS[system as System].build,
				System: system,
			});
			expect(instance?.userData).toContain("shutdown -P +65");
		}

		// The distribution: each system's configuration and the role, public copies in every region.
		const distributions = [...world.imageBuilderImages.values()];
		expect(distributions).toHaveLength(2);
		const outputs = world.stacks.get("Production")?.outputs ?? {};
		const configurations = JSON.parse(String(outputs.DistributionConfigurationArns));
		for (const [system, imageId] of Object.entries(amis)) {
			const distribution = distributions.find((d) => d.sourceImage === imageId);
			expect(distribution?.distributionConfigurationArn).toBe(configurations[system]);
		}
		for (const distribution of distributions) {
			expect(distribution.executionRole).toBe(String(outputs.DistributionRoleArn));
			expect(distribution.tags).toMatchObject({
				ManagedBy: "nix-images",
				"nix-images:lifecycle": expect.stringMatching(/^Production-(x86_64|aarch64)-linux$/),
			});
			for (const copy of distribution.amis) {
				const image = world.images.get(copy.image);
				expect(image).toMatchObject({ region: copy.region, public: true });
				// Each copy has a snapshot of its own, tagged so retention may delete it with the copy.
				const snapshotId = image?.blockDevices[0]?.snapshotId ?? "";
				const source = world.images.get(distribution.sourceImage)?.blockDevices[0]?.snapshotId;
				expect(snapshotId).not.toBe(source);
				expect(world.snapshots.get(snapshotId)?.tags).toMatchObject({
					ManagedBy: "nix-images",
					BuildId: expect.stringMatching(/^[0-9a-f]{16}$/),
					System: expect.stringMatching(/-linux$/),
				});
			}
		}
		// Both distributions were under way at once: the second started before the first could
		// settle (an image takes four GetImage polls, 250 ms and more apart, to become available).
		const order = standIn.calls.filter((call) => /DistributeImage|GetImage$/.test(call));
		const starts = order.flatMap((call, i) => (call === "imagebuilder:DistributeImage" ? [i] : []));
		const polls = order.flatMap((call, i) => (call === "imagebuilder:GetImage" ? [i] : []));
		expect(starts).toHaveLength(2);
		expect(starts[1]).toBeLessThan(polls[2] as number);

		// The index: both images, with their platforms, under the release tag, <nix version> and latest.
		const manifest = manifestOf();
		const index = JSON.parse(indexAt("latest")?.manifest ?? "{}");
		expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
		expect(
			index.manifests.map((m: { digest: string; platform: object }) => [m.digest, m.platform]),
		).toEqual(
			expect.arrayContaining([
				[pushed.amd64?.digest, { architecture: "amd64", os: "linux" }],
				[pushed.arm64?.digest, expect.objectContaining({ architecture: "arm64", os: "linux" })],
			]),
		);
		expect(index.manifests).toHaveLength(2);
		expectOneReleaseOfEach(amis);

		// release.json: the version, per system the build and region → AMI id, the containers.
		expect(manifest.version).toBe(`${LABEL}-${manifest.releaseId}`);
		expect(Date.parse(manifest.releasedAt)).toBeGreaterThan(Date.parse("2026-01-01"));
		expect(manifest.amis["aarch64-linux"].ssmParameter).toBe(
			"/nix-images/Production/nixos/aarch64-linux/latest",
		);
		// …and its page, beside it.
		const page = readFileSync(join(project.dir, "outputs/main/release/index.html"), "utf8");
		for (const region of ["us-east-1", "eu-west-1"]) {
			expect(page).toContain(manifest.amis["x86_64-linux"].regions[region]);
		}
		expect(page).toContain(manifest.containers.indexDigest);
		expect(manifest.amis["x86_64-linux"]).toMatchObject({
			buildId: SYSTEMS["x86_64-linux"].build,
			smokeTest: "passed",
			imageBuilderImage: expect.stringContaining(":image/"),
		});
		expect(manifest.containers).toMatchObject({
			repository: `${registry.host}/alias/nix`,
			tags: {
				release: `${NIX_VERSION}-${manifest.releaseId}`,
				moving: [NIX_VERSION, "latest"],
			},
			images: {
				amd64: { system: "x86_64-linux", digest: pushed.amd64?.digest },
				arm64: { system: "aarch64-linux", digest: pushed.arm64?.digest },
			},
		});

		// The table on stdout and in the step summary.
		const eu = (system: System) => manifest.amis[system].regions["eu-west-1"];
		expect(run.stdout).toMatch(
			new RegExp(`eu-west-1\\s+${eu("x86_64-linux")}\\s+${eu("aarch64-linux")}`),
		);
		expect(run.stdout).toMatch(/^region\s+x86_64-linux\s+aarch64-linux$/m);
		const markdown = readFileSync(summary, "utf8");
		expect(markdown).toContain(`| eu-west-1 | ${eu("x86_64-linux")} | ${eu("aarch64-linux")} |`);
		expect(markdown).toContain(`→ \`${manifest.containers.indexDigest}\``);
		expect(authDirectoriesLeft()).toEqual([]);
	}, 60_000);

	test("a re-run boots nothing, distributes nothing again and leaves the tags where they are", async () => {
		const amis = seed();
		expect((await release()).exitCode).toBe(0);
		const first = readFileSync(releaseJson, "utf8");
		const again = await release();
		expect(again.exitCode).toBe(0);
		expect(readFileSync(releaseJson, "utf8")).toBe(first);
		expect(world.instances.size).toBe(2);
		expect(world.imageBuilderImages.size).toBe(2);
		expect(again.stderr).toContain("smoke test passed before");
		expect(again.stderr).toContain("already indexes 2 image(s)");
		expect(again.stderr).toContain(`${registry.host}/alias/nix:latest already pointed at`);
		expectOneReleaseOfEach(amis);
	}, 60_000);

	test("a failed smoke test stops the release before anything is distributed or indexed", async () => {
		seed();
		world.bootPolls = undefined; // the images never print the marker
		const run = await release(["--smoke-test-timeout", "2s"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`failed: 2 seconds passed before "${MARKER}" showed on its console, which ends with:`,
		);
		expect(run.stderr).toContain(
			"Nothing was distributed; fix the image, publish it again and release.",
		);
		expect([...world.instances.values()].map((i) => i.state)).toEqual(["terminated", "terminated"]);
		expect(world.imageBuilderImages.size).toBe(0);
		expect(standIn.calls).not.toContain("ec2:CreateTags");
		expect(existsSync(releaseJson)).toBe(false);
		expect(indexAt("latest")).toBeUndefined();
		expect(run.stderr).not.toContain("manifest push");
	}, 60_000);

	test("--no-smoke-test boots nothing and records the test as skipped", async () => {
		const amis = seed();
		const run = await release(["--no-smoke-test"]);
		expect(run.exitCode).toBe(0);
		expect(world.instances.size).toBe(0);
		expect(manifestOf().amis["aarch64-linux"].smokeTest).toBe("skipped");
		expect(world.imageBuilderImages.size).toBe(Object.keys(amis).length);
	}, 60_000);

	test("a FAILED distribution is retried once with RetryImage, and its reason is shown", async () => {
		const amis = seed({ amis: true });
		world.failNextDistribution = "Copying the snapshot to eu-west-1 was throttled.";
		const run = await release(["--no-smoke-test"]);
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toMatch(
			/distribution failed \(Copying the snapshot to eu-west-1 was throttled\.\); retrying once\./,
		);
		expect(standIn.calls.filter((call) => call === "imagebuilder:RetryImage")).toHaveLength(1);
		const retried = [...world.imageBuilderImages.values()].find((i) => i.retryTokens.length > 0);
		expect(retried?.status).toBe("AVAILABLE");
		expect(Object.keys(manifestOf().amis)).toEqual(Object.keys(amis));
	}, 60_000);

	test("a release whose checks fail after the distribution keeps the moving tags and release.json where they were", async () => {
		const amis = seed();
		// What users got before: an earlier release (of the amd64 image alone) and its moving tags.
		const amd64 = pushed.amd64 as (typeof pushed)[string];
		writeRecord(releaseJson, {
			version: `${NIX_VERSION}-aaaaaaaaaaaa`,
			releaseId: "aaaaaaaaaaaa",
			releasedAt: "2026-11-01T00:00:00.000Z",
			stack: "Production",
			publicAmis: true,
			amis: {},
			containers: {
				repository: `${registry.host}/alias/nix`,
				nixVersion: NIX_VERSION,
				indexDigest: amd64.digest,
				tags: { release: amd64.tag, moving: [NIX_VERSION, "latest"] },
				images: {
					amd64: {
						system: "x86_64-linux",
						buildId: buildIdOf(amd64.digest),
						tag: amd64.tag,
						digest: amd64.digest,
					},
				},
			},
		});
		const before = readFileSync(releaseJson, "utf8");
		for (const tag of [NIX_VERSION, "latest"]) retag(amd64.digest, tag);
		// A build that boots otherwise than publish registers it: the copies inherit it.
		const source = world.images.get(amis["aarch64-linux"] as string);
		if (source) source.bootMode = "legacy-bios";
		const run = await release(["--no-smoke-test", "--retry-for", "0s"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toMatch(
			/aarch64-linux\s+eu-west-1\s+✗ AMI ami-\w+ boot mode: expected uefi, is legacy-bios/,
		);
		expect(run.stderr).toContain("the moving tags and release.json stay where they were");
		expect(run.stderr).toContain(
			"readers of the SSM parameters get the new AMIs in every region, while",
		);
		expect(readFileSync(releaseJson, "utf8")).toBe(before);
		expect(indexAt("latest")?.digest).toBe(amd64.digest);
		expect(indexAt(NIX_VERSION)?.digest).toBe(amd64.digest);
		// What the distribution did is done: each region's parameter names the new copy there.
		const copies = [...world.imageBuilderImages.values()].flatMap((image) => image.amis);
		expect(copies).toHaveLength(4);
		for (const copy of copies) {
			const lifecycle = world.images.get(copy.image)?.tags["nix-images:lifecycle"] ?? "";
			const parameter = `/nix-images/Production/nixos/${lifecycle.slice("Production-".length)}/latest`;
			expect(parametersIn(world, copy.region).get(parameter)?.value).toBe(copy.image);
		}
	}, 60_000);

	test("AMIs only, and containers only, release what there is", async () => {
		seed({ amis: true });
		const amisOnly = await release(["--no-smoke-test"]);
		expect(amisOnly.exitCode).toBe(0);
		expect(manifestOf().containers).toBeUndefined();
		expect(amisOnly.stderr).not.toContain("podman");

		await freshRelease();
		seed({ containers: true });
		const containersOnly = await release();
		expect(containersOnly.exitCode).toBe(0);
		expect(manifestOf().amis).toEqual({});
		expect(world.instances.size).toBe(0);
		expect(indexAt("latest")?.digest).toBe(manifestOf().containers.indexDigest);
		expect(containersOnly.stdout).not.toContain("region");
	}, 60_000);

	test("one system's images job failed: the other system is released, and the step summary names the missing one", async () => {
		seedAmi("x86_64-linux");
		seedContainer("x86_64-linux");
		const summary = join(work, "summary-missing.md");
		rmSync(summary, { force: true });
		const run = await release(["--no-smoke-test"], {
			GITHUB_ACTIONS: "true",
			GITHUB_STEP_SUMMARY: summary,
		});
		expect(run.exitCode).toBe(0);
		expect(Object.keys(manifestOf().amis)).toEqual(["x86_64-linux"]);
		expect(run.stderr).toContain(
			"not in this release: aarch64-linux (no ami.json, no container.json)",
		);
		expect(readFileSync(summary, "utf8")).toContain(
			"**Not in this release:** aarch64-linux (no ami.json, no container.json).",
		);
	}, 60_000);

	test("the containers of some systems only: their index under its own tag, and latest left where it was", async () => {
		seedContainer("x86_64-linux");
		const run = await release();
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toContain(
			"2.31.2 and latest stay where they are: the index has no image for aarch64-linux; publish its container (on a machine of that system, or in CI), bring its container.json here and release again.",
		);
		const manifest = manifestOf();
		expect(manifest.containers.tags.moving).toEqual([]);
		expect(indexAt(manifest.containers.tags.release)?.digest).toBe(manifest.containers.indexDigest);
		expect(indexAt("latest")).toBeUndefined();
		expect(indexAt(NIX_VERSION)).toBeUndefined();
	}, 60_000);

	test("--dry-run prints each call and command, and changes nothing", async () => {
		seed();
		const run = await release(["--dry-run"]);
		expect(run.exitCode).toBe(0);
		for (const call of ["RunInstances", "DistributeImage"]) {
			expect(run.stderr).toContain(`would call ${call} {`);
		}
		expect(run.stderr).toMatch(/\$ podman .* manifest push --all=false --format oci/);
		expect(run.stderr).toContain("would point 2.31.2 and latest at the index");
		// Nothing was booted, so nothing says it passed.
		expect(run.stderr).toMatch(/would boot ami-\w+ on t3\.nano and wait for the marker/);
		expect(run.stderr).not.toContain("smoke test passed");
		expect(world.instances.size).toBe(0);
		expect(world.imageBuilderImages.size).toBe(0);
		expect(existsSync(releaseJson)).toBe(false);
		expect(indexAt("latest")).toBeUndefined();
		expect(authDirectoriesLeft()).toEqual([]);
	}, 60_000);

	test("Ctrl-C during the smoke test terminates the instances", async () => {
		seed({ amis: true });
		world.bootPolls = 10_000;
		const child = spawnRelease();
		await standIn.arrival("GetConsoleOutput", 2);
		child.kill("SIGINT");
		expect(await child.exited).toBe(130);
		const instances = [...world.instances.values()];
		expect(instances).toHaveLength(2);
		expect(instances.map((i) => i.state)).toEqual(["terminated", "terminated"]);
		expect(world.imageBuilderImages.size).toBe(0);
	}, 60_000);

	test("after a Ctrl-C during the smoke test, a re-run boots a new instance under the next attempt and completes", async () => {
		const amis = seed();
		world.bootPolls = 10_000;
		const child = spawnRelease();
		await standIn.arrival("GetConsoleOutput", 2);
		child.kill("SIGINT");
		expect(await child.exited).toBe(130);
		world.bootPolls = 1;
		const rerun = await release();
		expect(rerun.exitCode).toBe(0);
		for (const imageId of Object.values(amis)) {
			const instances = [...world.instances.values()].filter((i) => i.imageId === imageId);
			expect(instances.map((i) => [i.clientToken?.split("-").at(-1), i.state])).toEqual([
				["1", "terminated"],
				["2", "terminated"],
			]);
			expect(world.images.get(imageId)?.tags.SmokeTestAttempt).toBe("2");
		}
		expect(world.imageBuilderImages.size).toBe(2);
	}, 60_000);

	test("a distribution cancelled after a crash is replaced by one new distribution per system", async () => {
		const amis = seed();
		expect(await crashAfter(standIn, spawnRelease(), "DistributeImage", 2)).toBe(137);
		const cancelled = [...world.imageBuilderImages.values()];
		expect(cancelled).toHaveLength(2);
		for (const image of cancelled) image.status = "CANCELLED";
		const rerun = await release();
		expect(rerun.stderr).not.toContain("✗");
		expect(rerun.exitCode).toBe(0);
		expect(rerun.stderr).toContain("was cancelled or deleted; starting another.");
		const replacements = [...world.imageBuilderImages.values()].filter(
			(i) => i.status === "AVAILABLE",
		);
		expect(replacements.map((i) => i.sourceImage).sort()).toEqual(Object.values(amis).sort());
		const manifest = manifestOf();
		for (const [system, imageId] of Object.entries(amis)) {
			const arn = manifest.amis[system].imageBuilderImage;
			expect(replacements.map((i) => i.arn)).toContain(arn);
			expect(world.images.get(imageId)?.tags.ImageBuilderImage).toBe(arn);
		}
	}, 60_000);
});

describe("release checks every record against AWS and the registry before it changes anything", () => {
	beforeEach(freshRelease);

	/** Nothing distributed, booted, indexed, tagged or written; public, only the AMIs that were before. */
	function expectNothingReleased(publicBefore: string[] = []) {
		expect(standIn.calls).not.toContain("imagebuilder:DistributeImage");
		expect(standIn.calls).not.toContain("ec2:RunInstances");
		expect(standIn.calls).not.toContain("ec2:CreateTags");
		expect(world.instances.size).toBe(0);
		expect(existsSync(releaseJson)).toBe(false);
		expect(indexAt("latest")).toBeUndefined();
		expect([...world.images.values()].filter((i) => i.public).map((i) => i.id)).toEqual(
			publicBefore,
		);
	}
	const amiRecord = (system: System) =>
		JSON.parse(readFileSync(recordPath("virtual-machine", system), "utf8"));
	const rewrite = (system: System, kind: "virtual-machine" | "oci-container", change: object) => {
		const path = recordPath(kind, system);
		writeRecord(path, { ...JSON.parse(readFileSync(path, "utf8")), ...change });
	};

	test("an ami.json naming an unrelated AMI of the account (untagged) is refused, and nothing is made public", async () => {
		seed({ amis: true });
		const secret = world.nextId("ami");
		world.images.set(secret, {
			id: secret,
			name: "company-secret-image",
			state: "available",
			creationDate: "2026-12-01T00:00:00.000Z",
			architecture: "x86_64",
			rootDeviceName: "/dev/xvda",
			blockDevices: [{ deviceName: "/dev/xvda", snapshotId: "snap-secret" }],
			tags: {},
			pollsUntilAvailable: 0,
			region: "us-east-1",
			public: false,
		});
		rewrite("x86_64-linux", "virtual-machine", { imageId: secret });
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			'outputs/main/virtual-machine/x86_64-linux/ami.json disagrees with AWS: AMI tag ManagedBy "nix-images" (AWS: (none)); AMI tag BuildId "1111111111111111" (AWS: (none)); AMI tag System "x86_64-linux" (AWS: (none)); imageName "nixos-26.05.20260616.567a49d-x86_64-linux-1111111111111111" (AWS: company-secret-image)',
		);
		expect(run.stderr).toContain(
			"publish it again (`bun task publish --system x86_64-linux`) and release. Nothing was released.",
		);
		expectNothingReleased();
	});

	test("an ami.json naming another account's AMI, or another build's, is refused", async () => {
		const amis = seed({ amis: true });
		const foreign = world.nextId("ami");
		world.images.set(foreign, {
			...(world.images.get(amis["x86_64-linux"] as string) as NonNullable<
				ReturnType<typeof world.images.get>
			>),
			id: foreign,
			owner: "210987654321",
		});
		rewrite("x86_64-linux", "virtual-machine", { imageId: foreign });
		const other = await release();
		expect(other.exitCode).toBe(1);
		expect(other.stderr).toContain(`imageId "${foreign}" (AWS: an AMI of another account)`);
		// The aarch64 build's genuine AMI under the x86_64 record.
		rewrite("x86_64-linux", "virtual-machine", { imageId: amis["aarch64-linux"] });
		const wrong = await release();
		expect(wrong.exitCode).toBe(1);
		expect(wrong.stderr).toContain(
			'AMI tag BuildId "1111111111111111" (AWS: 2222222222222222); AMI tag System "x86_64-linux" (AWS: aarch64-linux)',
		);
		expect(wrong.stderr).toContain('architecture "x86_64" (AWS: arm64)');
		expectNothingReleased();
	});

	test("an ami.json whose region, label or build id differ from what publish made is refused", async () => {
		seed({ amis: true });
		const original = amiRecord("x86_64-linux");
		for (const [change, expected] of [
			[{ region: "eu-west-1" }, 'region "eu-west-1" (AWS: AMIs are published in us-east-1)'],
			[
				{ label: "evil" },
				'imageName "nixos-evil-x86_64-linux-1111111111111111" (AWS: nixos-26.05.20260616.567a49d-x86_64-linux-1111111111111111)',
			],
			[
				{ buildId: "3333333333333333" },
				'buildId "3333333333333333" (AWS: publish derives it from sha256',
			],
		] as const) {
			writeRecord(recordPath("virtual-machine", "x86_64-linux"), { ...original, ...change });
			const run = await release();
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain(expected);
		}
		expectNothingReleased();
	});

	test("an AMI whose root snapshot is not this build's is refused", async () => {
		const amis = seed({ amis: true });
		const image = world.images.get(amis["x86_64-linux"] as string);
		const snapshot = world.snapshots.get(image?.blockDevices[0]?.snapshotId ?? "");
		if (snapshot) snapshot.tags.BuildId = "9999999999999999";
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('snapshot tag BuildId "1111111111111111" (AWS: 9999999999999999)');
		expectNothingReleased();
	});

	test("an AMI without the ImageSha256 tag (an older publish's) is refused, saying to deregister it and publish again; an ImageSha256 other than ami.json's sha256 is refused", async () => {
		const amis = seed({ amis: true });
		const imageId = amis["x86_64-linux"] as string;
		const image = world.images.get(imageId);
		delete image?.tags.ImageSha256;
		const untagged = await release();
		expect(untagged.exitCode).toBe(1);
		expect(untagged.stderr).toContain(
			`The AMI ${imageId} that outputs/main/virtual-machine/x86_64-linux/ami.json names has no ImageSha256 tag (a publish older than that tag registered it, and no role may add it to an existing AMI); deregister it (\`aws ec2 deregister-image --region us-east-1 --image-id ${imageId}\`), publish again (\`bun task publish --system x86_64-linux\`) and release. Nothing was released.`,
		);
		// The tag, not the record, is believed: a record claiming another digest of the same build id…
		if (image) image.tags.ImageSha256 = "1".repeat(64);
		const claimed = `${"1".repeat(16)}${"a".repeat(48)}`;
		rewrite("x86_64-linux", "virtual-machine", { sha256: claimed });
		const record = await release();
		expect(record.exitCode).toBe(1);
		expect(record.stderr).toContain(`AMI tag ImageSha256 "${claimed}" (AWS: ${"1".repeat(64)})`);
		// …and an AMI tagged with another digest than the record's.
		rewrite("x86_64-linux", "virtual-machine", { sha256: "1".repeat(64) });
		if (image) image.tags.ImageSha256 = "9".repeat(64);
		const tagged = await release();
		expect(tagged.exitCode).toBe(1);
		expect(tagged.stderr).toContain(
			`AMI tag ImageSha256 "${"1".repeat(64)}" (AWS: ${"9".repeat(64)})`,
		);
		expect(tagged.stderr).toContain("publish it again (`bun task publish --system x86_64-linux`)");
		expectNothingReleased();
	});

	test("release.json and the page say what AWS says, not what the record adds", async () => {
		seed({ amis: true });
		rewrite("x86_64-linux", "virtual-machine", {
			deprecateAt: "never",
			registered: { evil: true },
		});
		const run = await release(["--no-smoke-test"]);
		expect(run.exitCode).toBe(0);
		const manifest = manifestOf();
		expect(manifest.amis["x86_64-linux"]).toMatchObject({
			buildId: "1111111111111111",
			label: LABEL,
			builtAt: "2026-12-01T00:00:00.000Z",
			sourceImage: { region: "us-east-1", name: `nixos-${LABEL}-x86_64-linux-1111111111111111` },
		});
		expect(manifest.regions).toEqual(["us-east-1", "eu-west-1"]);
		expect(JSON.stringify(manifest)).not.toContain("evil");
	});

	test("a container.json with another image's digest, a wrong architecture or another registry is refused, and no other host is contacted", async () => {
		seed({ containers: true });
		const contacted: string[] = [];
		const elsewhere = Bun.listen({
			hostname: "127.0.0.1",
			port: 0,
			socket: {
				open: (socket) => {
					contacted.push("connection");
					socket.end();
				},
				data: () => {},
			},
		});
		try {
			const original = JSON.parse(
				readFileSync(recordPath("oci-container", "x86_64-linux"), "utf8"),
			);
			for (const [change, expected] of [
				[
					{ digest: pushed.arm64?.digest },
					`buildId "${original.buildId}" (the registry: publish derives ${buildIdOf(pushed.arm64?.digest ?? "")} from the digest)`,
				],
				[
					{
						digest: pushed.arm64?.digest,
						buildId: buildIdOf(pushed.arm64?.digest ?? ""),
						tag: containerTag(NIX_VERSION, buildIdOf(pushed.arm64?.digest ?? ""), "amd64"),
					},
					`(the registry: ${registry.host}/alias/nix:${containerTag(NIX_VERSION, buildIdOf(pushed.arm64?.digest ?? ""), "amd64")} serves nothing)`,
				],
				[{ architecture: "arm64" }, 'architecture "arm64" (the registry: x86_64-linux is amd64)'],
				[
					{ repositoryUri: `127.0.0.1:${elsewhere.port}/alias/nix` },
					`repositoryUri "127.0.0.1:${elsewhere.port}/alias/nix" (the registry: the stack's repository is ${registry.host}/alias/nix)`,
				],
			] as const) {
				writeRecord(recordPath("oci-container", "x86_64-linux"), { ...original, ...change });
				const run = await release();
				expect(run.exitCode).toBe(1);
				expect(run.stderr).toContain(
					"outputs/main/oci-container/x86_64-linux/container.json disagrees with the registry:",
				);
				expect(run.stderr).toContain(expected);
			}
			expect(contacted).toEqual([]);
			expectNothingReleased();
		} finally {
			elsewhere.stop(true);
		}
	});

	test("an image whose configuration is another platform's is refused", async () => {
		seed({ containers: true });
		// The arm64 image under a tag named for amd64, recorded as amd64.
		const arm = pushed.arm64 as NonNullable<typeof pushed.arm64>;
		const tag = containerTag(NIX_VERSION, buildIdOf(arm.digest), "amd64");
		const copy = Bun.spawnSync(
			[
				"skopeo",
				"copy",
				"--preserve-digests",
				"--src-authfile",
				registry.authFile,
				"--dest-authfile",
				registry.authFile,
				`docker://${registry.host}/alias/nix@${arm.digest}`,
				`docker://${registry.host}/alias/nix:${tag}`,
			],
			{ env: { ...process.env, ...registry.env }, stderr: "pipe" },
		);
		expect(copy.exitCode).toBe(0);
		rewrite("x86_64-linux", "oci-container", {
			digest: arm.digest,
			buildId: buildIdOf(arm.digest),
			tag,
		});
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`platform "linux/amd64" (the registry: the image's configuration says linux/arm64)`,
		);
		expectNothingReleased();
	});

	/** A release users get now: the SSM parameter in us-east-1 names a copy of a newer build's AMI. */
	function releasedBuild(system: System, build: string, createdAt: string): string {
		const source = world.nextId("ami");
		world.images.set(source, {
			id: source,
			name: `nixos-${LABEL}-${system}-${build}`,
			state: "available",
			creationDate: createdAt,
			architecture: SYSTEMS[system].ec2,
			rootDeviceName: "/dev/xvda",
			blockDevices: [],
			tags: { ManagedBy: "nix-images", BuildId: build, System: system },
			pollsUntilAvailable: 0,
			region: "us-east-1",
			public: false,
		});
		const copy = world.nextId("ami");
		world.images.set(copy, {
			...(world.images.get(source) as NonNullable<ReturnType<typeof world.images.get>>),
			id: copy,
			creationDate: new Date().toISOString(),
			tags: { ManagedBy: "nix-images" },
			public: true,
			sourceImageId: source,
			sourceImageRegion: "us-east-1",
		});
		putParameter(
			world,
			"us-east-1",
			`/nix-images/Production/nixos/${system}/latest`,
			copy,
			"aws:ec2:image",
		);
		return copy;
	}

	test("an older genuine build than the released one is refused unless --allow-older (from the SSM parameter)", async () => {
		seed({ amis: true });
		const copy = releasedBuild("x86_64-linux", "4444444444444444", "2026-12-02T00:00:00.000Z");
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"x86_64-linux build 1111111111111111 (published 2026-12-01T00:00:00.000Z) is older than the released build 4444444444444444 (published 2026-12-02T00:00:00.000Z): releasing it would move users back to it; publish a newer build, or release it anyway with --allow-older. Nothing was released.",
		);
		expectNothingReleased([copy]);
		const allowed = await release(["--allow-older", "--no-smoke-test"]);
		expect(allowed.exitCode).toBe(0);
		expect(allowed.stderr).toContain("releasing older builds (--allow-older)");
	});

	test("an older build than the current release.json's is refused too, and the same build is not", async () => {
		seed({ amis: true });
		expect((await release(["--no-smoke-test"])).exitCode).toBe(0);
		// The same builds again: a re-run, not an older build.
		expect((await release(["--no-smoke-test"])).exitCode).toBe(0);
		const current = manifestOf();
		current.amis["x86_64-linux"].buildId = "5555555555555555";
		current.amis["x86_64-linux"].builtAt = "2027-01-01T00:00:00.000Z";
		writeFileSync(releaseJson, JSON.stringify(current));
		const run = await release(["--no-smoke-test"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain("is older than the released build 5555555555555555");
	});
});

describe("release, as unkind as AWS", () => {
	beforeEach(freshRelease);

	test("Ctrl-C while a new instance is still invisible to EC2: termination waits for it instead of taking NotFound for gone", async () => {
		seed({ amis: true });
		world.bootPolls = 10_000;
		world.unkind.clockSpeed = 10;
		world.unkind.instanceInvisibleMs = 20_000; // 2 s here
		// Both launches answered (a look at each instance's console follows): then Ctrl-C.
		const watched = new Set<string>();
		const bothWatched = new Promise<void>((resolve) => {
			standIn.hooks.set("GetConsoleOutput", (request) => {
				watched.add(request.params.get("InstanceId") ?? "");
				if (watched.size === 2) resolve();
				return undefined;
			});
		});
		const child = spawnRelease();
		await bothWatched;
		child.kill("SIGINT");
		expect(await child.exited).toBe(130);
		const instances = [...world.instances.values()];
		expect(instances.length).toBe(2);
		expect(instances.map((instance) => instance.state)).toEqual(instances.map(() => "terminated"));
	}, 60_000);

	test("a FAILED that lingers after RetryImage is followed until the retry ends", async () => {
		const amis = seed({ amis: true });
		world.failNextDistribution = "a failure to retry";
		world.unkind.failedPollsAfterRetry = 3;
		const run = await release(["--no-smoke-test"]);
		expect(run.stderr).not.toContain("✗");
		expect(run.exitCode).toBe(0);
		expect(Object.keys(manifestOf().amis)).toEqual(Object.keys(amis));
	}, 60_000);

	test("without a default VPC the smoke test says so before anything is launched; the smokeTestSubnet output is used, in a zone that offers the type", async () => {
		seed({ amis: true });
		world.unkind.defaultVpc = false;
		const refused = await release();
		expect(refused.exitCode).toBe(1);
		expect(refused.stderr).toContain(
			"The smoke test launches its instances in us-east-1's default VPC, and this account has none there; set the smokeTestSubnet setting to a subnet of us-east-1",
		);
		expect(standIn.calls).not.toContain("ec2:RunInstances");
		expect(standIn.calls).not.toContain("imagebuilder:DistributeImage");
		// A subnet of its own, in the zone that has t4g (us-east-1e has only t3).
		const subnetA = `subnet-${Buffer.from("us-east-1a").toString("hex").slice(-8)}`;
		const subnetE = `subnet-${Buffer.from("us-east-1e").toString("hex").slice(-8)}`;
		const outputs = world.stacks.get("Production")?.outputs ?? {};
		outputs.SmokeTestSubnet = subnetE;
		const wrongZone = await release();
		expect(wrongZone.exitCode).toBe(1);
		expect(wrongZone.stderr).toContain("is in an availability zone that offers t4g.nano");
		outputs.SmokeTestSubnet = subnetA;
		const run = await release();
		expect(run.exitCode).toBe(0);
		expect([...world.instances.values()].map((i) => i.subnetId)).toEqual([subnetA, subnetA]);
	}, 60_000);

	test("every regional copy is deprecated when its source is, capped at 2 years for public copies", async () => {
		const amis = seed({ amis: true });
		const source = world.images.get(amis["x86_64-linux"] as string);
		if (source) source.deprecationTime = "2027-03-01T00:00:00.000Z";
		const arm = world.images.get(amis["aarch64-linux"] as string);
		if (arm) arm.deprecationTime = new Date(Date.now() + 5 * 365 * 86_400_000).toISOString();
		expect((await release(["--no-smoke-test"])).exitCode).toBe(0);
		const copies = manifestOf().amis["x86_64-linux"].regions as Record<string, string>;
		for (const copy of Object.values(copies)) {
			expect(world.images.get(copy)?.deprecationTime).toBe("2027-03-01T00:00:00.000Z");
		}
		// A source deprecated later than AWS allows a public copy (or not at all): the copy's cap.
		const armCopies = manifestOf().amis["aarch64-linux"].regions as Record<string, string>;
		for (const copy of Object.values(armCopies)) {
			const image = world.images.get(copy);
			const ahead =
				Date.parse(image?.deprecationTime ?? "") - Date.parse(image?.creationDate ?? "");
			expect(ahead).toBeLessThanOrEqual(730 * 86_400_000);
			expect(ahead).toBeGreaterThan(730 * 86_400_000 - 60_000);
		}
	}, 60_000);
});

describe("release: file-system faults are one sentence, and nothing is half-written", () => {
	beforeEach(freshRelease);
	const pageDir = () => join(project.dir, "outputs/main/release");

	/** One sentence, no stack, and release.json (written last) not written. */
	function expectOneSentence(run: Awaited<ReturnType<typeof release>>, sentence: string) {
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(sentence);
		expect(run.stderr).not.toContain("this is a bug");
		expect(run.stderr).not.toContain("    at ");
		expect(existsSync(releaseJson)).toBe(false);
	}

	test("a full disk and a read-only one where the site goes (its first file is an SBOM)", async () => {
		seed({ amis: true });
		mkdirSync(pageDir(), { recursive: true });
		const disk = tmpfs(pageDir(), "4k");
		try {
			// More than a tmpfs page of filler: room for nothing else.
			writeFileSync(join(pageDir(), "filler"), Buffer.alloc(4096));
			const full = await release(["--no-smoke-test"]);
			expectOneSentence(full, "No space is left for outputs/main/release/sbom/");
			expect(full.stderr).toContain(
				"(ENOSPC); free some (`bun task clean`, `nix-collect-garbage`) and run the task again.",
			);
			rmSync(join(pageDir(), "filler"));
			disk.remount("ro");
			const readOnly = await release(["--no-smoke-test"]);
			disk.remount("rw");
			expectOneSentence(readOnly, "outputs/main/release/sbom");
			expect(readOnly.stderr).toContain("is on a read-only file system; make it writable");
		} finally {
			disk.dispose();
		}
	}, 60_000);

	test("a directory it may not write (immutable, so even root may not)", async () => {
		seed({ amis: true });
		mkdirSync(pageDir(), { recursive: true });
		const chattr = Bun.spawnSync(["chattr", "+i", pageDir()], { stderr: "pipe" });
		if (chattr.exitCode !== 0) {
			throw new Error(
				`This test needs chattr on an ext2/3/4 TMPDIR (apt-get install e2fsprogs): ${chattr.stderr}`,
			);
		}
		try {
			const run = await release(["--no-smoke-test"]);
			expectOneSentence(run, "Writing outputs/main/release/sbom is not permitted (EPERM)");
			expect(run.stderr).toContain("is not permitted (EPERM); give this user write access to it");
		} finally {
			Bun.spawnSync(["chattr", "-i", pageDir()]);
		}
	});

	test("a TMPDIR that is missing, or not valid UTF-8, before the registry is logged in to", async () => {
		seed({ containers: true });
		const missing = await release([], { TMPDIR: join(work, "no-such-directory") });
		expectOneSentence(
			missing,
			`TMPDIR ${join(work, "no-such-directory")} does not exist; set TMPDIR to an existing, writable directory (or unset it to use /tmp) and run the task again.`,
		);
		// A byte that is no UTF-8 (0xff), which only a shell can put into an environment.
		const child = Bun.spawn(
			["bash", "-c", `TMPDIR=$'${work}/\\xff' exec "$0" task release`, process.execPath],
			{ cwd: project.dir, env: cleanEnv(env()), stdout: "pipe", stderr: "pipe" },
		);
		const [stderr, exitCode] = await Promise.all([new Response(child.stderr).text(), child.exited]);
		expectOneSentence(
			{ exitCode, stderr, stdout: "" },
			"TMPDIR is not valid UTF-8; set TMPDIR to an existing, writable directory (or unset it to use /tmp) and run the task again.",
		);
		expect(indexAt("latest")).toBeUndefined();
	});
});

describe("release refuses, in one sentence, before anything changes", () => {
	beforeEach(freshRelease);

	test("with nothing published, naming publish", async () => {
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"Nothing is published yet: no outputs/main/virtual-machine/*/ami.json or outputs/main/oci-container/*/container.json; run `bun task publish` on each system's machine first (in CI, download their results here).",
		);
		expect(standIn.calls).toEqual([]);
	});

	test("with EBS encryption by default on in a target region, naming it and how to turn it off", async () => {
		seed({ amis: true });
		world.encryptedByDefaultIn.add("eu-west-1");
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"EBS encryption by default is on in eu-west-1, which would encrypt the copies (`aws ec2 disable-ebs-encryption-by-default --region <region>`)",
		);
		expect(world.instances.size).toBe(0);
		expect(standIn.calls).not.toContain("imagebuilder:DistributeImage");
	});

	test("with image block public access on in a target region, naming it and how to turn it off", async () => {
		seed({ amis: true });
		world.blockPublicAccess.add("eu-west-1");
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"The AMIs cannot be made public everywhere: image block public access is on in eu-west-1 (`aws ec2 disable-image-block-public-access --region <region>`",
		);
		expect(world.instances.size).toBe(0);
		expect(standIn.calls).not.toContain("imagebuilder:DistributeImage");
	});

	test("with an AMI a record names that no longer exists, naming the record and how to publish it again", async () => {
		const amis = seed({ amis: true });
		world.images.delete(amis["x86_64-linux"] as string);
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`✗ Task "release" failed: The AMI ${amis["x86_64-linux"]} that outputs/main/virtual-machine/x86_64-linux/ami.json names is gone; publish it again (\`bun task publish --system x86_64-linux\`) and release.`,
		);
		expect(run.stderr).not.toContain("this is a bug");
		expect(world.instances.size).toBe(0);
	});

	test.each([
		["missing", () => undefined, "is missing: the release carries every image's SBOM"],
		[
			"of another build",
			(path: string) => writeFileSync(path, sbomText("virtual-machine", "ee".repeat(32))),
			`describes sha256:${"ee".repeat(32)}, not the released disk image sha256:`,
		],
		[
			"not CycloneDX",
			(path: string) => writeFileSync(path, JSON.stringify({ bomFormat: "CycloneDX" })),
			"is not valid CycloneDX 1.6 (",
		],
	] as const)(
		"with an SBOM that is %s, naming it and how to make it again",
		async (_kind, spoil, says) => {
			seed();
			const path = join(project.dir, "outputs/main/virtual-machine/aarch64-linux/sbom.cdx.json");
			rmSync(path);
			spoil(path);
			const run = await release();
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain(
				`outputs/main/virtual-machine/aarch64-linux/sbom.cdx.json ${says}`,
			);
			expect(run.stderr).toContain(
				"make it again where the image was built (`bun task sbom --system aarch64-linux`; in CI the images job uploads it with the records) and release again. Nothing was released.",
			);
			expect(world.instances.size).toBe(0);
			expect(standIn.calls).not.toContain("imagebuilder:DistributeImage");
			expect(indexAt("latest")).toBeUndefined();
		},
	);

	test("with a container's SBOM that describes another image", async () => {
		seed();
		const other = pushed.arm64;
		writeFileSync(
			join(project.dir, "outputs/main/oci-container/x86_64-linux/sbom.cdx.json"),
			sbomText("oci-container", String(other?.digest).replace("sha256:", "")),
		);
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`outputs/main/oci-container/x86_64-linux/sbom.cdx.json describes ${other?.digest}, not the released container image`,
		);
		expect(standIn.calls).not.toContain("imagebuilder:DistributeImage");
	});

	test("with a record publish did not write", async () => {
		seed({ amis: true });
		writeRecord(recordPath("virtual-machine", "aarch64-linux"), { system: "aarch64-linux" });
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"outputs/main/virtual-machine/aarch64-linux/ami.json is not a record publish wrote for aarch64-linux (no buildId, label, region, imageId, imageName); run `bun task publish --system aarch64-linux` again.",
		);
		expect(standIn.calls).toEqual([]);
	});

	test("with a bad --smoke-test-timeout", async () => {
		seed({ amis: true });
		const run = await release(["--smoke-test-timeout", "ten"]);
		expect(run.exitCode).toBe(2);
		expect(run.stderr).toContain(
			'--smoke-test-timeout must be seconds or minutes such as 90s or 10m, at most 60m, not "ten".',
		);
		expect(standIn.calls).toEqual([]);
	});

	test("without podman for the containers, saying how to get it", async () => {
		seed({ containers: true });
		const noPodman = pathWithout(["podman"]);
		const run = await release([], { PATH: noPodman.path });
		noPodman.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"`podman` is not on PATH; enter the dev shell (`nix develop`), or install podman (`apt-get install podman` on Debian and Ubuntu; GitHub's runners have it).",
		);
		expect(standIn.calls).toEqual([]);
	});

	test("with container images of different Nix versions", async () => {
		seed({ amis: true, containers: true });
		const path = recordPath("oci-container", "aarch64-linux");
		writeRecord(path, { ...JSON.parse(readFileSync(path, "utf8")), nixVersion: "2.32.0" });
		const run = await release();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`The container images were published to ${registry.host}/alias/nix with Nix 2.31.2 and 2.32.0; release joins images of one build of one repository: publish every system's image from the same commit and release again.`,
		);
		expect(standIn.calls).toEqual([]);
	});
});

describe("release carries the SBOMs", () => {
	beforeEach(freshRelease);

	test("each image's SBOM goes into the site and release.json with its SHA-256 and subject; each system's AMI statement predicate beside them; the page lists them", async () => {
		seed();
		const site = join(project.dir, "outputs/main/release");
		// A file of an earlier release that this one does not carry goes.
		mkdirSync(join(site, "sbom/riscv64-linux"), { recursive: true });
		writeFileSync(join(site, "sbom/riscv64-linux/oci-container.cdx.json"), "{}");
		const run = await release();
		expect(run.exitCode).toBe(0);
		const manifest = manifestOf();
		const expected = (Object.keys(SYSTEMS) as System[]).sort().flatMap((system) => [
			{
				system,
				image: "oci-container",
				subject: manifest.containers.images[SYSTEMS[system].architecture].digest,
			},
			{
				system,
				image: "virtual-machine",
				subject: `sha256:${SYSTEMS[system].build.repeat(4)}`,
			},
		]);
		expect(
			manifest.sboms.map(({ system, image, subject }: Record<string, string>) => ({
				system,
				image,
				subject,
			})),
		).toEqual(expected);
		for (const sbom of manifest.sboms) {
			const file = join(site, sbom.path);
			expect(sbom.path).toBe(`sbom/${sbom.system}/${sbom.image}.cdx.json`);
			const text = readFileSync(file, "utf8");
			expect(new Bun.CryptoHasher("sha256").update(text).digest("hex")).toBe(sbom.sha256);
			// Byte for byte what the build left.
			expect(text).toBe(
				readFileSync(
					join(project.dir, "outputs/main", sbom.image, sbom.system, "sbom.cdx.json"),
					"utf8",
				),
			);
		}
		expect(existsSync(join(site, "sbom/riscv64-linux/oci-container.cdx.json"))).toBe(false);
		for (const system of Object.keys(SYSTEMS) as System[]) {
			const release = manifest.amis[system];
			expect(release.imageSha256).toBe(SYSTEMS[system].build.repeat(4));
			expect(release.snapshotId).toMatch(/^snap-/);
			const predicate = JSON.parse(
				readFileSync(join(site, `provenance/${system}.ami-predicate.json`), "utf8"),
			);
			// What the statement signs is what release.json says (parsed back as verify does).
			const parsed = parseAmiStatement({
				_type: "https://in-toto.io/Statement/v1",
				subject: [{ name: "nixos.img", digest: { sha256: release.imageSha256 } }],
				predicateType: AMI_PREDICATE_TYPE,
				predicate,
			});
			expect(parsed.ok).toBe(true);
			expect(predicate).toMatchObject({
				system,
				buildId: release.buildId,
				snapshotId: release.snapshotId,
				sourceImage: { region: "us-east-1", imageId: release.sourceImage.imageId },
				regions: release.regions,
			});
		}
		const page = readFileSync(join(site, "index.html"), "utf8");
		for (const sbom of manifest.sboms) {
			expect(page).toContain(`href="${sbom.path}"`);
			expect(page).toContain(`sha256:${sbom.sha256}`);
		}
		expect(page).toContain('href="vulnerabilities/report.txt"');
		// release-page renders the same page from release.json alone.
		const again = await bunTask(["release-page"], { cwd: project.dir, env: env() });
		expect(again.exitCode).toBe(0);
		expect(readFileSync(join(site, "index.html"), "utf8")).toBe(page);
	});
});

describe("a SIGKILL between any two steps, then a re-run", () => {
	beforeEach(freshRelease);
	/** Each AWS step, killed after AWS did its work and before its answer arrived. */
	const awsSteps: [operation: string, arrival: number][] = [
		["DescribeStacks", 1],
		["GetImageBlockPublicAccessState", 2],
		["DescribeImages", 1],
		["RunInstances", 1],
		["RunInstances", 2],
		["GetConsoleOutput", 1],
		["CreateTags", 1],
		["TerminateInstances", 1],
		["DistributeImage", 1],
		["DistributeImage", 2],
		["CreateTags", 3],
		["CreateTags", 5],
		["GetImage", 1],
		["GetImage", 4],
		["RetryImage", 1],
	];
	test.each(awsSteps)(
		"after %s (call %d): one distribution per system, no instance left running, the release complete",
		async (operation, arrival) => {
			const amis = seed();
			world.failNextDistribution = "a transient failure";
			expect(await crashAfter(standIn, spawnRelease(), operation, arrival)).toBe(137);
			expect(existsSync(releaseJson)).toBe(false);
			const rerun = await release();
			expect(rerun.exitCode).toBe(0);
			expectOneReleaseOfEach(amis);
			expect(authDirectoriesLeft()).toEqual([]);
		},
		60_000,
	);

	test("killed between the distribution and tagging the copies, or after the first copy's tag, the re-run tags every copy, each once", async () => {
		const isCopy = (id: string | null) => world.images.get(id ?? "")?.sourceImageId !== undefined;
		const digestTaggings = () =>
			world.taggings.filter((tagging) => tagging.requestTags.ImageSha256 !== undefined);
		// The copies read before any is tagged: the distribution is done, no copy tagged yet.
		const amis = seed();
		const child = spawnRelease();
		standIn.hooks.set("DescribeImages", ({ params }) => {
			if (!isCopy(params.get("ImageId.1"))) return undefined;
			child.kill("SIGKILL");
			return "drop";
		});
		expect(await child.exited).toBe(137);
		standIn.hooks.clear();
		expect(world.imageBuilderImages.size).toBeGreaterThan(0);
		expect(digestTaggings()).toEqual([]);
		expect((await release()).exitCode).toBe(0);
		expectOneReleaseOfEach(amis);
		const copies = Object.values(manifestOf().amis).flatMap((system) =>
			Object.values((system as { regions: Record<string, string> }).regions),
		);
		expect(
			digestTaggings()
				.map((t) => t.resource.split("/")[1])
				.sort(),
		).toEqual(copies.sort());

		// The first copy's tag put, its answer lost in the crash: the re-run sees it and puts it again nowhere.
		await freshRelease();
		const again = seed();
		const second = spawnRelease();
		standIn.hooks.set("CreateTags", ({ params }) => {
			if (params.get("Tag.1.Key") !== "ImageSha256") return undefined;
			second.kill("SIGKILL");
			return "drop";
		});
		expect(await second.exited).toBe(137);
		standIn.hooks.clear();
		const before = digestTaggings().map((t) => t.resource);
		expect(before.length).toBeGreaterThan(0);
		expect((await release()).exitCode).toBe(0);
		expectOneReleaseOfEach(again);
		const resources = digestTaggings().map((t) => t.resource);
		expect(new Set(resources).size).toBe(resources.length);
		expect(resources).toHaveLength(4);
		for (const resource of before) expect(resources).toContain(resource);
	}, 120_000);

	/** Each registry step: the runner is killed while a spy holds the step. */
	const registrySteps: [step: string, env: Record<string, string>][] = [
		["after the index was pushed", { PAUSE_AFTER_INDEX: "1" }],
		["before the first moving tag", { PAUSE_AT_MOVE: "1" }],
		["between the moving tags", { PAUSE_AT_MOVE: "2" }],
		["after the last moving tag, before release.json", { PAUSE_AFTER_MOVE: "2" }],
	];
	test.each(registrySteps)(
		"%s: the re-run moves the tags and writes release.json",
		async (_step, pauseAt) => {
			const amis = seed();
			const child = spawnRelease([], pauseAt);
			const paused = await waitForPause(spy);
			child.kill("SIGKILL");
			expect(await child.exited).toBe(137);
			process.kill(paused, "SIGKILL");
			expect(existsSync(releaseJson)).toBe(false);
			rmSync(join(spy, "moves"), { force: true });
			const rerun = await release();
			expect(rerun.exitCode).toBe(0);
			expectOneReleaseOfEach(amis);
		},
		60_000,
	);
});

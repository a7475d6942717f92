/**
 * `bun task verify` end to end: a release made by `bun task release` against
 * the loopback stand-in and a real registry, then each kind of drift a
 * platform team meets (a copy gone, made private, deprecated, booting
 * otherwise; an SSM parameter moved, missing or unexpected; a moving tag
 * moved; an index without a platform; a snapshot block changed; a region
 * that does not answer), each found and named with its exit code, and put
 * back before the next test.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BLOCK_SIZE } from "../infra/publish/blocks.ts";
import { snapshotContent } from "../infra/publish/snapshot-content.ts";
import { seedBuild, seededRelease } from "./aws/seed.ts";
import { parametersIn, putParameter } from "./aws/ssm.ts";
import { AwsError, type StandIn } from "./aws/stand-in.ts";
import type { World } from "./aws/world.ts";
import { attestSite } from "./fixtures/sigstore/attest-site.ts";
import { type MockSigstore, startMockSigstore } from "./fixtures/sigstore/mock-sigstore.ts";
import { bunTask, NO_AWS, projectCopy, requireTool, tempDir } from "./helpers.ts";
import { type Registry, startRegistry } from "./registry.ts";
import {
	liveScene,
	pushImages,
	recordPath,
	releaseAccount,
	SYSTEMS,
	type System,
	seed,
} from "./release-scene.ts";

requireTool("skopeo", "apt-get install skopeo");
requireTool("podman", "apt-get install podman");

const project = projectCopy();
const work = tempDir("verify");
/** Short and this file's own (podman refuses a long run root; /tmp is shared with other suites). */
const childTmp = mkdtempSync("/tmp/nv-");
const releaseJson = join(project.dir, "outputs/main/release.json");
let registry: Registry;
let world: World;
let standIn: StandIn;
const scene = liveScene({ world: () => world, registry: () => registry }, project.dir, work);
/** The blocks of the x86-64 source snapshot, with data, that --deep reads back. */
const BLOCKS = [0, 1, 5];
const PARAMETER = (system: System) => `/nix-images/Production/nixos/${system}/latest`;

function env() {
	return { ...NO_AWS, ...standIn.env, ...registry.env, TMPDIR: childTmp };
}

/** verify with a short consistency window unless the test says otherwise: drift does not heal. */
function verify(args: string[] = [], retryFor = "1s") {
	return bunTask(["verify", "--retry-for", retryFor, ...args], { cwd: project.dir, env: env() });
}

const manifest = () => JSON.parse(readFileSync(releaseJson, "utf8"));
const copyOf = (system: System, region: string): string => manifest().amis[system].regions[region];
const sourceOf = (system: System): string => manifest().amis[system].sourceImage.imageId;

/** Changes `world` for one test and puts it back however the test ends. */
async function withDrift(change: () => () => void, check: () => Promise<unknown>) {
	const undo = change();
	try {
		await check();
	} finally {
		undo();
	}
}

/** An image field changed for one test. */
function imageDrift(imageId: string, field: string, value: unknown): () => () => void {
	return () => {
		const image = world.images.get(imageId) as unknown as Record<string, unknown>;
		const before = image[field];
		image[field] = value;
		return () => {
			image[field] = before;
		};
	};
}

/** The registry's API, as a client with the login pushes to it. */
async function putManifest(tag: string, body: string, mediaType: string): Promise<string> {
	const response = await fetch(`https://${registry.host}/v2/alias/nix/manifests/${tag}`, {
		method: "PUT",
		headers: {
			"content-type": mediaType,
			authorization: `Basic ${Buffer.from(`AWS:${registry.password}`).toString("base64")}`,
		},
		body,
		tls: { ca: readFileSync(registry.cert, "utf8") },
	});
	if (!response.ok) throw new Error(`PUT ${tag}: ${response.status} ${await response.text()}`);
	return response.headers.get("docker-content-digest") ?? "";
}

/**
 * Each source snapshot with real blocks and their content in ami.json (as
 * publish records it), and the x86-64 one's bytes as a local nixos.img.
 */
function seedSnapshotContents() {
	for (const system of Object.keys(SYSTEMS) as System[]) {
		const path = recordPath(project.dir, "virtual-machine", system);
		const record = JSON.parse(readFileSync(path, "utf8"));
		const snapshot = world.snapshots.get(record.snapshotId);
		if (snapshot === undefined) throw new Error(`no source snapshot for ${system}`);
		const image = Buffer.alloc((Math.max(...BLOCKS) + 1) * BLOCK_SIZE);
		const digests = new Map<number, Buffer>();
		for (const index of BLOCKS) {
			const block = randomBytes(BLOCK_SIZE);
			block.copy(image, index * BLOCK_SIZE);
			snapshot.blocks.set(index, block);
			digests.set(index, createHash("sha256").update(block).digest());
		}
		record.snapshotContent = snapshotContent(snapshot.volumeSize, digests);
		writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
		if (system === "x86_64-linux") {
			const dir = join(project.dir, "outputs/main/virtual-machine", system);
			writeFileSync(join(dir, "nixos.img"), image);
			// The build's metadata: its SHA-256 gives the build id verify matches with the release's.
			writeFileSync(join(dir, "image-info.json"), JSON.stringify({ sha256: record.sha256 }));
		}
	}
}

beforeAll(async () => {
	registry = await startRegistry();
	({ world, standIn } = await releaseAccount(registry));
	pushImages(scene);
	seed(scene);
	seedSnapshotContents();
	const released = await bunTask(["release", "--no-smoke-test"], { cwd: project.dir, env: env() });
	if (released.exitCode !== 0) throw new Error(`release failed: ${released.stderr}`);
}, 120_000);
afterAll(async () => {
	await standIn?.stop();
	await registry?.stop();
	project.dispose();
	rmSync(work, { recursive: true, force: true });
	rmSync(childTmp, { recursive: true, force: true });
});

describe("verify a clean release", () => {
	test("every check holds: a ✓ per system × region and for the container, exit 0, and each region looked at once", async () => {
		const run = await verify([], "60s");
		if (run.exitCode !== 0) console.log(run.stderr.slice(-600));
		expect(run.stdout).not.toContain("✗");
		expect(run.exitCode).toBe(0);
		for (const system of Object.keys(SYSTEMS)) {
			for (const region of ["us-east-1", "eu-west-1"]) {
				expect(run.stdout).toMatch(new RegExp(`${system}\\s+${region}\\s+✓`));
			}
		}
		expect(run.stdout).toMatch(/container\s+2\.31\.2-\w+, 2\.31\.2, latest\s+✓/);
		const json = await verify(["--json"], "60s");
		expect(json.exitCode).toBe(0);
		const report = JSON.parse(json.stdout);
		expect(report.ok).toBe(true);
		expect(report.movingTagsChecked).toBe(true);
		expect(report.regions.map((region: { looks: number }) => region.looks)).toEqual([1, 1]);
	}, 60_000);

	test("--deep reads the source snapshot back and matches what publish recorded and the local nixos.img", async () => {
		const run = await verify(["--deep"]);
		expect(run.exitCode).toBe(0);
		expect(run.stdout).toMatch(/x86_64-linux --deep\s+source snapshot \+ local nixos\.img\s+✓/);
		expect(run.stdout).toMatch(/aarch64-linux --deep\s+source snapshot\s+✓/);
	}, 60_000);

	test("--deep leaves a local nixos.img of another build alone, and says so", async () => {
		const info = join(project.dir, "outputs/main/virtual-machine/x86_64-linux/image-info.json");
		const original = readFileSync(info, "utf8");
		writeFileSync(info, JSON.stringify({ sha256: "9".repeat(64) }));
		try {
			const run = await verify(["--deep"]);
			expect(run.exitCode).toBe(0);
			expect(run.stdout).toMatch(
				/x86_64-linux --deep\s+source snapshot \(the local nixos\.img is build 9{16}, not 1{16}: not compared\)\s+✓/,
			);
		} finally {
			writeFileSync(info, original);
		}
	}, 60_000);
});

describe("verify names each kind of drift (exit 1)", () => {
	const expectMismatch = async (pattern: RegExp, args: string[] = []) => {
		const run = await verify(args);
		expect(run.exitCode).toBe(1);
		expect(run.stdout).toMatch(pattern);
		expect(run.stderr).toContain("differ from release.json");
		return run;
	};

	test("a copy missing in one region", async () => {
		await withDrift(
			() => {
				const id = copyOf("x86_64-linux", "eu-west-1");
				const image = world.images.get(id);
				world.images.delete(id);
				return () => world.images.set(id, image as NonNullable<typeof image>);
			},
			async () => {
				const run = await expectMismatch(
					/x86_64-linux\s+eu-west-1\s+✗ AMI ami-\w+ exists: expected an AMI of this account, is none/,
				);
				// The other region and system still hold.
				expect(run.stdout).toMatch(/x86_64-linux\s+us-east-1\s+✓/);
				expect(run.stdout).toMatch(/aarch64-linux\s+eu-west-1\s+✓/);
			},
		);
	}, 60_000);

	test("a copy made private, and one deprecated", async () => {
		await withDrift(imageDrift(copyOf("aarch64-linux", "us-east-1"), "public", false), () =>
			expectMismatch(/aarch64-linux\s+us-east-1\s+✗ AMI ami-\w+ public: expected true, is false/),
		);
		await withDrift(
			imageDrift(
				copyOf("x86_64-linux", "eu-west-1"),
				"deprecationTime",
				"2026-01-01T00:00:00.000Z",
			),
			() =>
				expectMismatch(
					/x86_64-linux\s+eu-west-1\s+✗ AMI ami-\w+ deprecation: expected a time in the future, is 2026-01-01/,
				),
		);
	}, 60_000);

	test("a wrong boot mode, and a root snapshot deleted", async () => {
		await withDrift(
			imageDrift(copyOf("x86_64-linux", "us-east-1"), "bootMode", "legacy-bios"),
			() =>
				expectMismatch(
					/x86_64-linux\s+us-east-1\s+✗ AMI ami-\w+ boot mode: expected uefi, is legacy-bios/,
				),
		);
		await withDrift(
			() => {
				const image = world.images.get(copyOf("aarch64-linux", "eu-west-1"));
				const id = image?.blockDevices[0]?.snapshotId ?? "";
				const snapshot = world.snapshots.get(id);
				world.snapshots.delete(id);
				return () => world.snapshots.set(id, snapshot as NonNullable<typeof snapshot>);
			},
			() =>
				expectMismatch(
					/aarch64-linux\s+eu-west-1\s+✗ snapshot snap-\w+ of ami-\w+ state: expected completed, is none \(deleted\)/,
				),
		);
	}, 60_000);

	test("an SSM parameter pointing at another AMI, and one missing", async () => {
		const parameters = () => parametersIn(world, "eu-west-1");
		await withDrift(
			() => {
				const before = parameters().get(PARAMETER("x86_64-linux"));
				putParameter(
					world,
					"eu-west-1",
					PARAMETER("x86_64-linux"),
					copyOf("aarch64-linux", "eu-west-1"),
					"aws:ec2:image",
				);
				return () =>
					parameters().set(PARAMETER("x86_64-linux"), before as NonNullable<typeof before>);
			},
			() =>
				expectMismatch(
					new RegExp(
						`x86_64-linux\\s+eu-west-1\\s+✗ SSM parameter ${PARAMETER("x86_64-linux")} value: expected ${copyOf("x86_64-linux", "eu-west-1")}, is ${copyOf("aarch64-linux", "eu-west-1")}`,
					),
				),
		);
		await withDrift(
			() => {
				const before = parameters().get(PARAMETER("aarch64-linux"));
				parameters().delete(PARAMETER("aarch64-linux"));
				return () =>
					parameters().set(PARAMETER("aarch64-linux"), before as NonNullable<typeof before>);
			},
			() =>
				expectMismatch(
					/aarch64-linux\s+eu-west-1\s+✗ SSM parameter \S+ value: expected ami-\w+, is none \(missing\)/,
				),
		);
	}, 60_000);

	test("an unexpected parameter under the stack's path", async () => {
		await withDrift(
			() => {
				putParameter(
					world,
					"us-east-1",
					"/nix-images/Production/nixos/riscv64-linux/latest",
					"ami-0",
					"text",
				);
				return () =>
					parametersIn(world, "us-east-1").delete(
						"/nix-images/Production/nixos/riscv64-linux/latest",
					);
			},
			() =>
				expectMismatch(
					/\(region\)\s+us-east-1\s+✗ SSM parameter \/nix-images\/Production\/nixos\/riscv64-linux\/latest declared by the stack: expected no such parameter/,
				),
		);
	}, 60_000);

	test("a moving tag moved to another digest", async () => {
		const amd64 = scene.pushed.amd64?.digest ?? "";
		const index = manifest().containers.indexDigest;
		const retag = (digest: string) => {
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
					`docker://${registry.host}/alias/nix:latest`,
				],
				{ env: { ...process.env, ...registry.env }, stderr: "pipe" },
			);
			if (copy.exitCode !== 0) throw new Error(copy.stderr.toString());
		};
		retag(amd64);
		try {
			await expectMismatch(
				new RegExp(
					`container\\s+.*latest\\s+✗ container tag latest digest: expected ${index}, is ${amd64}`,
				),
			);
		} finally {
			retag(index);
		}
	}, 60_000);

	test("an index without one of the recorded platforms", async () => {
		const original = readFileSync(releaseJson, "utf8");
		const amd64 = scene.pushed.amd64;
		const partial = JSON.stringify({
			schemaVersion: 2,
			mediaType: "application/vnd.oci.image.index.v1+json",
			manifests: [
				{
					mediaType: "application/vnd.docker.distribution.manifest.v2+json",
					digest: amd64?.digest,
					size: amd64?.size,
					platform: { os: "linux", architecture: "amd64" },
				},
			],
		});
		const digest = await putManifest("partial", partial, "application/vnd.oci.image.index.v1+json");
		const changed = JSON.parse(original);
		changed.containers.indexDigest = digest;
		writeFileSync(releaseJson, JSON.stringify(changed));
		try {
			await expectMismatch(
				/✗ container index sha256:\w+ platform linux\/arm64: expected sha256:\w+, is none \(not in the index\)/,
			);
		} finally {
			writeFileSync(releaseJson, original);
		}
	}, 60_000);

	test("--deep: one block of the source snapshot changed", async () => {
		await withDrift(
			() => {
				const snapshot = world.snapshots.get(
					world.images.get(sourceOf("x86_64-linux"))?.blockDevices[0]?.snapshotId ?? "",
				);
				const block = snapshot?.blocks.get(5) as Buffer;
				const before = Buffer.from(block);
				block[100] = (block[100] ?? 0) ^ 0xff;
				return () => before.copy(block);
			},
			async () => {
				const run = await expectMismatch(
					/x86_64-linux --deep\s+source snapshot \+ local nixos\.img\s+✗ snapshot snap-\w+ read back LINEAR checksum: expected \S+, is \S+/,
					["--deep"],
				);
				expect(run.stdout).toContain("against the local nixos.img LINEAR checksum");
			},
		);
	}, 60_000);
});

describe("verify, as unkind as AWS", () => {
	test("a region that does not answer is named, and exits 3", async () => {
		standIn.unreachableRegions.add("eu-west-1");
		try {
			const run = await verify();
			expect(run.exitCode).toBe(3);
			expect(run.stdout).toMatch(/x86_64-linux\s+eu-west-1\s+\? could not check: /);
			expect(run.stdout).toMatch(/x86_64-linux\s+us-east-1\s+✓/);
			expect(run.stderr).toMatch(/could not be made \([^)]*x86_64-linux in eu-west-1/);
		} finally {
			standIn.unreachableRegions.delete("eu-west-1");
		}
	}, 60_000);

	test("a parameter SSM does not show yet (eventual consistency) is looked at again, and passes", async () => {
		// The first read in eu-west-1 misses it, as a read right after a write can.
		world.unkind.unseenParameterReads.set(`eu-west-1 ${PARAMETER("aarch64-linux")}`, 1);
		try {
			const run = await verify(["--json"], "60s");
			expect(run.exitCode).toBe(0);
			const region = JSON.parse(run.stdout).regions.find(
				(entry: { region: string }) => entry.region === "eu-west-1",
			);
			expect(region.looks).toBe(2);
		} finally {
			world.unkind.unseenParameterReads.clear();
		}
	}, 60_000);

	test("a region that answers only partly: what did answer is reported, and a mismatch still exits 1", async () => {
		standIn.faults.push({
			operation: "GetParametersByPath",
			kind: "error",
			error: new AwsError("AccessDeniedException", "Not authorized.", 400),
			times: 2,
		});
		await withDrift(imageDrift(copyOf("x86_64-linux", "eu-west-1"), "public", false), async () => {
			const run = await verify();
			expect(run.exitCode).toBe(1);
			expect(run.stdout).toMatch(
				/x86_64-linux\s+eu-west-1\s+✗ AMI ami-\w+ public: expected true, is false/,
			);
		});
		standIn.faults.length = 0;
	}, 60_000);
});

describe("an older release", () => {
	test("its SSM parameters and moving tags are superseded by the current one, not failures", async () => {
		const older = join(work, "older-release.json");
		copyFileSync(releaseJson, older);
		const original = readFileSync(releaseJson, "utf8");
		const current = JSON.parse(original);
		current.releaseId = "bbbbbbbbbbbb";
		current.version = `${current.version.split("-")[0]}-bbbbbbbbbbbb`;
		writeFileSync(releaseJson, JSON.stringify(current));
		// The newer release moved a parameter: for the older one that is no failure.
		const parameters = parametersIn(world, "eu-west-1");
		const name = PARAMETER("x86_64-linux");
		const before = parameters.get(name);
		putParameter(world, "eu-west-1", name, copyOf("aarch64-linux", "eu-west-1"), "aws:ec2:image");
		try {
			const run = await verify(["--release", older]);
			expect(run.exitCode).toBe(0);
			expect(run.stdout).toContain(
				`SSM parameters and moving tags: superseded by the current release ${current.version}`,
			);
			expect(run.stdout).toMatch(/container\s+2\.31\.2-\w+\s+✓/);
		} finally {
			writeFileSync(releaseJson, original);
			parameters.set(name, before as NonNullable<typeof before>);
		}
	}, 60_000);
});

describe("an older release on a machine without the current release.json", () => {
	test("is superseded when the stack's SSM parameters name another release's copies", async () => {
		const regions = ["us-east-1", "eu-west-1"];
		const builds = (Object.keys(SYSTEMS) as System[]).map((system, i) =>
			seedBuild(world, { system, buildId: `${i + 5}`.repeat(16), daysAgo: 10, regions }),
		);
		const older = join(work, "seeded-release.json");
		writeFileSync(older, JSON.stringify(seededRelease(builds, regions, "cccccccccccc")));
		const current = readFileSync(releaseJson, "utf8");
		rmSync(releaseJson);
		try {
			const run = await verify(["--release", older]);
			expect(run.stdout).toContain(
				"SSM parameters and moving tags: superseded by the release the stack's SSM parameters name now",
			);
			expect(run.exitCode).toBe(0);
			// The current one, named the same way, is current: its pointers are checked.
			const same = join(work, "current-release.json");
			writeFileSync(same, current);
			const checked = await verify(["--release", same, "--json"]);
			expect(checked.exitCode).toBe(0);
			expect(JSON.parse(checked.stdout).supersededBy).toBeNull();
		} finally {
			writeFileSync(releaseJson, current);
			for (const build of builds) {
				for (const id of [build.source, ...Object.values(build.copies)]) world.images.delete(id);
			}
		}
	}, 60_000);
});

describe("verify refuses, in one sentence with exit 2", () => {
	test("a bad --retry-for, a --release that does not exist, a file that is no release", async () => {
		const bad = await verify([], "ten");
		expect(bad.exitCode).toBe(2);
		expect(bad.stderr).toContain(
			'--retry-for must be seconds or minutes such as 90s or 10m, from 0s to 10m, not "ten"',
		);
		const missing = await verify(["--release", join(work, "nothing.json")]);
		expect(missing.exitCode).toBe(2);
		expect(missing.stderr).toContain(
			"which does not exist; name a release.json that release wrote",
		);
		const junk = join(work, "junk.json");
		writeFileSync(junk, JSON.stringify({ version: "x" }));
		const notRelease = await verify(["--release", junk]);
		expect(notRelease.exitCode).toBe(2);
		expect(notRelease.stderr).toContain("is no release manifest");
	}, 60_000);
});

describe("verify --provenance", () => {
	const site = join(project.dir, "outputs/main/release");
	const trustedRoot = join(work, "trusted_root.jsonl");
	const REPOSITORY = "nix-images/nix-images";
	let sigstore: MockSigstore;
	beforeAll(async () => {
		sigstore = await startMockSigstore();
		writeFileSync(trustedRoot, `${JSON.stringify(sigstore.trustedRoot)}\n`);
		// What the pipeline's attest steps leave for the release the suite made, signed as its pipeline.
		await attestSite(site, manifest(), releaseJson, (payload) =>
			sigstore.sign(payload, {
				repository: REPOSITORY,
				workflow: ".github/workflows/pipeline.yml",
				ref: "refs/heads/main",
			}),
		);
	});
	afterAll(async () => {
		await sigstore?.stop();
		rmSync(join(site, "attestations"), { recursive: true, force: true });
	});
	const provenance = ["--provenance", "--trusted-root", trustedRoot, "--repository", REPOSITORY];

	test("with --deep: each SBOM, each image's provenance, the AMI statements (against the bytes read back) and release.json's hold, exit 0", async () => {
		const run = await verify([...provenance, "--deep"]);
		if (run.exitCode !== 0) console.log(run.stdout, run.stderr.slice(-600));
		expect(run.exitCode).toBe(0);
		for (const system of Object.keys(SYSTEMS)) {
			for (const image of ["oci-container", "virtual-machine"]) {
				expect(run.stdout).toMatch(
					new RegExp(`${system} ${image} SBOM\\s+sbom/${system}/${image}\\.cdx\\.json\\s+✓`),
				);
			}
			expect(run.stdout).toMatch(new RegExp(`${system} disk image\\s+nixos\\.img\\s+✓`));
			expect(run.stdout).toMatch(new RegExp(`${system} AMIs\\s+AMI statement\\s+✓`));
		}
		expect(run.stdout).toMatch(/container\s+index and each platform manifest\s+✓/);
		expect(run.stdout).toMatch(/release\.json\s+SLSA provenance\s+✓/);
	}, 60_000);

	test("a release whose attestation is missing or signed by another repository fails (exit 1), naming it", async () => {
		const index = join(site, "attestations/index.json");
		const listed = readFileSync(index, "utf8");
		try {
			const names = JSON.parse(listed).bundles.filter(
				(name: string) => name !== "index.sigstore.json",
			);
			writeFileSync(index, JSON.stringify({ bundles: names }));
			const missing = await verify(provenance);
			expect(missing.exitCode).toBe(1);
			expect(missing.stdout).toMatch(
				new RegExp(
					`container\\s+index and each platform manifest\\s+✗ SLSA provenance of ${manifest().containers.indexDigest} attestation: expected a bundle signed by ${REPOSITORY}'s \\.github/workflows/pipeline\\.yml at refs/heads/main, is none in attestations/`,
				),
			);
			const other = await verify([...provenance.slice(0, 3), "--repository", "someone/else"]);
			expect(other.exitCode).toBe(1);
			expect(other.stdout).toContain("✗ SLSA provenance of");
			expect(other.stderr).toContain("differ from release.json");
		} finally {
			writeFileSync(index, listed);
		}
	}, 60_000);

	test("without a trusted root, with one that is not, or without a repository: exit 2 in one sentence, before AWS", async () => {
		const before = standIn.calls.length;
		const noRoot = await verify(["--provenance", "--repository", REPOSITORY]);
		expect(noRoot.exitCode).toBe(2);
		expect(noRoot.stderr).toContain(
			"--provenance needs Sigstore's trusted root: write it with `gh attestation trusted-root > trusted_root.jsonl` and pass --trusted-root trusted_root.jsonl.",
		);
		const junk = join(work, "junk-root.json");
		writeFileSync(junk, "{}");
		const badRoot = await verify([
			"--provenance",
			"--trusted-root",
			junk,
			"--repository",
			REPOSITORY,
		]);
		expect(badRoot.exitCode).toBe(2);
		expect(badRoot.stderr).toContain(`--trusted-root: ${junk} is no Sigstore trusted root (`);
		const noRepository = await bunTask(["verify", "--provenance", "--trusted-root", trustedRoot], {
			cwd: project.dir,
			env: { ...env(), GITHUB_REPOSITORY: undefined },
		});
		expect(noRepository.exitCode).toBe(2);
		expect(noRepository.stderr).toContain(
			"--provenance needs the GitHub repository whose pipeline signed the release: pass --repository owner/name (or set githubRepository in cdk.json's context).",
		);
		const badRepository = await verify([...provenance.slice(0, 3), "--repository", "not one"]);
		expect(badRepository.exitCode).toBe(2);
		expect(badRepository.stderr).toContain(
			"--repository not one is not a GitHub repository; pass it as owner/name.",
		);
		expect(standIn.calls.length).toBe(before);
	}, 60_000);
});

/**
 * `bun task publish` end to end, as a user runs it: a disk image built from
 * the fixture flake through `bun task virtual-machine`, published through the
 * real SDK to the loopback stand-in reached by AWS_ENDPOINT_URL; refusals;
 * --dry-run; and a SIGKILL between any two AWS steps followed by a re-run.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localSnapshotContent } from "../infra/publish/snapshot-content.ts";
import { AwsError, crashAfter, type StandIn } from "./aws/stand-in.ts";
import { standInAccount } from "./aws/start.ts";
import { contentOf, leaveSnapshot, volumeOf, type World } from "./aws/world.ts";
import {
	bunTask,
	fixtureFlake,
	HOST,
	NO_AWS,
	OFFLINE_NIX_CONFIG,
	projectCopy,
	requireTool,
	spawnRunner,
	tempDir,
} from "./helpers.ts";

requireTool("nix", "apt-get install nix-bin");
requireTool("jq", "apt-get install jq");

const project = projectCopy();
const flake = fixtureFlake();
const vmDir = join(project.dir, "outputs/main/virtual-machine", HOST);
const amiJson = join(vmDir, "ami.json");
const stateFile = join(vmDir, "publish-state.json");
/** Files the refusal tests point the image's links at. */
const dir = tempDir("publish-images");
let world: World;
let standIn: StandIn;

async function buildImage() {
	const run = await bunTask(["virtual-machine", "--flake", flake.dir], {
		cwd: project.dir,
		env: { NIX_CONFIG: `${OFFLINE_NIX_CONFIG}\nsystem-features = kvm` },
	});
	if (run.exitCode !== 0) throw new Error(`the fixture image did not build:\n${run.stderr}`);
}

async function freshAccount() {
	if (standIn) await standIn.stop();
	({ world, standIn } = await standInAccount());
	rmSync(amiJson, { force: true });
	rmSync(stateFile, { force: true });
}

/** `bun task publish --only vm`: this file is about the AMI part. */
function publish(args: string[] = [], env: Record<string, string | undefined> = {}) {
	return bunTask(["publish", "--only", "vm", ...args], {
		cwd: project.dir,
		env: { ...NO_AWS, ...standIn.env, ...env },
	});
}

/** The same, as a child the test can kill. */
function spawnPublish() {
	return spawnRunner(["publish", "--only", "vm"], {
		cwd: project.dir,
		env: { ...NO_AWS, ...standIn.env },
	});
}

function image(): Buffer {
	return readFileSync(join(vmDir, "nixos.img"));
}

/**
 * What the account holds: exactly one completed snapshot and one available AMI
 * from it; and ami.json records what the snapshot holds, which is what the image holds.
 */
async function expectOneSnapshotAndOneAmi() {
	const snapshots = [...world.snapshots.values()];
	expect(snapshots.map((s) => s.state)).toEqual(["completed"]);
	const [snapshot] = snapshots;
	expect(volumeOf(snapshot as NonNullable<typeof snapshot>, image().length)).toEqual(image());
	const images = [...world.images.values()];
	expect(images).toHaveLength(1);
	expect(images[0]?.blockDevices[0]?.snapshotId).toBe(snapshot?.id);
	const record = JSON.parse(readFileSync(amiJson, "utf8"));
	expect(record).toMatchObject({ imageId: images[0]?.id, snapshotId: snapshot?.id, system: HOST });
	expect(record.snapshotContent).toEqual(contentOf(snapshot as NonNullable<typeof snapshot>));
	expect(record.snapshotContent).toEqual(await localSnapshotContent(join(vmDir, "nixos.img"), 1));
}

beforeAll(async () => {
	await buildImage();
	await freshAccount();
});
afterAll(async () => {
	await standIn.stop();
	project.dispose();
	flake.dispose();
	rmSync(dir, { recursive: true, force: true });
});

describe("publish", () => {
	beforeEach(freshAccount);

	test("uploads only the blocks with data, registers the AMI for Nitro, and writes ami.json last", async () => {
		const run = await publish();
		expect(run.exitCode).toBe(0);
		await expectOneSnapshotAndOneAmi();
		const [snapshot] = world.snapshots.values();
		const [ami] = world.images.values();
		const info = JSON.parse(readFileSync(join(vmDir, "image-info.json"), "utf8"));
		const buildId = String(info.sha256).slice(0, 16);
		const name = `nixos-26.05.20260616.567a49d-${HOST}-${buildId}`;
		const tags = {
			Name: name,
			ManagedBy: "nix-images",
			BuildId: buildId,
			System: HOST,
			CreatedBy: "EC2 Image Builder",
			"nix-images:lifecycle": `Production-${HOST}`,
		};
		expect(snapshot?.tags).toEqual(tags);
		expect(snapshot?.blocks.size).toBe(2);
		expect(ami).toMatchObject({
			name,
			architecture: HOST === "x86_64-linux" ? "x86_64" : "arm64",
			bootMode: "uefi",
			imdsSupport: "v2.0",
			enaSupport: true,
			sriovNetSupport: "simple",
			rootDeviceName: "/dev/xvda",
			tags,
			public: false,
		});
		expect(ami?.tpmSupport).toBe(HOST === "x86_64-linux" ? "v2.0" : undefined);
		expect(ami?.blockDevices[0]).toMatchObject({
			deviceName: "/dev/xvda",
			volumeType: "gp3",
			deleteOnTermination: true,
		});
		const created = Date.parse(ami?.creationDate ?? "");
		expect(Date.parse(ami?.deprecationTime ?? "") - created).toBeGreaterThanOrEqual(
			90 * 86_400_000,
		);
		expect(Date.parse(ami?.deprecationTime ?? "") - created).toBeLessThan(90 * 86_400_000 + 60_000);

		expect(JSON.parse(readFileSync(amiJson, "utf8"))).toMatchObject({
			buildId,
			region: "us-east-1",
			imageName: name,
			sha256: info.sha256,
			registered: { BootMode: "uefi", ImdsSupport: "v2.0" },
			snapshotContent: { blockSize: 524288, volumeSize: 1, changedBlocks: 2 },
		});
		expect(run.stderr).toMatch(/publish: \d+ blocks sent, \d+ skipped \(zeros\), of 7 \(\d+%\)/);
		expect(run.stderr).toMatch(
			/publish: snapshot snap-\w+: sent 1\.0 MiB of the image's 3\.0 MiB \(33%; 5 zero blocks of 512\.0 KiB skipped\) in \d+:\d\d/,
		);
		expect(run.stderr).not.toContain(standIn.env.AWS_SECRET_ACCESS_KEY);
		expect(statSync(stateFile).mode & 0o777).toBe(0o600);
	});

	test("a re-run of the same build sends and registers nothing", async () => {
		expect((await publish()).exitCode).toBe(0);
		const calls = standIn.calls.length;
		// The ami.json checked below is the re-run's, which found the snapshot completed.
		rmSync(amiJson);
		const again = await publish();
		expect(again.exitCode).toBe(0);
		expect(again.stderr).toContain("of this build is already complete: nothing sent.");
		expect(again.stderr).toContain("was already registered");
		expect(again.stderr).not.toContain("verifying nixos.img");
		const second = standIn.calls.slice(calls);
		expect(second).not.toContain("ebs:StartSnapshot");
		expect(second).not.toContain("ebs:PutSnapshotBlock");
		expect(second).not.toContain("ec2:RegisterImage");
		await expectOneSnapshotAndOneAmi();
	});

	test("a snapshot of this build that ended in error is deleted and replaced", async () => {
		const info = JSON.parse(readFileSync(join(vmDir, "image-info.json"), "utf8"));
		leaveSnapshot(world, "snap-failed", "error", {
			ManagedBy: "nix-images",
			BuildId: String(info.sha256).slice(0, 16),
			System: HOST,
		});
		expect((await publish()).exitCode).toBe(0);
		expect(world.deletedSnapshots.map((s) => s.id)).toEqual(["snap-failed"]);
		await expectOneSnapshotAndOneAmi();
	});

	test("--dry-run prints every change it would make and the upload plan, and changes nothing", async () => {
		const run = await publish(["--dry-run"]);
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toMatch(
			/would call StartSnapshot \{"VolumeSize":1,"Timeout":60,"ClientToken":"\w{16}-\w{16}"/,
		);
		expect(run.stderr).toContain(
			"would call PutSnapshotBlock for the 2 blocks with data (1.0 MiB) and skip the 5 zero blocks, of 7",
		);
		expect(run.stderr).toContain(
			'would call CompleteSnapshot {"SnapshotId":"(new snapshot)","ChangedBlocksCount":2',
		);
		expect(run.stderr).toMatch(/would call RegisterImage \{"Name":"nixos-[^"]+","Description":/);
		expect(world.snapshots.size).toBe(0);
		expect(world.images.size).toBe(0);
		expect(existsSync(amiJson)).toBe(false);
		expect(existsSync(stateFile)).toBe(false);
		expect(standIn.calls.filter((c) => !/Describe|Get/.test(c))).toEqual([]);
	});

	test("--deprecate-days sets the deprecation date, and a bad value is a usage error", async () => {
		expect((await publish(["--deprecate-days", "7"])).exitCode).toBe(0);
		const [ami] = world.images.values();
		const days =
			(Date.parse(ami?.deprecationTime ?? "") - Date.parse(ami?.creationDate ?? "")) / 86_400_000;
		expect(Math.round(days)).toBe(7);
		const bad = await publish(["--deprecate-days", "soon"]);
		expect(bad.exitCode).toBe(2);
		expect(bad.stderr).toContain(
			'--deprecate-days must be a whole number of days from 1 to 3650 (AWS deprecates at most 10 years ahead), not "soon".',
		);
	});
});

describe("publish refuses, in one sentence, before anything is uploaded", () => {
	beforeEach(freshAccount);
	const nothingUploaded = () => {
		expect(
			standIn.calls.filter((c) => c.startsWith("ebs:") || c.endsWith(":RegisterImage")),
		).toEqual([]);
		expect(existsSync(amiJson)).toBe(false);
	};

	test("without credentials", async () => {
		const run = await bunTask(["publish", "--only", "vm"], { cwd: project.dir, env: NO_AWS });
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('✗ Task "publish" cannot start: No AWS credentials were found');
	});
	test("without the deployed stack", async () => {
		world.stacks.clear();
		const run = await publish();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"The stack Production does not exist in us-east-1; run `bun task deploy` first (or set the stackName setting to the stack you deployed).",
		);
		nothingUploaded();
	});
	test("when the stack lacks an output publish needs", async () => {
		const stack = world.stacks.get("Production");
		if (stack) delete stack.outputs.PublicAmis;
		const run = await publish();
		expect(run.stderr).toContain(
			"The stack Production has no output PublicAmis: it was deployed by an older version; run `bun task deploy` to update it.",
		);
		nothingUploaded();
	});
	test("when new snapshots would be encrypted and the AMIs are public", async () => {
		world.ebsEncryptionByDefault = true;
		const run = await publish();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"EBS encryption by default is on in us-east-1, so the snapshot would be encrypted and its AMIs could not be made public; turn it off (`aws ec2 disable-ebs-encryption-by-default --region us-east-1`), or set the publicAmis setting to false and run `bun task deploy`.",
		);
		nothingUploaded();
	});
	test("when the image's metadata disagrees with it", async () => {
		const infoPath = join(vmDir, "image-info.json");
		const info = JSON.parse(readFileSync(infoPath, "utf8"));
		const link = `${infoPath}.link`;
		Bun.spawnSync(["mv", infoPath, link]);
		try {
			for (const [change, message] of [
				[{ format: "VHD" }, 'image-info.json says format "VHD"; publish takes a RAW, UEFI image'],
				[{ boot_mode: "legacy-bios" }, 'says boot mode "legacy-bios"'],
				[
					{ logical_bytes: "5" },
					`nixos.img is ${image().length} bytes but outputs/main/virtual-machine/${HOST}/image-info.json says 5;`,
				],
				[{ sha256: "0".repeat(64) }, "differs from outputs/main/virtual-machine"],
			] as const) {
				writeFileSync(infoPath, JSON.stringify({ ...info, ...change }));
				rmSync(stateFile, { force: true });
				const run = await publish();
				expect(run.exitCode).toBe(1);
				expect(run.stderr).toContain(message);
				expect(run.stderr).toContain(`bun task virtual-machine --system ${HOST}`);
			}
		} finally {
			rmSync(infoPath, { force: true });
			Bun.spawnSync(["mv", link, infoPath]);
		}
		nothingUploaded();
	});
	/**
	 * Runs `publish` with the image's links pointing elsewhere (nixos.img at
	 * `disk`, or the build's result at another store path), then puts them back.
	 */
	async function publishWith(links: { disk?: string; result?: string; info?: object }) {
		const moved: [string, string][] = [];
		const swap = (name: string, target: string) => {
			const path = join(vmDir, name);
			rmSync(`${path}.saved`, { force: true });
			Bun.spawnSync(["mv", path, `${path}.saved`]);
			moved.push([path, `${path}.saved`]);
			Bun.spawnSync(["ln", "-s", target, path]);
		};
		try {
			if (links.result) swap("result", links.result);
			if (links.disk) swap("nixos.img", links.disk);
			if (links.info) {
				const path = join(vmDir, "image-info.json");
				const info = JSON.parse(readFileSync(path, "utf8"));
				swap("image-info.json", join(dir, "info.json"));
				writeFileSync(join(dir, "info.json"), JSON.stringify({ ...info, ...links.info }));
			}
			rmSync(stateFile, { force: true });
			return await publish();
		} finally {
			for (const [path, saved] of moved.reverse()) {
				rmSync(path, { force: true });
				Bun.spawnSync(["mv", saved, path]);
			}
		}
	}
	/** A valid store path holding `bytes` as nixos.img (and the fixture's metadata for it), as `nix-store --add` makes it. */
	function storeImage(name: string, bytes: Buffer): string {
		const build = join(dir, name);
		rmSync(build, { recursive: true, force: true });
		Bun.spawnSync(["mkdir", "-p", join(build, "nix-support")]);
		writeFileSync(join(build, "nixos.img"), bytes);
		const info = JSON.parse(readFileSync(join(vmDir, "image-info.json"), "utf8"));
		writeFileSync(
			join(build, "nix-support/image-info.json"),
			JSON.stringify({
				...info,
				logical_bytes: String(bytes.length),
				sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex"),
			}),
		);
		const added = Bun.spawnSync(["nix-store", "--add", build], { stderr: "pipe" });
		if (added.exitCode !== 0) throw new Error(added.stderr.toString());
		return added.stdout.toString().trim();
	}

	test("when nixos.img is not a regular file: a directory, a FIFO, a device", async () => {
		const fifo = join(dir, "fifo");
		rmSync(fifo, { force: true });
		Bun.spawnSync(["mkfifo", fifo]);
		for (const [disk, what] of [
			[dir, "is a directory, not a disk image"],
			[fifo, "is a FIFO, not a disk image"],
			["/dev/zero", "is a character device, not a disk image"],
		] as const) {
			const run = await publishWith({ disk });
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain(
				`✗ Task "publish" failed: outputs/main/virtual-machine/${HOST}/nixos.img ${what}; publish takes the disk image Nix built: bun task virtual-machine --system ${HOST}.`,
			);
		}
		nothingUploaded();
	});

	test("when nixos.img resolves outside the build's store path, even with metadata that matches it", async () => {
		const shadow = readFileSync("/etc/shadow");
		const run = await publishWith({
			disk: "/etc/shadow",
			info: {
				logical_bytes: String(shadow.length),
				sha256: new Bun.CryptoHasher("sha256").update(shadow).digest("hex"),
			},
		});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`nixos.img resolves to /etc/shadow, which is not inside the build's own valid Nix store path (outputs/main/virtual-machine/${HOST}/result)`,
		);
		expect(run.stderr).not.toContain(shadow.toString().split(":")[0] ?? "root");
		// A store path's shape is not enough: it must be one the store knows.
		const fake = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-fake";
		Bun.spawnSync(["mkdir", "-p", join(fake, "nix-support")]);
		Bun.spawnSync(["cp", join(vmDir, "nixos.img"), join(fake, "nixos.img")]);
		Bun.spawnSync([
			"cp",
			join(vmDir, "image-info.json"),
			join(fake, "nix-support/image-info.json"),
		]);
		try {
			const unknown = await publishWith({ result: fake });
			expect(unknown.exitCode).toBe(1);
			expect(unknown.stderr).toContain(`resolves to ${fake}/nixos.img, which is not inside`);
		} finally {
			rmSync(fake, { recursive: true, force: true });
		}
		nothingUploaded();
	});

	test("when the image is empty, not whole sectors, or has no GPT", async () => {
		for (const [bytes, what] of [
			[Buffer.alloc(0), "is empty (0 bytes)"],
			[Buffer.alloc(1000, 1), "is 1000 bytes, not a whole number of 512-byte sectors"],
			[Buffer.alloc(1024, 0), "has no protective MBR and GPT header, so it is no UEFI disk image"],
		] as const) {
			const run = await publishWith({ result: storeImage(`image-${bytes.length}`, bytes) });
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain(`nixos.img ${what}; publish takes the disk image Nix built`);
			expect(run.stderr).not.toContain("NaN");
		}
		nothingUploaded();
	});

	test("when the AMI name would be refused by AWS, or the deprecation is beyond AWS's limits", async () => {
		for (const [label, problem] of [
			[
				"x".repeat(120),
				`is ${`nixos-${"x".repeat(120)}-${HOST}-`.length + 16} characters long, and AWS allows 3 to 128`,
			],
			['26.05";<script>', "has characters AWS does not allow in an AMI name"],
		] as const) {
			const run = await publishWith({ info: { label } });
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain(problem);
			expect(run.stderr).toContain("fix the image's label (system.nixos.label) and rebuild it");
		}
		const far = await publish(["--deprecate-days", "4000"]);
		expect(far.exitCode).toBe(2);
		expect(far.stderr).toContain("--deprecate-days must be a whole number of days from 1 to 3650");
		const publicTooLong = await publish(["--deprecate-days", "800"]);
		expect(publicTooLong.exitCode).toBe(1);
		expect(publicTooLong.stderr).toContain(
			"The stack's AMIs are public, and AWS deprecates public AMIs at most 730 days (2 years) after their creation, not 800; pass --deprecate-days 730 or fewer",
		);
		nothingUploaded();
	});

	test("when there is no image: it names the task that builds it", async () => {
		const bare = projectCopy();
		const run = await bunTask(["publish", "--only", "vm"], {
			cwd: bare.dir,
			env: { ...NO_AWS, ...standIn.env },
		});
		bare.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`outputs/main/virtual-machine/${HOST}/nixos.img is missing; build the image first: bun task virtual-machine --system ${HOST}.`,
		);
	});
});

describe("an upload that stops for a reason a re-run can fix", () => {
	beforeEach(freshAccount);

	test("keeps the pending snapshot, says until when a re-run resumes it, and the re-run sends only the rest", async () => {
		// The first block gets through; then the credentials have expired.
		standIn.faults.push({
			operation: "PutSnapshotBlock",
			kind: "error",
			after: 1,
			times: 100,
			error: new AwsError(
				"ExpiredTokenException",
				"The security token included in the request is expired",
				403,
			),
		});
		const stopped = await publish();
		expect(stopped.exitCode).toBe(1);
		expect(stopped.stderr).toMatch(
			/✗ Task "publish" failed: The upload stopped \(ExpiredTokenException: The security token included in the request is expired\)\. Snapshot snap-\w+ is kept, pending, until [\dT:.-]+Z: fix that and run the task again before then on this machine, and it sends only the blocks AWS has not acknowledged yet \(1 it has\); after that, or on another machine, it sends every block again\./,
		);
		expect([...world.snapshots.values()].map((s) => s.state)).toEqual(["pending"]);
		expect(world.deletedSnapshots).toEqual([]);
		expect(existsSync(amiJson)).toBe(false);

		standIn.faults.splice(0);
		const before = standIn.calls.length;
		const resumed = await publish();
		expect(resumed.exitCode).toBe(0);
		const again = standIn.calls.slice(before);
		expect(again.filter((call) => call === "ebs:PutSnapshotBlock")).toHaveLength(1);
		expect(again).not.toContain("ebs:StartSnapshot");
		expect(resumed.stderr).toContain("1 blocks an earlier run sent were not sent again");
		await expectOneSnapshotAndOneAmi();
	});
});

describe("publish, as unkind as AWS", () => {
	beforeEach(freshAccount);

	test("an AMI DescribeImages does not know yet right after RegisterImage is waited for, not taken for gone", async () => {
		world.unkind.clockSpeed = 60;
		world.unkind.imageInvisibleMs = 90_000; // 1.5 s here
		const run = await publish();
		expect(run.stderr).not.toContain("no longer exists");
		expect(run.exitCode).toBe(0);
		await expectOneSnapshotAndOneAmi();
	});

	test("times AWS gives without a zone are UTC, on a machine far from it: the deprecation is --deprecate-days after the creation", async () => {
		world.unkind.timesWithoutZone = true;
		const run = await publish(["--deprecate-days", "30"], { TZ: "Asia/Tokyo" });
		expect(run.exitCode).toBe(0);
		const [ami] = world.images.values();
		const days =
			(Date.parse(ami?.deprecationTime ?? "") - Date.parse(ami?.creationDate ?? "")) / 86_400_000;
		expect(days).toBeGreaterThanOrEqual(30);
		expect(days).toBeLessThan(30 + 1 / 1440 + 1e-9);
	});

	test("EBS encryption by default with a customer-managed key is refused before anything is uploaded; AWS's own key is fine for private AMIs", async () => {
		const stack = world.stacks.get("Production");
		if (stack) stack.outputs.PublicAmis = "false";
		world.ebsEncryptionByDefault = true;
		world.unkind.defaultKmsKeyId =
			"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
		const refused = await publish();
		expect(refused.exitCode).toBe(1);
		expect(refused.stderr).toContain(
			"EBS encryption by default in us-east-1 uses the customer-managed KMS key arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		);
		expect(standIn.calls.filter((c) => c.startsWith("ebs:"))).toEqual([]);
		world.unkind.defaultKmsKeyId = "alias/aws/ebs";
		expect((await publish()).exitCode).toBe(0);
	});
});

describe("a SIGKILL between any two AWS steps, then a re-run", () => {
	beforeEach(freshAccount);
	/** Each step, killed after AWS did its work and before its answer arrived. */
	const steps: [operation: string, arrival: number][] = [
		["DescribeStacks", 1],
		["StartSnapshot", 1],
		["PutSnapshotBlock", 1],
		["PutSnapshotBlock", 2],
		["CompleteSnapshot", 1],
		["DescribeSnapshots", 2],
		["RegisterImage", 1],
		["DescribeImages", 2],
		["EnableImageDeprecation", 1],
	];
	test.each(steps)(
		"after %s (call %d): one snapshot, one AMI, nothing pending",
		async (operation, arrival) => {
			expect(await crashAfter(standIn, spawnPublish(), operation, arrival)).toBe(137);
			expect(existsSync(amiJson)).toBe(false);
			const rerun = await publish();
			expect(rerun.exitCode).toBe(0);
			await expectOneSnapshotAndOneAmi();
			expect(world.deletedSnapshots).toEqual([]);
		},
	);
	test.each(steps)(
		"after %s (call %d), then a re-run on another machine (no publish-state.json): one snapshot, one AMI",
		async (operation, arrival) => {
			expect(await crashAfter(standIn, spawnPublish(), operation, arrival)).toBe(137);
			rmSync(stateFile, { force: true });
			const rerun = await publish();
			expect(rerun.exitCode).toBe(0);
			await expectOneSnapshotAndOneAmi();
			expect(world.deletedSnapshots).toEqual([]);
		},
	);
	test("after DeleteSnapshot of this build's snapshot in error: the re-run replaces it once", async () => {
		const info = JSON.parse(readFileSync(join(vmDir, "image-info.json"), "utf8"));
		leaveSnapshot(world, "snap-failed", "error", {
			ManagedBy: "nix-images",
			BuildId: String(info.sha256).slice(0, 16),
			System: HOST,
		});
		expect(await crashAfter(standIn, spawnPublish(), "DeleteSnapshot", 1)).toBe(137);
		expect((await publish()).exitCode).toBe(0);
		expect(world.deletedSnapshots.map((s) => s.id)).toEqual(["snap-failed"]);
		await expectOneSnapshotAndOneAmi();
	});
});

describe("a rebuilt image after a crash", () => {
	beforeEach(freshAccount);
	test("the re-run publishes the new build, never the snapshot the old build's run left", async () => {
		expect(await crashAfter(standIn, spawnPublish(), "CompleteSnapshot", 1)).toBe(137);
		const old = [...world.snapshots.values()].map((snapshot) => snapshot.id);
		flake.build("good");
		await buildImage();
		expect((await publish()).exitCode).toBe(0);
		const record = JSON.parse(readFileSync(amiJson, "utf8"));
		const info = JSON.parse(readFileSync(join(vmDir, "image-info.json"), "utf8"));
		expect(record.buildId).toBe(String(info.sha256).slice(0, 16));
		expect(old).not.toContain(record.snapshotId);
		const snapshot = world.snapshots.get(record.snapshotId);
		expect(snapshot?.tags.BuildId).toBe(record.buildId);
		expect(volumeOf(snapshot as NonNullable<typeof snapshot>, image().length)).toEqual(image());
	});
});

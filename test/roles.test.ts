/**
 * Least privilege, tied to the code: a whole `bun task publish` (both parts,
 * with a failed snapshot to clean up), a whole `bun task release --make-room`
 * (a full public-AMI quota, a smoke test, a distribution that fails once) and
 * a `bun task prune` (an old release, a leftover snapshot, an unkept
 * container image) and a `bun task verify --deep` against the stand-in and a registry
 * send every AWS call the code of each task can make, and each GitHub role
 * allows exactly what its task sends (and what those calls imply), no more:
 * the publish role, which the jobs that run the builds' code hold, can
 * distribute, share or boot nothing.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beyondTheCode, codeOperations, ROLE_TASKS, roleActions } from "./aws/policy.ts";
import { seedBuild } from "./aws/seed.ts";
import { standInAccount } from "./aws/start.ts";
import { leaveSnapshot } from "./aws/world.ts";
import {
	bunTask,
	fixtureFlake,
	HOST,
	NO_AWS,
	OFFLINE_NIX_CONFIG,
	projectCopy,
	REPO,
	requireTool,
} from "./helpers.ts";
import { type Registry, startRegistry } from "./registry.ts";

requireTool("nix", "apt-get install nix-bin");
requireTool("skopeo", "apt-get install skopeo");
requireTool("podman", "apt-get install podman");

const project = projectCopy();
const flake = fixtureFlake();
afterAll(() => {
	project.dispose();
	flake.dispose();
});

/** Pushes a tiny image the registry will hold under `reference` (a build no release kept). */
function pushStrayImage(registry: Registry, reference: string): void {
	const archive = join(project.dir, "stray.tar");
	for (const command of [
		[
			"bash",
			join(REPO, "test/fixtures/images/docker-archive.sh"),
			`${archive}.gz`,
			"amd64",
			"stray",
		],
		["gunzip", "-f", `${archive}.gz`],
		[
			"skopeo",
			"copy",
			"--dest-authfile",
			registry.authFile,
			`docker-archive:${archive}`,
			`docker://${reference}`,
		],
	]) {
		const run = Bun.spawnSync(command, {
			env: { ...process.env, ...registry.env },
			stderr: "pipe",
		});
		if (run.exitCode !== 0) throw new Error(run.stderr.toString());
	}
}

/** What makes an AMI public or copies it: none of it may be the publish role's. */
const RELEASING = [
	"imagebuilder:DistributeImage",
	"iam:PassRole",
	"ec2:ModifyImageAttribute",
	"ec2:CopyImage",
	"ec2:RunInstances",
	"ec2:CreateTags",
];

test("each GitHub role grants exactly the AWS calls its task makes: publish, then release", async () => {
	const build = await bunTask(["images", "--flake", flake.dir], {
		cwd: project.dir,
		env: { NIX_CONFIG: `${OFFLINE_NIX_CONFIG}\nsystem-features = kvm` },
	});
	expect(build.exitCode).toBe(0);
	const registry = await startRegistry();
	const { world, standIn } = await standInAccount();
	try {
		world.repositories.set("nix", `${registry.host}/alias/nix`);
		world.registryPassword = registry.password;
		world.registry = {
			host: registry.host,
			password: registry.password,
			dir: registry.dir,
			cert: registry.cert,
		};
		const info = JSON.parse(
			readFileSync(
				join(project.dir, "outputs/main/virtual-machine", HOST, "image-info.json"),
				"utf8",
			),
		);
		// Tagged as publish tags its snapshots: the role acts only on those.
		leaveSnapshot(world, "snap-failed", "error", {
			ManagedBy: "nix-images",
			BuildId: String(info.sha256).slice(0, 16),
			System: HOST,
		});
		const env = { ...NO_AWS, ...standIn.env, ...registry.env };
		const published = await bunTask(["publish"], { cwd: project.dir, env });
		expect(published.exitCode).toBe(0);
		const publishCalls = new Set(standIn.calls.splice(0));
		// A distribution that fails once, so the release makes its retry too; three older releases
		// fill us-east-1's quota of 3, so --make-room retires the oldest there (into a Recycle Bin
		// that keeps it); eu-west-1 has AWS's default of 5, never changed.
		world.failNextDistribution = "a failure to retry";
		const regions = ["us-east-1", "eu-west-1"];
		world.publicAmiQuota.set("us-east-1", 3);
		world.recycleBinRetention = true;
		for (const [i, daysAgo] of [40, 30, 20].entries()) {
			seedBuild(world, {
				system: HOST as "x86_64-linux",
				buildId: `${i}`.repeat(16),
				daysAgo,
				regions,
			});
		}
		const released = await bunTask(["release", "--make-room"], { cwd: project.dir, env });
		expect(released.stderr).not.toContain("✗");
		expect(released.exitCode).toBe(0);
		expect(world.deregistered).toHaveLength(1);
		// prune, which the release job runs next: a leftover snapshot and a build's tag nobody keeps.
		leaveSnapshot(
			world,
			"snap-leftover",
			"completed",
			{ ManagedBy: "nix-images", BuildId: "f".repeat(16), System: HOST },
			3 * 86_400_000,
		);
		pushStrayImage(registry, `${registry.host}/alias/nix:2.31.2-${"f".repeat(16)}-amd64`);
		const pruned = await bunTask(["prune"], { cwd: project.dir, env });
		expect(pruned.stderr).not.toContain("✗");
		expect(pruned.exitCode).toBe(0);
		expect(pruned.stdout).toContain("snap-leftover");
		const releaseCalls = new Set(standIn.calls.splice(0));
		// verify, which the verify workflow runs with its own role: --deep reads the snapshot back.
		const verified = await bunTask(["verify", "--deep"], { cwd: project.dir, env });
		expect(verified.stderr).not.toContain("✗");
		expect(verified.exitCode).toBe(0);
		const verifyCalls = new Set(standIn.calls);

		for (const [role, seen] of [
			["PublishRole", publishCalls],
			["ReleaseRole", releaseCalls],
			["VerifyRole", verifyCalls],
		] as const) {
			const code = codeOperations(ROLE_TASKS[role]);
			const granted = roleActions(role);
			// Every call the task's code can make was made, and it made nothing the code does not declare…
			expect({ role, unmade: [...code].filter((operation) => !seen.has(operation)) }).toEqual({
				role,
				unmade: [],
			});
			expect({ role, undeclared: [...seen].filter((operation) => !code.has(operation)) }).toEqual({
				role,
				undeclared: [],
			});
			// …the role allows each, and nothing but what those calls imply.
			expect({ role, denied: [...code].filter((operation) => !granted.has(operation)) }).toEqual({
				role,
				denied: [],
			});
			expect({ role, beyond: beyondTheCode(granted, code) }).toEqual({ role, beyond: [] });
		}
		const publishRole = roleActions("PublishRole");
		expect(RELEASING.filter((action) => publishRole.has(action))).toEqual(["ec2:CreateTags"]);
	} finally {
		await standIn.stop();
		await registry.stop();
	}
}, 120_000);

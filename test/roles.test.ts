/**
 * Least privilege, tied to the code: a whole `bun task publish` (both parts,
 * with a failed snapshot to clean up), a whole `bun task release --make-room`
 * (a full public-AMI quota, a smoke test, a distribution that fails once) and
 * a `bun task prune` (an old release, a leftover snapshot, an unkept
 * container image), a `bun task rollback` (a parameter to put back) and a `bun task verify --deep` against the stand-in and a registry
 * send every AWS call the code of each task can make, and each GitHub role
 * allows exactly what its task sends (and what those calls imply), no more:
 * the publish role, which the jobs that run the builds' code hold, can
 * distribute, share or boot nothing. And every tagging each task did
 * (CreateTags, and the tags that come with RegisterImage, StartSnapshot and
 * RunInstances) is allowed by its role's conditions, as IAM evaluates them,
 * while the same tagging a little wider is not.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { evaluate, taggingRequest } from "./aws/iam.ts";
import {
	beyondTheCode,
	codeOperations,
	ROLE_TASKS,
	roleActions,
	roleStatements,
} from "./aws/policy.ts";
import { seedBuild } from "./aws/seed.ts";
import { parametersIn } from "./aws/ssm.ts";
import { standInAccount } from "./aws/start.ts";
import { leaveSnapshot, type Tagging } from "./aws/world.ts";
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
		const publishTaggings = world.taggings.splice(0);
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
		// rollback, which the rollback workflow runs under the release role: one parameter gone
		// by hand, put back on the current release (whose AMIs it verifies first).
		const current = JSON.parse(
			readFileSync(join(project.dir, "outputs/main/release.json"), "utf8"),
		);
		parametersIn(world, "eu-west-1").delete(current.amis[HOST].ssmParameter);
		const rolledBack = await bunTask(["rollback", "--to", current.releaseId], {
			cwd: project.dir,
			env,
		});
		expect(rolledBack.stderr).not.toContain("✗");
		expect(rolledBack.exitCode).toBe(0);
		const releaseCalls = new Set(standIn.calls.splice(0));
		const releaseTaggings = world.taggings.splice(0);
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

		// Tagging, as IAM evaluates each role's conditions: all of what the tasks did is allowed…
		expect(world.taggings).toEqual([]);
		const publish = roleStatements("PublishRole");
		const release = roleStatements("ReleaseRole");
		const verdict = (statements: typeof publish, tagging: Tagging) =>
			evaluate(statements, taggingRequest(tagging));
		for (const [role, statements, taggings] of [
			["PublishRole", publish, publishTaggings],
			["ReleaseRole", release, releaseTaggings],
		] as const) {
			const denied = taggings.filter((tagging) => !verdict(statements, tagging).allowed);
			expect({ role, denied }).toEqual({ role, denied: [] });
		}
		// …which includes the image's SHA-256: on the AMI as publish registers it, and by release on
		// each copy in every region, that key alone, under its own statement.
		const registered = publishTaggings.find((t) => t.createAction === "RegisterImage");
		expect(registered?.requestTags.ImageSha256).toBe(info.sha256);
		const snapshot = publishTaggings.find((t) => t.createAction === "StartSnapshot") as Tagging;
		expect(snapshot.requestTags).not.toHaveProperty("ImageSha256");
		const copies = releaseTaggings.filter((t) => t.requestTags.ImageSha256 !== undefined);
		expect(copies.map((t) => t.resource.split(":")[3]).sort()).toEqual([...regions].sort());
		for (const copy of copies) {
			expect(copy.requestTags).toEqual({ ImageSha256: info.sha256 });
			expect(verdict(release, copy).by).toBe("TagOwnCopiesWithTheImageSha256");
		}
		// The same taggings a little wider are refused: the digest on a snapshot, or on an AMI after
		// its creation, by publish; by release, on an AMI not ManagedBy this project, with another
		// key beside it, or ManagedBy itself on a copy.
		const copy = copies[0] as Tagging;
		for (const [statements, wider] of [
			[publish, { ...snapshot, requestTags: { ...snapshot.requestTags, ImageSha256: "0" } }],
			[publish, { ...(registered as Tagging), createAction: undefined }],
			[release, { ...copy, resourceTags: {} }],
			// A source AMI (publish tagged it BuildId): its digest is what release trusts.
			[release, { ...copy, resourceTags: { ...copy.resourceTags, BuildId: "0".repeat(16) } }],
			[release, { ...copy, resourceTags: { ...copy.resourceTags, ManagedBy: "someone-else" } }],
			[release, { ...copy, requestTags: { ...copy.requestTags, BuildId: "0" } }],
			[release, { ...copy, requestTags: { ManagedBy: "nix-images" } }],
		] as const) {
			expect({ wider, allowed: verdict(statements, wider).allowed }).toEqual({
				wider,
				allowed: false,
			});
		}
	} finally {
		await standIn.stop();
		await registry.stop();
	}
}, 120_000);

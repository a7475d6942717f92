/**
 * Least privilege, tied to the code: a whole `bun task publish` (both parts,
 * with a failed snapshot to clean up) and a whole `bun task release` (a smoke
 * test, a distribution that fails once) against the stand-in and a registry
 * send every AWS call the code of each task can make, and each GitHub role
 * allows exactly what its task sends (and what those calls imply), no more:
 * the publish role, which the jobs that run the builds' code hold, can
 * distribute, share or boot nothing.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beyondTheCode, codeOperations, ROLE_TASKS, roleActions } from "./aws/policy.ts";
import { standInAccount } from "./aws/start.ts";
import { leaveSnapshot } from "./aws/world.ts";
import {
	bunTask,
	fixtureFlake,
	HOST,
	NO_AWS,
	OFFLINE_NIX_CONFIG,
	projectCopy,
	requireTool,
} from "./helpers.ts";
import { startRegistry } from "./registry.ts";

requireTool("nix", "apt-get install nix-bin");
requireTool("skopeo", "apt-get install skopeo");
requireTool("podman", "apt-get install podman");

const project = projectCopy();
const flake = fixtureFlake();
afterAll(() => {
	project.dispose();
	flake.dispose();
});

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
		// A distribution that fails once, so the release makes its retry too.
		world.failNextDistribution = "a failure to retry";
		const released = await bunTask(["release"], { cwd: project.dir, env });
		expect(released.stderr).not.toContain("✗");
		expect(released.exitCode).toBe(0);
		const releaseCalls = new Set(standIn.calls);

		for (const [role, seen] of [
			["PublishRole", publishCalls],
			["ReleaseRole", releaseCalls],
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

/**
 * Least privilege, tied to the code: a whole `bun task publish` (both parts,
 * with a failed snapshot to clean up) and `bun task release` (a smoke test,
 * a distribution that fails once) against the stand-in and a registry send
 * every AWS call the publishing and releasing code can make, and the publish
 * role allows exactly those (and what they imply), no more.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { codeOperations, IMPLIED_ACTIONS, roleActions } from "./aws/policy.ts";
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

test("the publish role grants exactly the AWS calls a whole publish and release make", async () => {
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
		const run = await bunTask(["publish"], { cwd: project.dir, env });
		expect(run.exitCode).toBe(0);
		// A distribution that fails once, so the release makes its retry too.
		world.failNextDistribution = "a failure to retry";
		const released = await bunTask(["release"], { cwd: project.dir, env });
		expect(released.stderr).not.toContain("✗");
		expect(released.exitCode).toBe(0);
		const seen = new Set(standIn.calls);
		const code = codeOperations();
		const role = roleActions("PublishRole");
		// Every call the code can make was made…
		expect([...code].filter((operation) => !seen.has(operation))).toEqual([]);
		// …and made nothing the code does not declare…
		expect([...seen].filter((operation) => !code.has(operation))).toEqual([]);
		// …the role allows each, and nothing but what those calls imply.
		expect([...code].filter((operation) => !role.has(operation))).toEqual([]);
		expect([...role].filter((action) => !code.has(action) && !(action in IMPLIED_ACTIONS))).toEqual(
			[],
		);
	} finally {
		await standIn.stop();
		await registry.stop();
	}
}, 120_000);

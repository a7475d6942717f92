/**
 * The release history and `bun task rollback`, end to end: two releases of
 * two builds (AMIs in the stand-in's account, containers in a real
 * docker-registry on 127.0.0.1, released by `bun task release`), then a
 * rollback through the real SDK and the machine's skopeo. The history's
 * index and Atom feed, a target that fails its checks, a SIGKILL between
 * any two moves followed by a re-run, and the refusals around rolled-back
 * builds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { bootMarker } from "../tasks/project/boot-marker.ts";
import type { ReleaseManifest } from "../tasks/release/manifest.ts";
import { parametersIn } from "./aws/ssm.ts";
import { crashAfter, type StandIn } from "./aws/stand-in.ts";
import { standInAccount } from "./aws/start.ts";
import type { World } from "./aws/world.ts";
import {
	bunTask,
	NO_AWS,
	projectCopy,
	REPO,
	requireTool,
	spawnRunner,
	spyTool,
	tempDir,
	waitForPause,
} from "./helpers.ts";
import { type Registry, startRegistry } from "./registry.ts";
import {
	keepOnlyTags,
	liveScene,
	pushImages,
	releaseAccount,
	SYSTEMS,
	type System,
	seedAmi,
	seedContainer,
} from "./release-scene.ts";

requireTool("skopeo", "apt-get install skopeo");
requireTool("podman", "apt-get install podman");

const project = projectCopy();
const work = tempDir("rollback");
/** Short and this file's own: podman refuses a run root longer than 50 characters. */
const childTmp = mkdtempSync("/tmp/ni-");
const spy = join(work, "bin");
const site = join(project.dir, "outputs/main/release");
const releaseJson = join(project.dir, "outputs/main/release.json");
/** The second build of each system: another AMI build, published a day later, and other images. */
const SECOND = { "x86_64-linux": "3333333333333333", "aarch64-linux": "4444444444444444" } as const;

let registry: Registry;
let world: World;
let standIn: StandIn;
const current = { world: () => world, registry: () => registry };
/** The first build's images and the second's: one scene each, both on the current account. */
const first = liveScene(current, project.dir, work);
const second = liveScene(current, project.dir, work);

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
const task = (args: string[], extra: Record<string, string | undefined> = {}) =>
	bunTask(args, { cwd: project.dir, env: env(extra) });
const read = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const tagAt = (tag: string) => registry.serves(`alias/nix:${tag}`)?.digest;

/** What users get now: every system's parameter in every region, the moving tags, release.json. */
function pointers() {
	const parameters: Record<string, string | undefined> = {};
	for (const region of ["us-east-1", "eu-west-1"]) {
		for (const system of Object.keys(SYSTEMS)) {
			const name = `/nix-images/Production/nixos/${system}/latest`;
			parameters[`${region} ${system}`] = parametersIn(world, region).get(name)?.value;
		}
	}
	return {
		parameters,
		latest: tagAt("latest"),
		version: tagAt("2.31.2"),
		releaseJson: existsSync(releaseJson) ? readFileSync(releaseJson, "utf8") : undefined,
	};
}

/** The pointers as release `manifest` set them. */
function pointersOf(manifest: ReleaseManifest, text: string) {
	const parameters: Record<string, string | undefined> = {};
	for (const region of ["us-east-1", "eu-west-1"]) {
		for (const system of Object.keys(SYSTEMS)) {
			parameters[`${region} ${system}`] = manifest.amis[system]?.regions[region];
		}
	}
	const digest = manifest.containers?.indexDigest;
	return { parameters, latest: digest, version: digest, releaseJson: text };
}

let releases: { id: string; text: string; manifest: ReleaseManifest }[] = [];

/** A fresh account and registry, and two releases: the first build's, then the second's. */
async function twoReleases() {
	await standIn?.stop();
	({ world, standIn } = await releaseAccount(registry));
	world.bootMarker = bootMarker(REPO);
	rmSync(join(project.dir, "outputs"), { recursive: true, force: true });
	keepOnlyTags(
		registry,
		[...Object.values(first.pushed), ...Object.values(second.pushed)].map((image) => image.tag),
	);
	for (const file of ["moves", "paused"]) rmSync(join(spy, file), { force: true });
	releases = [];
	for (const [scene, build] of [
		[first, undefined],
		[second, SECOND],
	] as const) {
		for (const system of Object.keys(SYSTEMS) as System[]) {
			seedAmi(scene, system, build?.[system], build ? "2026-12-02T00:00:00.000Z" : undefined);
			seedContainer(scene, system);
		}
		const run = await task(["release", "--no-smoke-test"]);
		if (run.exitCode !== 0) throw new Error(`release failed: ${run.stderr}`);
		const text = readFileSync(releaseJson, "utf8");
		releases.push({ id: JSON.parse(text).releaseId, text, manifest: JSON.parse(text) });
	}
	rmSync(join(spy, "moves"), { force: true });
}

beforeAll(async () => {
	spyTool(spy, "skopeo", [
		'case " $* " in *" copy --all "*)',
		'  n=$(( $(cat "$SPY_DIR/moves" 2>/dev/null || echo 0) + 1 )); echo $n > "$SPY_DIR/moves"',
		'  [ "$n" = "$PAUSE_AT_MOVE" ] && pause',
		'  [ "$n" = "$PAUSE_AFTER_MOVE" ] && run_then_pause "$@" ;;',
		"esac",
	]);
	registry = await startRegistry();
	({ world, standIn } = await standInAccount());
	pushImages(first);
	pushImages(second, "-second");
}, 120_000);
afterAll(async () => {
	await standIn?.stop();
	await registry?.stop();
	project.dispose();
	rmSync(work, { recursive: true, force: true });
	rmSync(childTmp, { recursive: true, force: true });
});

describe("the release history", () => {
	beforeAll(twoReleases, 180_000);

	test("release keeps every release under its id, with an index, an Atom feed and a page that lists the others", () => {
		const [one, two] = releases;
		expect(one?.id).not.toBe(two?.id);
		for (const release of releases) {
			expect(readFileSync(join(site, "releases", release.id, "release.json"), "utf8")).toBe(
				release.text,
			);
			expect(existsSync(join(site, "releases", release.id, "index.html"))).toBe(true);
			for (const sbom of release.manifest.sboms ?? []) {
				expect(existsSync(join(site, "releases", release.id, sbom.path))).toBe(true);
			}
		}
		const index = read(join(site, "releases.json"));
		expect(index.stack).toBe("Production");
		expect(index.releases).toEqual([
			expect.objectContaining({
				releaseId: two?.id,
				current: true,
				rolledBack: false,
				url: `releases/${two?.id}/release.json`,
				page: `releases/${two?.id}/index.html`,
				systems: ["aarch64-linux", "x86_64-linux"],
			}),
			expect.objectContaining({ releaseId: one?.id, current: false, rolledBack: false }),
		]);
		const page = readFileSync(join(site, "index.html"), "utf8");
		expect(page).toContain(`href="releases/${one?.id}/index.html"`);
		expect(page).toContain('href="releases.atom"');
	});

	test("the Atom feed is well-formed XML and an RFC 4287 feed: id, title, updated, author, an entry per release", () => {
		const text = readFileSync(join(site, "releases.atom"), "utf8");
		expect(XMLValidator.validate(text)).toBe(true);
		const feed = new XMLParser({
			ignoreAttributes: false,
			isArray: (name) => name === "entry" || name === "link",
		}).parse(text).feed;
		expect(feed["@_xmlns"]).toBe("http://www.w3.org/2005/Atom");
		for (const field of ["id", "title", "updated"]) expect(feed[field]).toBeTruthy();
		expect(feed.author.name).toBe("nix-images");
		expect(feed.entry.map((entry: { id: string }) => entry.id)).toEqual(
			releases.map((release) => `urn:nix-images:Production:release:${release.id}`).reverse(),
		);
		for (const entry of feed.entry) {
			for (const field of ["id", "title", "updated", "summary"]) expect(entry[field]).toBeTruthy();
			expect(Date.parse(entry.updated)).not.toBeNaN();
			expect(entry.link.map((link: Record<string, string>) => link["@_rel"])).toEqual([
				"alternate",
				"related",
			]);
		}
		expect(feed.updated).toBe(releases[1]?.manifest.releasedAt);
	});
});

describe("rollback", () => {
	beforeEach(twoReleases, 180_000);

	test("--to previous puts every pointer back on the first release, marks the second rolled back, and the page lists both", async () => {
		const [one, two] = releases;
		if (one === undefined || two === undefined) throw new Error("no releases");
		expect(pointers()).toEqual(pointersOf(two.manifest, two.text));
		const dry = await task(["rollback", "--to", "previous", "--dry-run"]);
		expect(dry.exitCode).toBe(0);
		expect(dry.stderr).toContain(
			`would point /nix-images/Production/nixos/x86_64-linux/latest in eu-west-1 at ${one.manifest.amis["x86_64-linux"]?.regions["eu-west-1"]}`,
		);
		expect(pointers()).toEqual(pointersOf(two.manifest, two.text));

		const run = await task(["rollback", "--to", "previous"]);
		if (run.exitCode !== 0) console.log(run.stderr.slice(-1500));
		expect(run.exitCode).toBe(0);
		expect(pointers()).toEqual(pointersOf(one.manifest, one.text));
		const index = read(join(site, "releases.json"));
		expect(index.releases).toEqual([
			expect.objectContaining({
				releaseId: two.id,
				current: false,
				rolledBack: true,
				rolledBackTo: one.id,
			}),
			expect.objectContaining({ releaseId: one.id, current: true, rolledBack: false }),
		]);
		// The site's SBOMs are the first release's again.
		for (const sbom of one.manifest.sboms ?? []) {
			const bytes = readFileSync(join(site, sbom.path));
			expect(new Bun.CryptoHasher("sha256").update(bytes).digest("hex")).toBe(sbom.sha256);
		}
		const page = readFileSync(join(site, "index.html"), "utf8");
		expect(page).toContain(`<h1>nix-images ${one.manifest.version}</h1>`);
		expect(page).toMatch(
			new RegExp(
				`href="releases/${two.id}/index.html">${two.manifest.version}</a>.*\\(rolled back\\)`,
			),
		);
		const left = readFileSync(join(site, "releases", two.id, "index.html"), "utf8");
		expect(left).toContain("<strong>Rolled back</strong>");
		expect(left).toContain('href="../../index.html"');
		// Nothing of the second build was deprecated without --deprecate, nor deregistered.
		for (const imageId of Object.values(two.manifest.amis["x86_64-linux"]?.regions ?? {})) {
			expect(world.images.get(imageId)?.state).toBe("available");
		}

		// Again: nothing left to move, and --to previous now finds nothing that is not rolled back.
		const again = await task(["rollback", "--to", one.id]);
		expect(again.exitCode).toBe(0);
		expect(pointers()).toEqual(pointersOf(one.manifest, one.text));
		const none = await task(["rollback", "--to", "previous"]);
		expect(none.exitCode).toBe(2);
		expect(none.stderr).toContain(
			"There is no earlier release that was not rolled back to go back to",
		);
	}, 120_000);

	test("--deprecate also deprecates the left release's AMIs, now, and deregisters none", async () => {
		const [, two] = releases;
		const run = await task(["rollback", "--to", "previous", "--deprecate"]);
		expect(run.exitCode).toBe(0);
		for (const release of Object.values(two?.manifest.amis ?? {})) {
			for (const imageId of Object.values(release.regions)) {
				const image = world.images.get(imageId);
				expect(image?.state).toBe("available");
				expect(Date.parse(String(image?.deprecationTime))).toBeLessThan(Date.now() + 3 * 60_000);
			}
		}
	}, 120_000);

	test("a target whose AMI was deregistered in one region is refused with the table, and nothing moves", async () => {
		const [one] = releases;
		const gone = one?.manifest.amis["aarch64-linux"]?.regions["eu-west-1"] as string;
		world.images.delete(gone);
		const before = pointers();
		const run = await task(["rollback", "--to", "previous", "--retry-for", "1s"]);
		expect(run.exitCode).toBe(1);
		expect(run.stdout).toMatch(new RegExp(`aarch64-linux\\s+eu-west-1\\s+✗ AMI ${gone}`));
		expect(run.stderr).toContain(
			`so users cannot be put back on ${one?.manifest.version}: nothing was moved`,
		);
		expect(pointers()).toEqual(before);
		expect(standIn.calls).not.toContain("ssm:PutParameter");
	}, 120_000);

	/** Each move: the runner is killed as it reaches it (the move not made), or, for the last tag, right after it. */
	type Kill = (child: ReturnType<typeof spawnRunner>) => Promise<void>;
	const moves: [step: string, kill: Kill][] = [
		...[1, 2, 3, 4].map(
			(n) =>
				[
					`at SSM parameter ${n} of 4`,
					async (child) => {
						expect(await crashAfter(standIn, child, "PutParameter", n)).toBe(137);
					},
				] as [string, Kill],
		),
		...[
			"at the first moving tag",
			"between the moving tags",
			"after the last moving tag, before release.json",
		].map(
			(step) =>
				[
					step,
					async (child) => {
						const paused = await waitForPause(spy);
						child.kill("SIGKILL");
						expect(await child.exited).toBe(137);
						process.kill(paused, "SIGKILL");
					},
				] as [string, Kill],
		),
	];
	const pauses: Record<string, Record<string, string>> = {
		"at the first moving tag": { PAUSE_AT_MOVE: "1" },
		"between the moving tags": { PAUSE_AT_MOVE: "2" },
		"after the last moving tag, before release.json": { PAUSE_AFTER_MOVE: "2" },
	};
	test.each(moves)(
		"a SIGKILL %s, then a re-run: every pointer on the target",
		async (step, kill) => {
			const [one, two] = releases;
			if (one === undefined || two === undefined) throw new Error("no releases");
			const child = spawnRunner(["rollback", "--to", one.id], {
				cwd: project.dir,
				env: env(pauses[step] ?? {}),
			});
			await kill(child);
			// Not done: release.json and the history still say the second release.
			expect(readFileSync(releaseJson, "utf8")).toBe(two.text);
			rmSync(join(spy, "moves"), { force: true });
			const rerun = await task(["rollback", "--to", one.id]);
			expect(rerun.exitCode).toBe(0);
			expect(pointers()).toEqual(pointersOf(one.manifest, one.text));
			const index = read(join(site, "releases.json"));
			expect(
				index.releases.find((entry: { releaseId: string }) => entry.releaseId === two.id),
			).toMatchObject({ rolledBack: true, current: false });
			// Each parameter written at most once per region and system across both runs (keyed on its value).
			for (const region of ["us-east-1", "eu-west-1"]) {
				for (const system of Object.keys(SYSTEMS)) {
					const parameter = parametersIn(world, region).get(
						`/nix-images/Production/nixos/${system}/latest`,
					);
					expect(parameter?.version).toBeLessThanOrEqual(3);
				}
			}
		},
		120_000,
	);

	test("a release of the rolled-back build is refused without --allow-rolled-back, and so is rolling back to it", async () => {
		const [one, two] = releases;
		const run = await task(["rollback", "--to", "previous"]);
		expect(run.exitCode).toBe(0);
		// The second build's records are still here: releasing them again would undo the rollback.
		const again = await task(["release", "--no-smoke-test"]);
		expect(again.exitCode).toBe(1);
		expect(again.stderr).toContain(
			"This release would put users back on what a rollback took them off: ",
		);
		expect(again.stderr).toContain(`(from ${two?.manifest.version})`);
		expect(again.stderr).toContain(
			"pass --allow-rolled-back to release it anyway. Nothing was released.",
		);
		expect(read(releaseJson).releaseId).toBe(one?.id);
		const back = await task(["rollback", "--to", two?.id as string]);
		expect(back.exitCode).toBe(2);
		expect(back.stderr).toContain(`${two?.manifest.version} was rolled back on `);
		expect(back.stderr).toContain("pass --allow-rolled-back");
		const allowed = await task(["rollback", "--to", two?.id as string, "--allow-rolled-back"]);
		expect(allowed.exitCode).toBe(0);
		expect(pointers()).toEqual(pointersOf(two?.manifest as ReleaseManifest, two?.text as string));
	}, 180_000);

	test("a target without all the current release has, or a history with a kept file gone, is refused before anything moves", async () => {
		const [one, two] = releases;
		const kept = join(site, "releases", one?.id as string, "release.json");
		const original = readFileSync(kept, "utf8");
		const partial = JSON.parse(original);
		delete partial.amis["aarch64-linux"].regions["eu-west-1"];
		writeFileSync(kept, JSON.stringify(partial));
		const before = pointers();
		const callsBefore = standIn.calls.length;
		const run = await task(["rollback", "--to", "previous"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`${one?.manifest.version} does not have all that ${two?.manifest.version} released (aarch64-linux in eu-west-1), so users of those would stay on ${two?.manifest.version}: roll back to a release that has them, or release a fixed build. Nothing was moved.`,
		);
		rmSync(kept);
		const gone = await task(["rollback", "--to", "previous"]);
		expect(gone.exitCode).toBe(1);
		expect(gone.stderr).toContain(
			`is missing, though releases.json lists release ${one?.id}; restore the published history`,
		);
		expect(pointers()).toEqual(before);
		// Refused before AWS: not a call made.
		expect(standIn.calls.slice(callsBefore)).toEqual([]);
		writeFileSync(kept, original);
	}, 60_000);

	test("refuses in one sentence (exit 2): no --to, an unknown release, no history", async () => {
		const noTo = await task(["rollback"]);
		expect(noTo.exitCode).toBe(2);
		expect(noTo.stderr).toContain(
			"rollback needs --to: a release id from outputs/main/release/releases.json, or --to previous.",
		);
		const unknown = await task(["rollback", "--to", "0123456789ab"]);
		expect(unknown.exitCode).toBe(2);
		expect(unknown.stderr).toContain(
			"--to 0123456789ab is no release of the history; name one of ",
		);
		rmSync(join(site, "releases.json"));
		const none = await task(["rollback", "--to", "previous"]);
		expect(none.exitCode).toBe(2);
		expect(none.stderr).toContain(
			"There is no release history in outputs/main/release/releases.json to roll back in",
		);
		writeFileSync(
			join(site, "releases.json"),
			JSON.stringify({ stack: "Production", releases: [{ releaseId: "../../etc" }] }),
		);
		const damaged = await task(["rollback", "--to", "previous"]);
		expect(damaged.exitCode).toBe(1);
		expect(damaged.stderr).toContain(
			"is not a release history of the stack Production that this version wrote",
		);
	}, 60_000);
});

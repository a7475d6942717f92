/**
 * `bun task publish --only container` end to end: images built from the
 * fixture flake (and an arm64 one made by the same scripts), pushed with the
 * machine's own skopeo to a real docker-registry on 127.0.0.1 (TLS, password),
 * with ECR Public's API answered by the loopback stand-in.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { StandIn } from "./aws/stand-in.ts";
import { standInAccount } from "./aws/start.ts";
import type { World } from "./aws/world.ts";
import {
	bunTask,
	cleanEnv,
	fixtureFlake,
	HOST,
	NO_AWS,
	OFFLINE_NIX_CONFIG,
	pathWithout,
	projectCopy,
	REPO,
	requireTool,
	spawnRunner,
	spyTool,
	tempDir,
	waitForPause,
} from "./helpers.ts";
import { type Registry, startRegistry } from "./registry.ts";

requireTool("skopeo", "apt-get install skopeo");
requireTool("nix", "apt-get install nix-bin");

const FOREIGN = HOST === "x86_64-linux" ? "aarch64-linux" : "x86_64-linux";
const ARCH: Record<string, string> = { "x86_64-linux": "amd64", "aarch64-linux": "arm64" };
const project = projectCopy();
const flake = fixtureFlake();
const work = tempDir("container");
let registry: Registry;
let world: World;
let standIn: StandIn;
/** The child's temporary directory: where its private auth directory must not outlive it. */
const childTmp = join(work, "tmp");
/** A skopeo in front of the real one that records its arguments and environment. */
const spy = join(work, "bin");
const skopeoLog = join(work, "skopeo.log");
const skopeoEnv = join(work, "skopeo.env");

const dirOf = (system: string) => join(project.dir, "outputs/main/oci-container", system);
const containerJson = (system: string) =>
	JSON.parse(readFileSync(join(dirOf(system), "container.json"), "utf8"));
const layoutDigest = (system: string) =>
	JSON.parse(readFileSync(join(dirOf(system), "oci-layout/index.json"), "utf8")).manifests[0]
		.digest as string;

/** An image of `system` made by the fixture's scripts, as the build would leave it (for a system this host cannot build). */
function placeImage(system: string, architecture: string, text: string) {
	const dir = dirOf(system);
	rmSync(dir, { recursive: true, force: true });
	mkdirSync(dir, { recursive: true });
	for (const command of [
		[
			"bash",
			join(REPO, "test/fixtures/images/docker-archive.sh"),
			join(dir, "nix.tar.gz"),
			architecture,
			text,
		],
		[
			"bash",
			join(REPO, "nix/oci-container/oci-layout.sh"),
			join(dir, "nix.tar.gz"),
			join(dir, "oci-layout"),
		],
	]) {
		const run = Bun.spawnSync(command, { stderr: "pipe" });
		if (run.exitCode !== 0) throw new Error(run.stderr.toString());
	}
}

async function buildHostImage() {
	flake.build("good");
	const run = await bunTask(["oci-container", "--flake", flake.dir], {
		cwd: project.dir,
		env: { NIX_CONFIG: OFFLINE_NIX_CONFIG },
	});
	if (run.exitCode !== 0) throw new Error(run.stderr);
}

function env(extra: Record<string, string | undefined> = {}) {
	return {
		...NO_AWS,
		...standIn.env,
		...registry.env,
		TMPDIR: childTmp,
		PATH: `${spy}:${process.env.PATH}`,
		SPY_DIR: spy,
		SKOPEO_LOG: skopeoLog,
		SKOPEO_ENV: skopeoEnv,
		...extra,
	};
}

/** The same, as a child the test can kill. */
function spawnPublish(extra: Record<string, string | undefined> = {}) {
	return spawnRunner(["publish", "--only", "container"], { cwd: project.dir, env: env(extra) });
}

function publish(args: string[] = [], extra: Record<string, string | undefined> = {}) {
	return bunTask(["publish", "--only", "container", ...args], {
		cwd: project.dir,
		env: env(extra),
	});
}

/** What the registry serves for a tag of the repository. */
const served = (tag: string) => registry.serves(`alias/nix:${tag}`);

function authDirectoriesLeft(): string[] {
	return readdirSync(childTmp).filter((name) => name.startsWith("nix-images-auth-"));
}

beforeAll(async () => {
	mkdirSync(childTmp, { recursive: true });
	spyTool(spy, "skopeo", [
		'printf "%s\\n" "$*" >> "$SKOPEO_LOG"',
		'env >> "$SKOPEO_ENV"',
		'case " $* " in *" copy "*)',
		'  [ -n "$PAUSE_AT_COPY" ] && pause',
		'  [ -n "$PAUSE_AFTER_COPY" ] && run_then_pause "$@" ;;',
		"esac",
	]);
	registry = await startRegistry();
	await buildHostImage();
});
afterAll(async () => {
	await standIn?.stop();
	await registry?.stop();
	project.dispose();
	flake.dispose();
	rmSync(work, { recursive: true, force: true });
});
beforeEach(async () => {
	await standIn?.stop();
	({ world, standIn } = await standInAccount());
	world.repositories.set("nix", `${registry.host}/alias/nix`);
	world.registryPassword = registry.password;
	rmSync(skopeoLog, { force: true });
	rmSync(skopeoEnv, { force: true });
});

describe("publish --only container", () => {
	test("pushes the layout byte for byte under <nix version>-<build id>-<arch>, and records the digest the registry serves", async () => {
		const run = await publish();
		expect(run.exitCode).toBe(0);
		const record = containerJson(HOST);
		const digest = layoutDigest(HOST);
		expect(record).toMatchObject({
			system: HOST,
			architecture: ARCH[HOST],
			repositoryUri: `${registry.host}/alias/nix`,
			tag: `2.31.2-${digest.slice(7, 23)}-${ARCH[HOST]}`,
			buildId: digest.slice(7, 23),
			digest,
			mediaType: "application/vnd.oci.image.manifest.v1+json",
			nixVersion: "2.31.2",
		});
		expect(served(record.tag)?.digest).toBe(digest);
		expect(run.stderr).toContain(`pushed ${registry.host}/alias/nix:${record.tag} (${digest}).`);
		expect(run.stderr).toMatch(
			/\$ skopeo --policy \S+\/policy\.json copy --preserve-digests --retry-times 3 --dest-authfile \S+\/nix-images-auth-\d+-\w+\/auth\.json oci:\S+:2\.31\.2 docker:\/\//,
		);
	});

	test("a re-run of the same build pushes nothing: the tag already serves its digest", async () => {
		expect((await publish()).exitCode).toBe(0);
		rmSync(skopeoLog, { force: true });
		const again = await publish();
		expect(again.exitCode).toBe(0);
		expect(again.stderr).toContain(`already serves ${layoutDigest(HOST)}: nothing pushed.`);
		expect(readFileSync(skopeoLog, "utf8")).not.toContain(" copy ");
	});

	test("two builds and two architectures get their own tags and keep their digests", async () => {
		expect((await publish()).exitCode).toBe(0);
		const first = containerJson(HOST);
		await buildHostImage();
		expect((await publish()).exitCode).toBe(0);
		const second = containerJson(HOST);
		expect(second.tag).not.toBe(first.tag);
		placeImage(FOREIGN, ARCH[FOREIGN] as string, "the other architecture");
		expect((await publish(["--system", FOREIGN])).exitCode).toBe(0);
		const foreign = containerJson(FOREIGN);
		expect(foreign.tag).toEndWith(`-${ARCH[FOREIGN]}`);
		for (const record of [first, second, foreign])
			expect(served(record.tag)?.digest).toBe(record.digest);
		const config = JSON.parse(served(foreign.tag)?.manifest ?? "{}").config.digest;
		expect(config).toBe(foreign.configDigest);
	});

	test("the login stays in a private file: not on a command line, in skopeo's environment, in the output, or left behind", async () => {
		const run = await publish();
		expect(run.exitCode).toBe(0);
		const secret = Buffer.from(`AWS:${registry.password}`).toString("base64");
		for (const text of [run.stdout, run.stderr, readFileSync(skopeoLog, "utf8")]) {
			expect(text).not.toContain(registry.password);
			expect(text).not.toContain(secret);
		}
		const childEnvironment = readFileSync(skopeoEnv, "utf8");
		expect(childEnvironment).not.toContain("AWS_SECRET_ACCESS_KEY");
		expect(childEnvironment).not.toContain(standIn.env.AWS_SECRET_ACCESS_KEY);
		expect(authDirectoriesLeft()).toEqual([]);
	});

	test("Ctrl-C during the push removes the login, and a kill -9's leftover is removed by the next run", async () => {
		await buildHostImage(); // a build not pushed yet, so there is a push to interrupt
		const record = join(dirOf(HOST), "container.json");
		const recordBefore = existsSync(record) ? readFileSync(record, "utf8") : undefined;
		const child = spawnPublish({ PAUSE_AT_COPY: "1" });
		await waitForPause(spy);
		expect(authDirectoriesLeft()).toHaveLength(1);
		child.kill("SIGINT");
		expect(await child.exited).toBe(130);
		expect(authDirectoriesLeft()).toEqual([]);
		// The record still describes the last build that was pushed.
		expect(existsSync(record) ? readFileSync(record, "utf8") : undefined).toBe(recordBefore);

		const killed = spawnPublish({ PAUSE_AT_COPY: "1" });
		const paused = await waitForPause(spy);
		killed.kill("SIGKILL");
		await killed.exited;
		process.kill(paused, "SIGKILL");
		expect(authDirectoriesLeft()).toHaveLength(1);
		expect((await publish()).exitCode).toBe(0);
		expect(authDirectoriesLeft()).toEqual([]);
	}, 60_000);

	test("one Ctrl-C at a terminal (SIGINT to the process group of `bun task`, which bun run forwards again) never leaves the login behind, 20 times", async () => {
		await buildHostImage(); // a build not pushed yet, so there is a push to interrupt
		const codes: number[] = [];
		const left: string[][] = [];
		for (let run = 0; run < 20; run++) {
			// setsid: a process group of its own, as a terminal's foreground job has.
			const child = Bun.spawn(
				["setsid", process.execPath, "task", "publish", "--only", "container"],
				{
					cwd: project.dir,
					env: cleanEnv(env({ PAUSE_AT_COPY: "1" })),
					stdout: "ignore",
					stderr: "ignore",
					stdin: "ignore",
				},
			);
			await waitForPause(spy);
			process.kill(-child.pid, "SIGINT");
			codes.push(await child.exited);
			left.push(authDirectoriesLeft());
		}
		expect(new Set(codes)).toEqual(new Set([130]));
		expect(left.flat()).toEqual([]);
	}, 120_000);

	test("a SIGKILL after the push, before the check and container.json: the re-run pushes nothing and records the build", async () => {
		await buildHostImage(); // a build not pushed yet
		rmSync(join(dirOf(HOST), "container.json"), { force: true });
		const killed = spawnPublish({ PAUSE_AFTER_COPY: "1" });
		const paused = await waitForPause(spy);
		killed.kill("SIGKILL");
		expect(await killed.exited).toBe(137);
		process.kill(paused, "SIGKILL");
		expect(existsSync(join(dirOf(HOST), "container.json"))).toBe(false);
		expect(served(`2.31.2-${layoutDigest(HOST).slice(7, 23)}-${ARCH[HOST]}`)?.digest).toBe(
			layoutDigest(HOST),
		);
		rmSync(skopeoLog, { force: true });
		const rerun = await publish();
		expect(rerun.exitCode).toBe(0);
		expect(rerun.stderr).toContain(`already serves ${layoutDigest(HOST)}: nothing pushed.`);
		expect(readFileSync(skopeoLog, "utf8")).not.toContain(" copy ");
		expect(containerJson(HOST).digest).toBe(layoutDigest(HOST));
	}, 60_000);

	test("--dry-run shows the skopeo command with the auth file's path, and pushes nothing", async () => {
		placeImage(FOREIGN, ARCH[FOREIGN] as string, "dry run");
		const run = await publish(["--system", FOREIGN, "--dry-run"]);
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toMatch(
			/\$ skopeo --policy \S+ copy --preserve-digests --retry-times 3 --dest-authfile \S+\/auth\.json oci:/,
		);
		expect(readFileSync(skopeoLog, "utf8")).not.toContain(" copy ");
		expect(existsSync(join(dirOf(FOREIGN), "container.json"))).toBe(false);
		expect(authDirectoriesLeft()).toEqual([]);
	}, 30_000);
});

describe("publish --only container refuses, in one sentence, before anything is pushed", () => {
	const nothingPushed = (run: { stderr: string }) => expect(run.stderr).not.toContain(" copy ");

	test("without the image, naming the task that builds it", async () => {
		rmSync(dirOf(FOREIGN), { recursive: true, force: true });
		const run = await publish(["--system", FOREIGN]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`outputs/main/oci-container/${FOREIGN}/oci-layout is missing; build the image first: bun task oci-container --system ${FOREIGN}.`,
		);
		nothingPushed(run);
	});
	test("with an image of another architecture", async () => {
		placeImage(FOREIGN, ARCH[HOST] as string, "wrong architecture");
		const run = await publish(["--system", FOREIGN]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`outputs/main/oci-container/${FOREIGN}/oci-layout holds an image for linux/${ARCH[HOST]}, not linux/${ARCH[FOREIGN]} (${FOREIGN}); build this system's image: bun task oci-container --system ${FOREIGN}.`,
		);
		nothingPushed(run);
	});
	test("without skopeo, saying how to get it", async () => {
		const noSkopeo = pathWithout(["skopeo"]);
		const run = await publish([], { PATH: noSkopeo.path });
		noSkopeo.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"`skopeo` is not on PATH; enter the dev shell (`nix develop`), or install skopeo (`apt-get install skopeo` on Debian and Ubuntu; GitHub's runners have it).",
		);
	});
	test("without the repository", async () => {
		world.repositories.clear();
		const run = await publish();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"The ECR Public repository nix of the stack Production does not exist; run `bun task deploy` first.",
		);
		nothingPushed(run);
	});
	test("without credentials", async () => {
		const run = await publish([], {
			AWS_ACCESS_KEY_ID: undefined,
			AWS_SECRET_ACCESS_KEY: undefined,
		});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain('✗ Task "publish" cannot start: No AWS credentials were found');
	});
});

/**
 * oci-container, virtual-machine and images end to end: Debian's real nix
 * building a fixture flake with no inputs, through `bun task` in a copy of the project.
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
	existsSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	readlinkSync,
	realpathSync,
	rmSync,
	symlinkSync,
} from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
	bunTask,
	fixtureFlake,
	HOST,
	KVM_NIX_CONFIG,
	OFFLINE_NIX_CONFIG as OFFLINE,
	pathWithout,
	projectCopy,
	requireTool,
} from "./helpers.ts";

requireTool("nix", "apt-get install nix-bin");

const FOREIGN = HOST === "x86_64-linux" ? "aarch64-linux" : "x86_64-linux";
const WITH_KVM = KVM_NIX_CONFIG;

const project = projectCopy();
const fixtureFlakeCopy = fixtureFlake();
const flake = fixtureFlakeCopy.dir;
const fixture = fixtureFlakeCopy.build;
afterAll(() => {
	project.dispose();
	fixtureFlakeCopy.dispose();
});

/** `bun task <args> --flake <fixture>`, with --flake before any `--`. */
function task(args: string[], nixConfig = OFFLINE, env: Record<string, string> = {}) {
	const end = args.includes("--") ? args.indexOf("--") : args.length;
	const withFlake = [...args.slice(0, end), "--flake", flake, ...args.slice(end)];
	return bunTask(withFlake, { cwd: project.dir, env: { NIX_CONFIG: nixConfig, ...env } });
}

const out = (...parts: string[]) => join(project.dir, "outputs/main", ...parts);
const ociText = (system = HOST) =>
	gunzipSync(readFileSync(out("oci-container", system, "nix.tar.gz"))).toString();

describe("oci-container", () => {
	test("builds with nix and exposes nix.tar.gz at the stable path, rooted against GC", async () => {
		const nonce = fixture("good");
		const run = await task(["oci-container"]);
		expect(run.stderr).toContain(
			`$ nix --extra-experimental-features 'nix-command flakes' build ${flake}#packages.${HOST}.oci-container --out-link outputs/main/oci-container/${HOST}/result --print-build-logs`,
		);
		expect(run.exitCode).toBe(0);
		expect(ociText()).toContain(`oci-container ${nonce}\n`);
		expect(readlinkSync(out("oci-container", HOST, "nix.tar.gz"))).toBe("result/nix.tar.gz");
		expect(readlinkSync(out("oci-container", HOST, "oci-layout"))).toBe("result/oci-layout");
		const store = readlinkSync(out("oci-container", HOST, "result"));
		expect(store).toStartWith("/nix/store/");
		const roots = readdirSync("/nix/var/nix/gcroots/auto").map((name) =>
			readlinkSync(join("/nix/var/nix/gcroots/auto", name)),
		);
		expect(roots).toContain(`${realpathSync(out("oci-container", HOST))}/result`);
	});

	test("a failed build exits with nix's code, shows its log once, names the builder, and keeps the last image", async () => {
		const before = ociText();
		fixture("fail");
		const run = await task(["oci-container"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toMatch(
			/✗ Task "oci-container" failed: nix build failed with exit code 1: the builder of \/nix\/store\/[\w-]+-oci-container\.drv failed \(its log is above; `nix log \/nix\/store\/[\w-]+-oci-container\.drv` shows it again, and `-- --keep-failed` keeps its build directory\)\. The previous image, if any, is still in place\.\n$/,
		);
		expect(run.stderr.split("about-to-fail")).toHaveLength(2);
		expect(ociText()).toBe(before);
	});

	test("a build that makes no nix.tar.gz is refused and the last image is put back", async () => {
		const before = ociText();
		const link = readlinkSync(out("oci-container", HOST, "result"));
		fixture("missing");
		const run = await task(["oci-container"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`The build succeeded but made no nix.tar.gz and oci-layout: packages.${HOST}.oci-container of ${flake} must contain nix.tar.gz and oci-layout; the previous image is back in place.`,
		);
		expect(readlinkSync(out("oci-container", HOST, "result"))).toBe(link);
		expect(ociText()).toBe(before);
	});

	test(`${FOREIGN} without emulation or a builder is refused, naming both ways out`, async () => {
		fixture("good");
		const run = await task(["oci-container", "--system", FOREIGN]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(`This machine builds ${HOST} and cannot build ${FOREIGN}:`);
		expect(run.stderr).toContain(`boot.binfmt.emulatedSystems = [ "${FOREIGN}" ]`);
		expect(run.stderr).toContain("--builders 'ssh://<host>");
		expect(run.stderr).not.toContain(` build ${flake}`);
		expect(existsSync(out("oci-container", FOREIGN))).toBe(false);
	});

	test("a remote builder given after -- satisfies the check and reaches nix", async () => {
		fixture("good");
		const run = await task([
			"oci-container",
			"--system",
			FOREIGN,
			"--",
			"--builders",
			`ssh://nowhere.invalid ${FOREIGN}`,
		]);
		expect(run.stderr).not.toContain("This machine builds");
		expect(run.stderr).toContain("cannot connect to 'nowhere.invalid'");
		expect(run.stderr).toContain(
			`--print-build-logs --builders 'ssh://nowhere.invalid ${FOREIGN}'`,
		);
		// nix itself then fails to reach the made-up builder.
		expect(run.exitCode).not.toBe(0);
	});

	test("arguments after -- reach nix build", async () => {
		fixture("good");
		const run = await task(["oci-container", "--", "--json"]);
		expect(run.exitCode).toBe(0);
		expect(JSON.parse(run.stdout)[0].outputs.out).toBe(
			readlinkSync(out("oci-container", HOST, "result")),
		);
	});

	test("--dry-run prints the nix build and builds nothing", async () => {
		fixture("good");
		const before = readlinkSync(out("oci-container", HOST, "result"));
		const run = await task(["oci-container", "--dry-run"]);
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toContain(`build ${flake}#packages.${HOST}.oci-container`);
		expect(run.stderr).not.toContain("building '");
		expect(readlinkSync(out("oci-container", HOST, "result"))).toBe(before);
	});

	test("without nix on PATH it says how to install it", async () => {
		const noNix = pathWithout(["nix"]);
		const run = await task(["oci-container"], OFFLINE, { PATH: noNix.path });
		noNix.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain("`nix` is not on PATH; install it (https://nixos.org/download");
	});
});

describe("virtual-machine", () => {
	test("without KVM it is refused before building", async () => {
		fixture("good");
		const run = await task(
			["virtual-machine"],
			`${OFFLINE}\nsystem-features = benchmark big-parallel`,
		);
		expect(run.exitCode).toBe(1);
		// Which advice depends on this machine: add the feature where /dev/kvm exists, else find KVM.
		expect(run.stderr).toContain(
			existsSync("/dev/kvm")
				? 'needs KVM: /dev/kvm exists, but nix does not list "kvm" in its system-features; add it'
				: 'needs KVM, but nix here has no "kvm" system feature (/dev/kvm is missing)',
		);
		expect(existsSync(out("virtual-machine", HOST, "result"))).toBe(false);
	});

	test("emulating another system cannot provide KVM", async () => {
		fixture("good");
		const run = await task(
			["virtual-machine", "--system", FOREIGN],
			`${WITH_KVM}\nextra-platforms = ${FOREIGN}`,
		);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(`which emulating ${FOREIGN} on ${HOST} cannot provide`);
	});

	test("with KVM it exposes nixos.img and image-info.json", async () => {
		const nonce = fixture("good");
		const run = await task(["virtual-machine"], WITH_KVM);
		expect(run.exitCode).toBe(0);
		const disk = readFileSync(out("virtual-machine", HOST, "nixos.img"));
		expect(disk.subarray(0, 60).toString()).toStartWith(`virtual-machine ${nonce}\n`);
		const info = JSON.parse(readFileSync(out("virtual-machine", HOST, "image-info.json"), "utf8"));
		expect(info).toMatchObject({
			system: HOST,
			boot_mode: "uefi",
			format: "RAW",
			logical_bytes: String(disk.length),
			sha256: new Bun.CryptoHasher("sha256").update(disk).digest("hex"),
		});
		expect(readlinkSync(out("virtual-machine", HOST, "image-info.json"))).toBe(
			"result/nix-support/image-info.json",
		);
	});
});

describe("images", () => {
	test("builds both images, each once", async () => {
		const nonce = fixture("good");
		const run = await task(["images"], WITH_KVM);
		expect(run.exitCode).toBe(0);
		expect(run.stderr.split(` build ${flake}#`)).toHaveLength(3);
		expect(ociText()).toContain(`oci-container ${nonce}\n`);
		expect(
			readFileSync(out("virtual-machine", HOST, "nixos.img"))
				.subarray(0, 60)
				.toString(),
		).toStartWith(`virtual-machine ${nonce}\n`);
	});
});

describe("clean --store", () => {
	test("deletes the images' store paths with their outputs, so a CI cache saved afterwards holds no image", async () => {
		fixture("good");
		expect((await task(["images"], WITH_KVM)).exitCode).toBe(0);
		const paths = ["oci-container", "virtual-machine"].map((kind) =>
			realpathSync(out(kind, HOST, "result")),
		);
		const run = await bunTask(["clean", "--system", HOST, "--store"], { cwd: project.dir });
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toContain("clean: deleted 2 image store path(s).");
		for (const path of paths) expect(existsSync(path)).toBe(false);
		expect(existsSync(out("oci-container", HOST))).toBe(false);
	});

	test("a result link whose store path is gone already is removed without complaint", async () => {
		const dir = out("oci-container", HOST);
		rmSync(dir, { recursive: true, force: true });
		mkdirSync(dir, { recursive: true });
		symlinkSync("/nix/store/00000000000000000000000000000000-gone", join(dir, "result"));
		const run = await bunTask(["clean", "--kind", "oci-container", "--store"], {
			cwd: project.dir,
		});
		expect(run.stderr).not.toContain("✗");
		expect(run.exitCode).toBe(0);
		expect(existsSync(dir)).toBe(false);
	});

	test("a path another GC root keeps alive is named, with how to find that root", async () => {
		fixture("good");
		expect((await task(["oci-container"])).exitCode).toBe(0);
		const path = realpathSync(out("oci-container", HOST, "result"));
		const other = join(project.dir, "other-root");
		const root = Bun.spawnSync(["nix-store", "--add-root", other, "--realise", path]);
		expect(root.exitCode).toBe(0);
		const run = await bunTask(["clean", "--kind", "oci-container", "--store"], {
			cwd: project.dir,
		});
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`✗ Task "clean" failed: ${path} is still kept alive by another GC root, so it was not deleted; \`nix-store --query --roots ${path}\` names it: remove that root and run the task again.`,
		);
		rmSync(other, { force: true });
	});
});

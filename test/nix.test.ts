/**
 * The Nix side, as far as it can be checked without nixpkgs: every file parses,
 * the flake's wiring evaluates against a stub nixpkgs, the pure parts evaluate,
 * and the scripts the checks and the image build run work on stand-in inputs.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NIX_FEATURES } from "../tasks/nix/cli.ts";
import { OFFLINE_NIX_CONFIG, REPO, requireTool, tempDir } from "./helpers.ts";

requireTool("nix", "apt-get install nix-bin");
requireTool("jq", "apt-get install jq");
requireTool("sqlite3", "apt-get install sqlite3");

const OFFLINE = { NIX_CONFIG: OFFLINE_NIX_CONFIG };
const NIX = ["nix", ...NIX_FEATURES];

function run(command: string[], cwd = REPO) {
	const result = Bun.spawnSync(command, {
		cwd,
		env: { ...process.env, ...OFFLINE },
		stderr: "pipe",
	});
	return {
		exitCode: result.exitCode,
		stdout: result.stdout.toString(),
		stderr: result.stderr.toString(),
	};
}

function ok(command: string[], cwd = REPO): string {
	const result = run(command, cwd);
	if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed:\n${result.stderr}`);
	return result.stdout;
}

describe("every tracked .nix file", () => {
	test("parses", () => {
		const files = ok(["git", "ls-files", "*.nix"]).trim().split("\n");
		expect(files).toContain("flake.nix");
		expect(files).toContain("nix/virtual-machine/configuration.nix");
		for (const file of files) {
			const parsed = run(["nix-instantiate", "--parse", file]);
			expect(parsed.stderr, file).toBe("");
			expect(parsed.exitCode, file).toBe(0);
		}
	});
});

describe("flake.nix against a stub nixpkgs", () => {
	// A copy of just the flake's files: a path flake, so untracked changes count and node_modules is not copied.
	const dir = tempDir("flake-eval");
	for (const entry of ["flake.nix", "flake.lock", "nix"])
		cpSync(join(REPO, entry), join(dir, entry), { recursive: true });
	afterAll(() => rmSync(dir, { recursive: true, force: true }));
	const evaluate = (attribute: string, apply?: string) =>
		JSON.parse(
			ok([
				...NIX,
				"eval",
				"--json",
				`path:${dir}#${attribute}`,
				"--override-input",
				"nixpkgs",
				`path:${join(REPO, "test/fixtures/nixpkgs-stub")}`,
				"--no-write-lock-file",
				...(apply ? ["--apply", apply] : []),
			]),
		);
	const names = "attrs: builtins.mapAttrs (name: value: builtins.attrNames value) attrs";

	test("builds every output for the systems in nix/systems.json", () => {
		const systems = ["aarch64-linux", "x86_64-linux"];
		expect(evaluate("packages", names)).toEqual(
			Object.fromEntries(systems.map((s) => [s, ["default", "oci-container", "virtual-machine"]])),
		);
		expect(evaluate("checks", names)).toEqual(
			Object.fromEntries(
				systems.map((s) => [
					s,
					["formatting", "oci-container-structure", "shell", "virtual-machine-system"],
				]),
			),
		);
		expect(evaluate("kvmChecks", names)).toEqual(
			Object.fromEntries(systems.map((s) => [s, ["oci-container-run", "virtual-machine-boot"]])),
		);
		expect(evaluate("devShells", names)).toEqual(
			Object.fromEntries(systems.map((s) => [s, ["default"]])),
		);
		expect(evaluate("formatter.x86_64-linux.package")).toBe("nixfmt-tree");
	});
	test("packages come from their files; the VM is the ec2-raw image variant", () => {
		expect(evaluate("packages.x86_64-linux.oci-container.package")).toBe("oci-container.nix");
		expect(evaluate("packages.aarch64-linux.default.package")).toBe("oci-container.nix");
		expect(evaluate("packages.aarch64-linux.virtual-machine.image")).toBe("ec2-raw");
		expect(evaluate("devShells.x86_64-linux.default.package")).toBe("dev-shell.nix");
	});
	test("each NixOS configuration is the EC2 module for its platform, with the raw image variant", () => {
		const modules = evaluate(
			"nixosConfigurations.aarch64-linux.modules",
			"ms: map (m: if builtins.isPath m then baseNameOf m else { platform = m.nixpkgs.hostPlatform; variant = baseNameOf m.image.modules.ec2-raw; }) ms",
		);
		expect(modules).toEqual([
			"configuration.nix",
			{ platform: "aarch64-linux", variant: "image.nix" },
		]);
	});
});

describe("nix/oci-container/etc.nix", () => {
	const evaluate = (expression: string) =>
		JSON.parse(ok(["nix-instantiate", "--eval", "--strict", "--json", "-E", expression]));
	const etc = evaluate("import ./nix/oci-container/etc.nix { }");
	test("has root, nobody and 32 nixbld build users in passwd, group and shadow", () => {
		const users = etc.passwd
			.trim()
			.split("\n")
			.map((line: string) => line.split(":")[0]);
		expect(users.slice(0, 2)).toEqual(["root", "nobody"]);
		expect(users.filter((u: string) => u.startsWith("nixbld"))).toHaveLength(32);
		expect(etc.passwd).toContain("root:x:0:0:System administrator:/root:/bin/bash\n");
		expect(etc.passwd).toContain("nixbld32:x:30032:30000:");
		expect(etc.group).toContain("nixbld:x:30000:nixbld1,nixbld2,");
		expect(etc.shadow.trim().split("\n")).toHaveLength(34);
		expect(etc.shadow).toContain("root:!:1::::::\n");
	});
	test("turns flakes on and the sandbox off, and points everything at the certificates", () => {
		expect(etc.nixConf).toContain("experimental-features = nix-command flakes\n");
		expect(etc.nixConf).toContain("sandbox = false\n");
		expect(etc.nixConf).toContain("build-users-group = nixbld\n");
		expect(etc.env).toMatchObject({
			USER: "root",
			HOME: "/root",
			SSL_CERT_FILE: "/etc/ssl/certs/ca-bundle.crt",
			NIX_SSL_CERT_FILE: "/etc/ssl/certs/ca-bundle.crt",
			GIT_SSL_CAINFO: "/etc/ssl/certs/ca-bundle.crt",
		});
	});
	test("a different number of build users is honoured", () => {
		const two = evaluate("(import ./nix/oci-container/etc.nix { buildUsers = 2; }).group");
		expect(two).toContain("nixbld:x:30000:nixbld1,nixbld2\n");
	});
});

describe("nix/oci-container/structure-check.sh", () => {
	const dir = tempDir("structure");
	afterAll(() => rmSync(dir, { recursive: true, force: true }));
	const archive = (broken?: string) => {
		const file = join(dir, `${broken ?? "good"}.tar.gz`);
		ok(["bash", "test/fixtures/oci-archive/make-archive.sh", file, ...(broken ? [broken] : [])]);
		return file;
	};
	const check = (file: string) => run(["bash", "nix/oci-container/structure-check.sh", file]);

	test("passes an archive laid out like the image", () => {
		const result = check(archive());
		expect(result.stderr).toBe("");
		expect(result.stdout).toContain("is sound (2 layers)");
	});
	test.each([
		["tmp", "/tmp is drwxr-xr-x, not drwxrwxrwt (1777)"],
		["db", "the Nix database registers no store paths"],
		["passwd", "/etc/passwd has no nixbld build users"],
		["shadow", "/etc/shadow is -rw-r--r--, not -rw-r-----"],
		["certs", "/etc/ssl/certs/ca-bundle.crt is missing"],
		["env", "the image config does not set SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"],
	])("fails when %s is wrong, saying what", (broken, message) => {
		const result = check(archive(broken));
		expect(result.exitCode).toBe(1);
		expect(result.stderr).toContain(message);
	});
	test("refuses a file that is not a docker-archive", () => {
		const file = join(dir, "empty.tar.gz");
		mkdirSync(join(dir, "empty"));
		writeFileSync(join(dir, "empty", "x"), "x");
		ok(["tar", "-czf", file, "-C", join(dir, "empty"), "x"]);
		expect(check(file).stderr).toContain("has no manifest.json: not a docker-archive");
	});
});

describe("nix/virtual-machine/image-info.sh", () => {
	test("writes nixpkgs' image-info fields plus format and sha256", () => {
		const dir = tempDir("image-info");
		const image = join(dir, "nixos.img");
		writeFileSync(image, Buffer.alloc(1024 * 1024, 7));
		const info = JSON.parse(
			ok([
				"bash",
				"nix/virtual-machine/image-info.sh",
				image,
				"26.05.20260616.567a49d",
				"aarch64-linux",
			]),
		);
		const sha256 = new Bun.CryptoHasher("sha256")
			.update(Buffer.alloc(1024 * 1024, 7))
			.digest("hex");
		expect(info).toEqual({
			label: "26.05.20260616.567a49d",
			system: "aarch64-linux",
			boot_mode: "uefi",
			format: "RAW",
			file: image,
			logical_bytes: "1048576",
			sha256,
			disks: { root: { file: image, logical_bytes: "1048576" } },
		});
		rmSync(dir, { recursive: true, force: true });
	});
});

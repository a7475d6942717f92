/**
 * The Nix side, as far as it can be checked without nixpkgs: every file parses,
 * the flake's wiring evaluates against a stub nixpkgs, the pure parts evaluate,
 * and the scripts the checks and the image build run work on stand-in inputs.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NIX_FEATURES } from "../tasks/nix/cli.ts";
import { wideLines } from "../tasks/nix/line-width.ts";
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
	const files = ok(["git", "ls-files", "*.nix"]).trim().split("\n");
	test("parses", () => {
		expect(files).toContain("flake.nix");
		expect(files).toContain("nix/virtual-machine/configuration.nix");
		for (const file of files) {
			const parsed = run(["nix-instantiate", "--parse", file]);
			expect(parsed.stderr, file).toBe("");
			expect(parsed.exitCode, file).toBe(0);
		}
	});
	test("stays within nixfmt's line width", () => {
		for (const file of files) {
			expect(wideLines(readFileSync(join(REPO, file), "utf8")), file).toEqual([]);
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
		expect(
			evaluate("legacyPackages", "ps: builtins.mapAttrs (s: p: builtins.attrNames p.kvmChecks) ps"),
		).toEqual(
			Object.fromEntries(systems.map((s) => [s, ["oci-container-run", "virtual-machine-boot"]])),
		);
		expect(evaluate("devShells", names)).toEqual(
			Object.fromEntries(systems.map((s) => [s, ["default"]])),
		);
		expect(evaluate("formatter.x86_64-linux.package")).toBe("nixfmt-tree");
	});
	test("has only outputs nix flake check knows: the KVM checks are legacyPackages", () => {
		const show = JSON.parse(
			ok([
				...NIX,
				"flake",
				"show",
				"--json",
				`path:${dir}`,
				"--override-input",
				"nixpkgs",
				`path:${join(REPO, "test/fixtures/nixpkgs-stub")}`,
				"--no-write-lock-file",
			]),
		);
		expect(Object.keys(show).sort()).toEqual([
			"checks",
			"devShells",
			"formatter",
			"legacyPackages",
			"nixosConfigurations",
			"nixosModules",
			"packages",
		]);
	});
	describe("the KVM boot check", () => {
		const marker = JSON.parse(readFileSync(join(REPO, "nix/boot-marker.json"), "utf8"));
		const script = (system: string) =>
			evaluate(`legacyPackages.${system}.kvmChecks.virtual-machine-boot.testScript`) as string;
		test.each([
			["x86_64-linux", "qemu-kvm -m 1536", "-serial chardev:ec2console"],
			[
				"aarch64-linux",
				"qemu-system-aarch64 -machine virt,gic-version=max -cpu host -enable-kvm -m 1536",
				"-device pci-serial,chardev=ec2console",
			],
		])(
			"on %s attaches the disk as NVMe and waits for the boot marker on ttyS0, then stops the VM",
			(system, qemu, serial) => {
				const test = script(system);
				expect(test).toContain(`"${qemu}"`);
				expect(test).toContain('f" -drive file={disk},if=none,id=root,format=qcow2"');
				expect(test).toContain('" -device nvme,serial=root,drive=root"');
				expect(test).not.toContain("if=virtio");
				expect(test).toContain(`" ${serial}"`);
				expect(test).toContain(`f" -chardev file,id=ec2console,path={console}"`);
				expect(test).toContain(`re.escape(${JSON.stringify(marker)})`);
				expect(test).toContain("root file system (\\d+) bytes");
				expect(test).toContain(
					"finally:\n    # Machines of create_machine are not released by the driver.\n    machine.release()",
				);
			},
		);
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

describe("nix/virtual-machine/configuration.nix", () => {
	// The module as a function of stand-in arguments: its own settings, without nixpkgs' modules.
	const module = JSON.parse(
		ok([
			"nix-instantiate",
			"--eval",
			"--strict",
			"--json",
			"-E",
			`(import ./nix/virtual-machine/configuration.nix {
				config.system.nixos.label = "26.05.20260616.567a49d";
				lib.mkForce = value: value;
				pkgs = { coreutils = "/coreutils"; bash = "/bash"; stdenv.hostPlatform.system = "x86_64-linux"; };
				modulesPath = "/modules";
			}) // { imports = null; }`,
		]),
	);
	const marker = JSON.parse(readFileSync(join(REPO, "nix/boot-marker.json"), "utf8"));

	test("prints the boot marker on the console once root, network, sshd and the SSM agent are up", () => {
		const service = module.systemd.services["boot-marker"];
		expect(service.wantedBy).toEqual(["multi-user.target"]);
		expect(service.after).toEqual(
			expect.arrayContaining([
				"network-online.target",
				"local-fs.target",
				"growpart.service",
				"sshd.service",
				"amazon-ssm-agent.service",
			]),
		);
		expect(service.serviceConfig.StandardOutput).toBe("journal+console");
		expect(service.script).toContain(
			`echo "${marker} NixOS 26.05.20260616.567a49d (x86_64-linux), root file system $root bytes"`,
		);
	});
	test("runs user-data scripts itself instead of amazon-init, which needs a channel", () => {
		expect(module.virtualisation["amazon-init"].enable).toBe(false);
		const service = module.systemd.services["user-data"];
		expect(service.requires).toEqual(["fetch-ec2-metadata.service"]);
		expect(service.script).toMatch(
			/exec \/bash\/bin\/bash \/nix\/store\/\w+-user-data\.sh \/etc\/ec2-metadata\/user-data "\$RUNTIME_DIRECTORY"/,
		);
		expect(service.serviceConfig.RuntimeDirectoryMode).toBe("0700");
	});
	test("sets no EFI variables option it does not need", () => {
		expect(module.boot.loader.efi).toBeUndefined();
	});
});

describe("nix/virtual-machine/user-data.sh", () => {
	const dir = tempDir("user-data");
	afterAll(() => rmSync(dir, { recursive: true, force: true }));
	const userData = join(dir, "user-data");
	const runWith = (content: string | Uint8Array) => {
		writeFileSync(userData, content);
		const work = tempDir("user-data-work");
		const result = run(["bash", "nix/virtual-machine/user-data.sh", userData, work]);
		rmSync(work, { recursive: true, force: true });
		return result;
	};
	const marker = join(dir, "ran");

	test("runs a #! script", () => {
		const result = runWith(`#!/bin/sh\necho "ran as $(id -un)" > ${marker}\n`);
		expect(result.exitCode).toBe(0);
		expect(result.stdout).toBe("user-data: running the script with /bin/sh.\n");
		// As whoever runs it: root at boot, the tester here.
		const me = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();
		expect(readFileSync(marker, "utf8")).toBe(`ran as ${me}\n`);
		rmSync(marker);
	});
	test("runs a gzipped script, as tools upload it", () => {
		const result = runWith(Bun.gzipSync(`#!/bin/sh\necho gz > ${marker}\n`));
		expect(result.exitCode).toBe(0);
		expect(readFileSync(marker, "utf8")).toBe("gz\n");
		rmSync(marker);
	});
	test("runs a script for an sh or bash that is not there with bash", () => {
		const result = runWith(`#!/no/such/bash -e\necho "$BASH_VERSION" > ${marker}\n`);
		expect(result.exitCode).toBe(0);
		expect(result.stdout).toContain(
			"/no/such/bash does not exist here; running the script with bash.",
		);
		expect(readFileSync(marker, "utf8")).not.toBe("\n");
		rmSync(marker);
	});
	test("ignores cloud-config and anything else that is not a script, saying so", () => {
		const result = runWith("#cloud-config\npackages: [git]\n");
		expect(result.exitCode).toBe(0);
		expect(result.stdout).toBe(
			"user-data: it is not a script (it does not start with #!), so it was ignored; this image runs only #! scripts, not cloud-config or Nix expressions.\n",
		);
	});
	test("says so when there is none, and fails for an interpreter the image lacks", () => {
		expect(runWith("").stdout).toBe("user-data: none was given.\n");
		const missing = runWith("#!/usr/bin/python9\nprint(1)\n");
		expect(missing.exitCode).toBe(1);
		expect(missing.stderr).toContain(
			"the script's interpreter /usr/bin/python9 does not exist on this image;",
		);
	});
});
